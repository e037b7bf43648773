"""The deployment descriptor: rendered per host, HTTP runtime endpoints under the base URL,
scopes exactly the add-on's (UI-2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from server.surfaces.gmail_addon.deployment import (
    BASE_SCOPES,
    SEND_SCOPE,
    deployment_problems,
    gmail,
    render_deployment,
)


def test_rendered_descriptor_calls_our_endpoints_with_the_least_scopes():
    document = render_deployment("https://crm.example.com/")

    assert document["oauthScopes"] == list(BASE_SCOPES)
    common, gmail_part = document["addOns"]["common"], document["addOns"]["gmail"]
    assert common["name"] == "Liaison"
    assert common["logoUrl"] == "https://crm.example.com/static/icons/icon-128.png"
    assert common["homepageTrigger"]["runFunction"] == "https://crm.example.com/gmail/homepage"
    [contextual] = gmail_part["contextualTriggers"]
    assert contextual == {"unconditional": {},
                          "onTriggerFunction": "https://crm.example.com/gmail/message"}  # fmt: skip
    [compose] = gmail_part["composeTrigger"]["actions"]
    assert compose["runFunction"] == "https://crm.example.com/gmail/compose"
    assert gmail_part["composeTrigger"]["draftAccess"] == "METADATA"
    assert document["addOns"]["httpOptions"] == {"authorizationHeader": "SYSTEM_ID_TOKEN"}
    assert deployment_problems(document, "https://crm.example.com") == []


def test_gmail_send_scope_only_when_asked():
    document = render_deployment("https://crm.example.com", with_send=True)

    assert set(document["oauthScopes"]) == {*BASE_SCOPES, SEND_SCOPE}


def test_a_descriptor_with_an_extra_scope_or_a_foreign_endpoint_is_reported():
    document = render_deployment("https://crm.example.com")
    document["oauthScopes"].append("https://mail.google.com/")
    document["addOns"]["gmail"]["contextualTriggers"][0]["onTriggerFunction"] = (
        "https://evil.example/gmail/message"
    )

    problems = deployment_problems(document, "https://crm.example.com")

    assert "oauthScopes must be exactly the add-on's scopes" in problems
    assert "the message trigger must call https://crm.example.com/gmail/message" in problems
    assert "https://evil.example/gmail/message is not under https://crm.example.com" in problems


@pytest.mark.parametrize("base", ["http://crm.example.com", "crm.example.com", "https://x/?a=1"])
def test_base_url_must_be_https(base):
    with pytest.raises(ValueError):
        render_deployment(base)


def test_cli_prints_the_descriptor(tmp_path):
    result = CliRunner().invoke(gmail, ["--base-url", "https://crm.example.com"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["addOns"]["common"]["homepageTrigger"]["runFunction"].startswith(
        "https://crm.example.com/"
    )
    out = tmp_path / "deployment.json"
    result = CliRunner().invoke(gmail, ["--base-url", "https://h.example", "-o", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["oauthScopes"] == list(BASE_SCOPES)


def test_cli_refuses_a_plain_http_base_url():
    result = CliRunner().invoke(gmail, ["--base-url", "http://crm.example.com"])

    assert result.exit_code != 0
    assert "https://" in result.output


def test_liaison_manifest_gmail_is_wired():
    from server.surfaces.manifest_cli import manifest

    result = CliRunner().invoke(manifest, ["gmail", "--base-url", "https://crm.example.com"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["oauthScopes"] == list(BASE_SCOPES)
