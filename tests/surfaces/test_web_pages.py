"""Web app pages through Flask's test client: sign-in and sign-out (demo, CSRF, loopback only),
redirects, record lists and details, tenant isolation, HTML errors (UI-3)."""

from __future__ import annotations

import re

import pytest

from server.extensions import db
from server.orgs.settings import set_org_settings
from server.records.models import CustomObjectType, CustomRecord
from tests.factories import (
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)

PAGES = ["/", "/contacts", "/companies", "/deals", "/tickets", "/settings", "/contacts/1"]


def sign_in(client, user) -> str:
    """Start a web session for `user` the way the sign-in page does; returns its CSRF token."""
    with client.session_transaction() as cookie:
        cookie["user_id"] = user.id
        cookie["csrf"] = "csrf-for-tests"
    return "csrf-for-tests"


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def demo_mode(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO", True)


@pytest.fixture
def crm(app):
    """One org with a rep, a contact with two addresses, its company, a deal, a ticket and a
    custom record, all associated; and another org with its own records."""
    org = make_org("Acme", time_zone="Europe/Berlin")
    rep = make_user(org, "rep", name="Rita Rep")
    other_rep = make_user(org, "rep", name="Otto Other")
    company = make_company(org, "Globex Ltd", domains=["globex.example"], owner=rep)
    contact = make_contact(
        org, ["ann@globex.example", "ann.home@mail.example"], owner=rep, company=company,
        first_name="Ann", last_name="Archer", lifecycle_stage="customer",
    )  # fmt: skip
    deal = make_deal(org, "Globex renewal", owner=rep, stage="contract_sent")
    closed = make_deal(org, "Globex old deal", owner=rep, is_closed=True, stage="closed_won")
    theirs = make_deal(org, "Otto's deal", owner=other_rep)
    ticket = make_ticket(org, "Printer on fire", owner=rep)
    vehicle = CustomObjectType(
        org_id=org.id, name="vehicle", label="Vehicle", plural_label="Vehicles",
        display_property="plate",
        property_schema=[{"name": "plate", "label": "Plate", "type": "text", "required": True,
                          "options": None},
                         {"name": "electric", "label": "Electric", "type": "bool",
                          "required": False, "options": None}],
    )  # fmt: skip
    db.session.add(vehicle)
    db.session.flush()
    car = CustomRecord(
        org_id=org.id, type_id=vehicle.id, properties={"plate": "B-XY 42", "electric": True}
    )
    db.session.add(car)
    db.session.commit()
    for left, right in [(contact, deal), (contact, ticket), (contact, car), (deal, company)]:
        associate(org, left, right)

    other = make_org("Other Inc")
    stranger = make_user(other, "admin", name="Stan Stranger")
    foreign = {
        "contact": make_contact(other, "x@other.example"),
        "company": make_company(other, "Other Co"),
        "deal": make_deal(other, "Other deal"),
        "ticket": make_ticket(other, "Other ticket"),
    }
    return {
        "org": org, "rep": rep, "company": company, "contact": contact, "deal": deal,
        "closed": closed, "theirs": theirs, "ticket": ticket, "vehicle": vehicle, "car": car,
        "stranger": stranger, "foreign": foreign,
    }  # fmt: skip


@pytest.mark.parametrize("path", PAGES + ["/custom/1", "/custom/1/1"])
def test_pages_redirect_to_signin_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/signin?next=")


def test_demo_signin_lists_users_and_signs_in_with_csrf(client, crm, demo_mode):
    page = client.get("/signin?next=/deals")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Sign in as Rita Rep" in html and "Sign in as Stan Stranger" in html
    refused = client.post("/signin", data={"user_id": crm["rep"].id})
    assert refused.status_code == 403
    assert "text/html" in refused.content_type
    assert client.get("/").status_code == 302  # still signed out

    form = {"csrf_token": csrf_from(html), "user_id": crm["rep"].id, "next": "/deals"}
    response = client.post("/signin", data=form)
    assert response.status_code == 303 and response.location == "/deals"
    home = client.get("/")
    assert home.status_code == 200
    assert "Hello, Rita" in home.get_data(as_text=True)


def test_demo_signin_goes_only_to_local_paths(client, crm, demo_mode):
    token = csrf_from(client.get("/signin").get_data(as_text=True))
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil.example"]:
        form = {"csrf_token": token, "user_id": crm["rep"].id, "next": target}
        response = client.post("/signin", data=form)
        assert response.location == "/"
        token = csrf_from(client.get("/signin").get_data(as_text=True))  # a new session


def test_demo_signin_refuses_requests_not_from_loopback(client, crm, demo_mode):
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    page = client.get("/signin", environ_base=remote)
    assert page.status_code == 403
    assert "loopback" in page.get_data(as_text=True)
    token = csrf_from(client.get("/signin").get_data(as_text=True))
    form = {"csrf_token": token, "user_id": crm["rep"].id}
    assert client.post("/signin", data=form, environ_base=remote).status_code == 403
    assert client.get("/").status_code == 302
    ipv6 = client.post("/signin", data=form, environ_base={"REMOTE_ADDR": "::1"})
    assert ipv6.status_code == 303


def test_signin_outside_demo_mode_explains_and_refuses_the_picker(client, crm):
    page = client.get("/signin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "LIAISON_MS_CLIENT_ID" in html and "Bearer" in html  # no provider configured yet
    assert "Rita Rep" not in html and "provider-button" not in html
    response = client.post("/signin", data={"csrf_token": "x", "user_id": crm["rep"].id})
    assert response.status_code == 404
    assert client.get("/").status_code == 302


def test_signin_offers_the_configured_identity_providers(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MS_CLIENT_ID", "client-id")
    monkeypatch.setitem(app.config, "MS_CLIENT_SECRET", "client-secret")
    html = client.get("/signin?next=/deals").get_data(as_text=True)
    assert 'href="/auth/signin/microsoft?next=/deals"' in html
    assert "Sign in with Microsoft" in html and "Sign in with Google" not in html
    assert "LIAISON_MS_CLIENT_ID" not in html


def test_signout_needs_the_csrf_token(client, crm):
    token = sign_in(client, crm["rep"])
    assert client.post("/signout").status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    response = client.post("/signout", data={"csrf_token": token})
    assert response.status_code == 303 and response.location == "/signin"
    assert client.get("/").status_code == 302


def test_home_shows_counts_and_my_open_work(client, crm):
    sign_in(client, crm["rep"])
    html = client.get("/").get_data(as_text=True)
    assert "Globex renewal" in html and "Printer on fire" in html
    assert "Globex old deal" not in html  # closed
    assert "Otto&#39;s deal" not in html and "Otto's deal" not in html  # not mine
    assert re.search(r'stat-number">1</span> contacts', html)
    assert re.search(r'stat-number">2</span> open deals', html)


def test_contact_page_shows_addresses_owner_company_and_associations(client, crm):
    sign_in(client, crm["rep"])
    response = client.get(f"/contacts/{crm['contact'].id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ["Ann Archer", "ann@globex.example", "ann.home@mail.example", "Rita Rep",
                 "Globex Ltd", "Globex renewal", "Printer on fire", "B-XY 42", "Vehicles",
                 "Customer"]:  # fmt: skip
        assert text in html, text
    assert f'href="/deals/{crm["deal"].id}"' in html
    assert f'href="/companies/{crm["company"].id}"' in html
    assert f'href="/custom/{crm["vehicle"].id}/{crm["car"].id}"' in html


def test_every_record_page_renders(client, crm):
    sign_in(client, crm["rep"])
    vehicle, car = crm["vehicle"].id, crm["car"].id
    expected = {
        "/contacts": "Ann Archer",
        "/companies": "globex.example",
        "/deals": "Globex renewal",
        "/tickets": "Printer on fire",
        f"/companies/{crm['company'].id}": "Globex renewal",
        f"/deals/{crm['deal'].id}": "Contract sent",
        f"/tickets/{crm['ticket'].id}": "Ann Archer",
        f"/custom/{vehicle}": "B-XY 42",
        f"/custom/{vehicle}/{car}": "Ann Archer",
        "/settings": "Log emails by default",
    }
    for path, text in expected.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert text in response.get_data(as_text=True), path


def test_another_orgs_ids_are_a_404_page(client, crm):
    sign_in(client, crm["rep"])
    foreign = crm["foreign"]
    paths = [
        f"/contacts/{foreign['contact'].id}",
        f"/companies/{foreign['company'].id}",
        f"/deals/{foreign['deal'].id}",
        f"/tickets/{foreign['ticket'].id}",
        "/contacts/999999",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "text/html" in response.content_type
        assert "Not found" in response.get_data(as_text=True)
    sign_in(client, crm["stranger"])
    for path in [f"/custom/{crm['vehicle'].id}", f"/custom/{crm['vehicle'].id}/{crm['car'].id}"]:
        assert client.get(path).status_code == 404, path


def test_contacts_are_searchable_and_paginated_by_cursor(client, app):
    org = make_org()
    rep = make_user(org, name="Rita Rep")
    for i in range(30):
        make_contact(org, f"person{i}@example.org", first_name=f"Person{i:02d}", last_name="Z")
    make_contact(org, "needle@example.org", first_name="Nadia", last_name="Needle")
    sign_in(client, rep)
    first = client.get("/contacts").get_data(as_text=True)
    assert first.count('<th scope="row">') == 25
    next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert second.count('<th scope="row">') == 6
    assert 'rel="next"' not in second and "First page" in second
    found = client.get("/contacts?q=needle").get_data(as_text=True)
    assert "Nadia Needle" in found and found.count('<th scope="row">') == 1
    bad = client.get("/contacts?cursor=not-a-cursor")
    assert bad.status_code == 400 and "text/html" in bad.content_type


def test_settings_page_marks_what_the_org_locks(client, crm):
    admin = make_user(crm["org"], "super_admin")
    set_org_settings(admin, {"apply_default_log": True, "log_by_default": False})
    sign_in(client, crm["rep"])
    html = client.get("/settings").get_data(as_text=True)
    row = re.search(r"Log emails by default</th>(.*?)</tr>", html, re.S).group(1)
    assert "Off" in row and "Set by your organization" in row
    row = re.search(r"Track emails by default</th>(.*?)</tr>", html, re.S).group(1)
    assert "Your choice" in row


def test_api_errors_stay_json(client, crm):
    sign_in(client, crm["rep"])
    response = client.get("/api/contacts/999999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
