"""Never-log lists and internal mail (LOG-6)."""

from __future__ import annotations

from sqlalchemy import func, select

from server.emails.models import LoggedEmail
from server.emails.never_log import domain_matches
from server.emails.service import log_email
from server.extensions import db
from server.orgs.settings import set_org_settings, set_user_settings
from tests.emails.conftest import b64, sample
from tests.factories import ApiClient, make_org, make_user


def logged() -> int:
    return db.session.scalar(select(func.count()).select_from(LoggedEmail))


def test_a_domain_entry_matches_itself_and_its_subdomains_only():
    assert domain_matches("example.com", "example.com")
    assert domain_matches("sales.example.com", "example.com")
    assert domain_matches("A.B.Example.COM", "example.com")
    assert not domain_matches("badexample.com", "example.com")
    assert not domain_matches("example.com.evil.org", "example.com")
    assert not domain_matches("example.com", "sales.example.com")


def test_org_domain_list_covers_subdomains(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    set_org_settings(None, {"never_log_domains": ["client.com"]}, org_id=org.id)
    raw = sample("latin1.eml").replace(b"@client.test", b"@client.com")
    result = log_email(alice, raw=raw)
    assert result.status == "not_logged" and result.email is None
    assert result.reason == "not logged: every other party is on a never-log list"
    sub = raw.replace(b"@client.com", b"@eu.client.com")
    assert log_email(alice, raw=sub).status == "not_logged"
    near = raw.replace(b"@client.com", b"@badclient.com")
    assert log_email(alice, raw=near).status == "logged"
    assert logged() == 1


def test_user_address_list_and_partial_matches(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    set_user_settings(alice, {"user_never_log_addresses": ["Carol@Client.com"]})
    raw = sample("calendar_invite.eml").replace(b"carol@client.test", b"carol@client.com")
    result = log_email(alice, raw=raw)  # to bob and carol
    assert result.status == "logged" and result.never_logged == ["carol@client.com"]
    assert len(result.created_contact_ids) == 1  # bob only: carol gets no contact
    other = make_user(org, email="otto@acme.test")
    assert log_email(other, raw=sample("windows1252.eml")).status == "logged"  # not Alice's list


def test_user_domain_list_through_the_api(app, client):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    set_user_settings(alice, {"user_never_log_domains": ["client.jp"]})
    response = ApiClient(client, alice).post(
        "/api/emails/log", json={"raw": b64(sample("iso2022jp.eml"))}
    )
    assert response.status_code == 200
    assert response.json["status"] == "not_logged" and response.json["email"] is None
    assert response.json["reason"].startswith("not logged:")
    assert logged() == 0


def test_internal_mail_is_not_logged(app):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    raw = (
        b"From: alice@acme.test\r\nTo: carl@acme.test, dora@eu.acme.test\r\n"
        b"Subject: lunch\r\nMessage-ID: <lunch@acme.test>\r\n\r\nNoon?\r\n"
    )
    result = log_email(alice, raw=raw)
    assert result.status == "not_logged" and "internal mail" in result.reason
    to_self = raw.replace(b"carl@acme.test, dora@eu.acme.test", b"alice@acme.test")
    assert "no other parties" in log_email(alice, raw=to_self).reason
    mixed = raw.replace(b"dora@eu.acme.test", b"bob@customer.test")
    assert log_email(alice, raw=mixed).status == "logged"
    assert logged() == 1


def test_preview_reports_never_logged(app, client):
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    set_org_settings(None, {"never_log_addresses": ["ceo@customer.com"]}, org_id=org.id)
    response = ApiClient(client, alice).post(
        "/api/emails/associations/preview",
        json={"addresses": ["ceo@customer.com", "x@customer.test"]},
    )
    assert response.json["never_logged"] == ["ceo@customer.com"]
    assert [n["email"] for n in response.json["new_contacts"]] == ["x@customer.test"]
