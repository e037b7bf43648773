"""POST /inbound/mime (LOG-2, BULK-10): HMAC-signed raw MIME per org, stale and replayed
signatures refused, size limit, and the same routing as the SMTP listener."""

from __future__ import annotations

import time

import pytest
from factories import ApiClient, make_org, make_user
from flask import current_app

from server.extensions import db
from server.mail.bounces import verp_address
from server.mail.inbound_addresses import logging_address
from server.mail.inbound_auth import sign
from server.mail.inbound_models import DeadLetter

from .inbound_world import handler, outbox_row, recorder, sample


@pytest.fixture
def org_secret(app, client):
    org = make_org()
    admin = ApiClient(client, make_user(org, role="admin"))
    response = admin.post("/api/inbound/secret")
    assert response.status_code == 201
    return org, response.get_json()["secret"]


def post(client, org_id, secret, body: bytes, timestamp=None, signature=None, **headers):
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    return client.post(
        "/inbound/mime",
        data=body,
        content_type=headers.pop("content_type", "message/rfc822"),
        headers={
            "X-Liaison-Org": str(org_id),
            "X-Liaison-Timestamp": timestamp,
            "X-Liaison-Signature": signature or sign(secret, timestamp, body),
            **headers,
        },
    )


def test_a_signed_message_to_a_logging_address_is_routed(app, client, org_secret):
    org, secret = org_secret
    user = make_user(org)
    seen: list = []
    with handler("log", recorder(seen)):
        response = post(
            client, org.id, secret, sample("bcc_logged.eml"),
            **{"X-Liaison-Recipients": logging_address(user.id)},
        )  # fmt: skip
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert (body["status"], body["dead_letter_id"]) == ("routed", None)
    assert [(d.user_id, d.source) for d in seen] == [(user.id, "http")]


def test_without_listed_recipients_the_delivered_to_header_is_used(app, client, org_secret):
    org, secret = org_secret
    address = logging_address(make_user(org).id)
    raw = f"Delivered-To: {address}\r\n".encode() + sample("bcc_logged.eml")
    seen: list = []
    with handler("log", recorder(seen)):
        response = post(client, org.id, secret, raw)
    assert response.get_json()["status"] == "routed"
    assert len(seen) == 1


def test_a_dsn_posted_by_the_org_marks_its_bounce(app, client, org_secret):
    org, secret = org_secret
    row = outbox_row(org, "ghost@example.org")
    response = post(
        client, org.id, secret, sample("exim.eml"), **{"X-Liaison-Recipients": verp_address(row.id)}
    )
    assert response.get_json()["status"] == "routed"
    db.session.refresh(row)
    assert row.state == "bounced"


def test_an_org_cannot_deliver_to_another_orgs_logging_address(app, client, org_secret):
    org, secret = org_secret
    foreign = logging_address(make_user(make_org()).id)
    with handler("log", recorder([])):
        response = post(
            client, org.id, secret, sample("bcc_logged.eml"), **{"X-Liaison-Recipients": foreign}
        )
    body = response.get_json()
    assert (response.status_code, body["status"]) == (202, "dead_letter")
    assert body["reason"] == f"unknown logging address {foreign}"
    assert db.session.get(DeadLetter, body["dead_letter_id"]).org_id == org.id


def test_a_bad_signature_is_refused(app, client, org_secret):
    org, secret = org_secret
    body = sample("bcc_logged.eml")
    response = post(client, org.id, secret, body, signature=sign(secret, 1, body))
    assert response.status_code == 401
    assert response.get_json()["error"]["field"] == "X-Liaison-Signature"
    tampered = post(
        client, org.id, secret, body + b"x", signature=sign(secret, int(time.time()), body)
    )
    assert tampered.status_code == 401
    other_org, other_secret = make_org(), "lis_" + "0" * 64
    assert post(client, other_org.id, other_secret, body).status_code == 401  # no secret made
    assert db.session.query(DeadLetter).count() == 0


def test_a_stale_or_future_timestamp_is_refused(app, client, org_secret):
    org, secret = org_secret
    body = sample("bcc_logged.eml")
    for timestamp in (int(time.time()) - 301 - 5, int(time.time()) + 600):
        response = post(client, org.id, secret, body, timestamp=timestamp)
        assert response.status_code == 401
        assert response.get_json()["error"]["field"] == "X-Liaison-Timestamp"
    assert post(client, org.id, secret, body, timestamp="yesterday").status_code == 401


def test_a_replayed_signature_is_refused(app, client, org_secret):
    org, secret = org_secret
    body = sample("bcc_logged.eml")
    timestamp = int(time.time())
    first = post(client, org.id, secret, body, timestamp=timestamp)
    again = post(client, org.id, secret, body, timestamp=timestamp)
    assert first.status_code == 202
    assert again.status_code == 401
    assert "replay" in again.get_json()["error"]["message"]
    assert post(client, org.id, secret, body, timestamp=timestamp + 1).status_code == 202


def test_an_oversized_message_is_refused_with_413(app, client, org_secret, monkeypatch):
    org, secret = org_secret
    monkeypatch.setitem(current_app.config, "INBOUND_MAX_BYTES", 2000)
    body = sample("bcc_logged.eml") + b"x" * 2000
    response = post(client, org.id, secret, body)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert (error["code"], error["size_limit"]) == ("payload_too_large", 2000)
    assert "2000 bytes" in error["message"]
    assert db.session.query(DeadLetter).count() == 0


def test_the_body_must_be_message_rfc822(app, client, org_secret):
    org, secret = org_secret
    response = post(client, org.id, secret, b"{}", content_type="application/json")
    assert response.status_code == 415
    assert "message/rfc822" in response.get_json()["error"]["message"]


def test_rotating_the_secret_retires_the_old_one_and_needs_an_admin(app, client, org_secret):
    org, old = org_secret
    admin = ApiClient(client, make_user(org, role="admin"))
    new = admin.post("/api/inbound/secret").get_json()["secret"]
    assert new != old
    body = sample("bcc_logged.eml")
    assert post(client, org.id, old, body).status_code == 401
    assert post(client, org.id, new, body).status_code == 202
    rep = ApiClient(client, make_user(org))
    assert rep.post("/api/inbound/secret").status_code == 403
