"""The add-in's files and pane helper over HTTP (UI-1, TRK-5): the Office.js switch, the absolute
origin in scripts, no file outside addin/, the well-known file for the event runtime, and a sent
message's tracking status relayed from tracking's service."""

from __future__ import annotations

import pytest

from server.config import Config
from server.surfaces.outlook import OFFICE_JS_URL
from tests.factories import ApiClient, make_org, make_user


def test_pane_loads_office_js_from_microsofts_cdn_by_default(app, client, monkeypatch):
    monkeypatch.delenv("LIAISON_OFFICE_JS_URL", raising=False)
    monkeypatch.setitem(app.config, "OFFICE_JS_URL", None)
    page = client.get("/addin/taskpane.html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert f'<script src="{OFFICE_JS_URL}"></script>' in page.text
    assert OFFICE_JS_URL.startswith("https://appsforoffice.microsoft.com/")


def test_office_js_url_is_configurable_from_the_environment(app, client, monkeypatch):
    monkeypatch.setenv("LIAISON_OFFICE_JS_URL", "http://127.0.0.1:9/office.js")
    monkeypatch.setitem(app.config, "OFFICE_JS_URL", Config.from_env().OFFICE_JS_URL)
    for page in ("taskpane.html", "commands.html", "dialog.html"):
        assert (
            '<script src="http://127.0.0.1:9/office.js"></script>'
            in client.get(f"/addin/{page}").text
        )


def test_scripts_carry_the_service_origin_for_the_javascript_only_runtime(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://crm.example.com")
    script = client.get("/addin/commands.js", base_url="https://crm.example.com")
    assert script.mimetype == "text/javascript"
    assert 'var BASE = "https://crm.example.com";' in script.text
    assert "__LIAISON_BASE_URL__" not in script.text
    pane = client.get("/addin/taskpane.html", base_url="https://crm.example.com").text
    assert 'src="https://crm.example.com/addin/commands.js"' in pane


@pytest.mark.parametrize(
    "path", ["/addin/../server/cli.py", "/addin/%2e%2e/pyproject.toml", "/addin/nothing.js",
             "/addin/taskpane.txt", "/addin/"],
)  # fmt: skip
def test_only_the_add_ins_own_files_are_served(client, path):
    assert client.get(path).status_code == 404


def test_well_known_file_allows_the_add_in_origin(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://crm.example.com")
    answer = client.get(
        "/.well-known/microsoft-officeaddins-allowed.json", base_url="https://crm.example.com"
    )
    assert answer.status_code == 200
    assert answer.json == {"allowed": ["https://crm.example.com/addin/"]}


def test_pane_helper_needs_a_signed_in_user(client):
    assert client.get("/api/addin/tracking-status?message_id=x").status_code == 401


def test_tracking_status_of_an_unknown_message_is_empty(app, client):
    org = make_org("Contoso")
    api = ApiClient(client, make_user(org, email="rep@contoso.example"))
    answer = api.get("/api/addin/tracking-status?message_id=%3Cnone%40example.com%3E")
    assert answer.status_code == 200
    assert answer.json == {"available": True, "reason": None, "status": None}


def test_tracking_status_needs_a_message_id(app, client):
    org = make_org("Contoso")
    api = ApiClient(client, make_user(org, email="rep@contoso.example"))
    answer = api.get("/api/addin/tracking-status")
    assert answer.status_code == 422
    assert "message_id" in str(answer.json)
