"""Inbound routing (LOG-2, BULK-10): logging addresses and their tokens, handlers, unsubscribe,
no route, malformed MIME, and dead letters listed and retried by admins."""

from __future__ import annotations

import re

import pytest
from factories import ApiClient, make_org, make_user
from flask import current_app

from server.extensions import db
from server.mail.dead_letters import retry_dead_letter
from server.mail.inbound import route_inbound
from server.mail.inbound_addresses import (
    logging_address,
    rotate_logging_address,
    user_for_logging_token,
)
from server.mail.inbound_models import DeadLetter
from server.mail.suppression import is_suppressed, suppress

from .inbound_world import handler, recorder, sample


def domain() -> str:
    return current_app.config["INBOUND_DOMAIN"]


def test_logging_tokens_are_random_url_safe_unique_and_stable(app):
    org = make_org()
    ann, ben = make_user(org), make_user(org)
    first = logging_address(ann.id)
    assert first == logging_address(ann.id)
    assert logging_address(ben.id) != first
    token = re.fullmatch(rf"log\+([a-z2-7]{{24}})@{re.escape(domain())}", first).group(1)
    assert user_for_logging_token(token).id == ann.id
    assert user_for_logging_token(token.upper()).id == ann.id  # relays may upper-case


def test_rotating_invalidates_the_old_logging_address(app):
    org = make_org()
    user = make_user(org)
    old = logging_address(user.id)
    new = rotate_logging_address(user.id)
    assert new != old
    seen: list = []
    with handler("log", recorder(seen)):
        refused = route_inbound(sample("bcc_logged.eml"), [old], "smtp")
        taken = route_inbound(sample("bcc_logged.eml"), [new], "smtp")
    assert refused.status == "dead_letter" and refused.reason == f"unknown logging address {old}"
    assert taken.status == "routed"
    assert [d.user_id for d in seen] == [user.id]


def test_logging_address_without_a_handler_is_dead_lettered_not_dropped(app):
    org = make_org()
    address = logging_address(make_user(org).id)
    raw = sample("bcc_logged.eml")
    with handler("log", None):
        result = route_inbound(raw, [address], "smtp")
    assert result.status == "dead_letter"
    row = db.session.get(DeadLetter, result.dead_letter_id)
    assert (row.reason, row.org_id, row.source, row.status) == (
        "logging not available",
        org.id,
        "smtp",
        "new",
    )
    assert row.envelope_recipients == [address]
    assert (row.size, row.raw) == (len(raw), raw)


def test_logging_address_goes_to_the_registered_handler(app):
    org = make_org()
    user = make_user(org)
    seen: list = []
    with handler("log", recorder(seen)):
        result = route_inbound(sample("bcc_logged.eml"), [logging_address(user.id)], "smtp")
    assert result.status == "routed"
    assert [(o.kind, o.detail) for o in result.outcomes] == [("log", "recorded")]
    (delivery,) = seen
    assert (delivery.kind, delivery.user_id, delivery.org_id, delivery.source) == (
        "log",
        user.id,
        org.id,
        "smtp",
    )
    assert delivery.message["Subject"] == "Présentation et devis"
    assert delivery.raw == sample("bcc_logged.eml")


def test_a_failing_handler_rolls_back_its_work_and_dead_letters_the_message(app):
    org = make_org()
    address = logging_address(make_user(org).id)

    def half_done(delivery):
        suppress(org.id, "written@example.com", "by a handler that then fails")
        raise ValueError("contact store unavailable")

    with handler("log", half_done):
        result = route_inbound(sample("bcc_logged.eml"), [address], "smtp")
    assert result.status == "dead_letter"
    assert result.reason == "log handler failed: ValueError: contact store unavailable"
    assert not is_suppressed(org.id, "written@example.com")


def test_unsubscribe_address_goes_to_its_handler_with_the_token_as_sent(app):
    seen: list = []
    address = f"unsubscribe+AbC-123_x@{domain()}"
    with handler("unsubscribe", None):
        missing = route_inbound(sample("bcc_logged.eml"), [address], "smtp")
    with handler("unsubscribe", recorder(seen)):
        taken = route_inbound(sample("bcc_logged.eml"), [address], "smtp")
    assert missing.reason == "unsubscribe not available"
    assert taken.status == "routed"
    assert [(d.kind, d.token) for d in seen] == [("unsubscribe", "AbC-123_x")]


def test_mail_for_no_route_is_dead_lettered_with_the_recipients(app):
    result = route_inbound(sample("bcc_logged.eml"), [f"sales@{domain()}"], "smtp")
    assert result.reason == f"no route for sales@{domain()}"
    assert db.session.get(DeadLetter, result.dead_letter_id).org_id is None


def test_only_the_failing_recipients_go_to_the_dead_letter(app):
    org = make_org()
    good = logging_address(make_user(org).id)
    bad = f"log+unknowntoken@{domain()}"
    with handler("log", recorder([])):
        result = route_inbound(sample("bcc_logged.eml"), [good, bad], "smtp")
    assert result.status == "partial"
    assert [o.recipient for o in result.outcomes] == [good]
    assert db.session.get(DeadLetter, result.dead_letter_id).envelope_recipients == [bad]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (sample("malformed_multipart.eml"), "malformed MIME: NoBoundaryInMultipartDefect"),
        (b"\x00\x01\x02\xff binary junk with no header at all", "no header fields"),
        (b"", "no header fields"),
    ],
)
def test_malformed_mime_is_dead_lettered_with_the_parse_error(app, raw, reason):
    org = make_org()
    address = logging_address(make_user(org).id)
    seen: list = []
    with handler("log", recorder(seen)):
        result = route_inbound(raw, [address], "smtp")
    assert result.status == "dead_letter" and reason in result.reason
    assert seen == []
    row = db.session.get(DeadLetter, result.dead_letter_id)
    assert (row.raw, row.org_id) == (raw, org.id)


def test_retry_resolves_a_dead_letter_once_it_routes(app):
    org = make_org()
    address = logging_address(make_user(org).id)
    with handler("log", None):
        dead_letter_id = route_inbound(sample("bcc_logged.eml"), [address], "smtp").dead_letter_id
        row, result = retry_dead_letter(org.id, dead_letter_id)
        assert (row.status, row.attempts, result.reason) == ("retried", 1, "logging not available")
    seen: list = []
    with handler("log", recorder(seen)):
        row, result = retry_dead_letter(org.id, dead_letter_id)
    assert (row.status, row.attempts, result.status) == ("resolved", 2, "routed")
    assert row.resolved_at is not None and len(seen) == 1
    assert db.session.query(DeadLetter).count() == 1  # retries update the same dead letter


def test_retrying_malformed_mime_keeps_it_as_a_dead_letter(app):
    org = make_org()
    address = logging_address(make_user(org).id)
    raw = sample("malformed_multipart.eml")
    dead_letter_id = route_inbound(raw, [address], "smtp").dead_letter_id
    row, result = retry_dead_letter(org.id, dead_letter_id)
    assert (row.status, row.attempts) == ("retried", 1)
    assert "NoBoundaryInMultipartDefect" in row.reason


# --- over HTTP ----------------------------------------------------------------------------------


def dead_letter_for(org) -> int:
    with handler("log", None):
        return route_inbound(
            sample("bcc_logged.eml"), [logging_address(make_user(org).id)], "smtp"
        ).dead_letter_id


def test_admins_list_their_orgs_dead_letters_only(app, client):
    org, other = make_org(), make_org()
    ids = [dead_letter_for(org) for _ in range(3)]
    dead_letter_for(other)
    admin = ApiClient(client, make_user(org, role="admin"))
    first = admin.get("/api/inbound/dead-letters?limit=2").get_json()
    assert [d["id"] for d in first["items"]] == ids[::-1][:2]
    second = admin.get(f"/api/inbound/dead-letters?limit=2&cursor={first['next_cursor']}")
    assert [d["id"] for d in second.get_json()["items"]] == [ids[0]]
    assert second.get_json()["next_cursor"] is None
    item = first["items"][0]
    assert (item["reason"], item["status"], item["source"]) == (
        "logging not available",
        "new",
        "smtp",
    )
    assert "raw" not in item
    rep = ApiClient(client, make_user(org))
    assert rep.get("/api/inbound/dead-letters").status_code == 403


def test_admin_retries_a_dead_letter_and_downloads_its_bytes(app, client):
    org, other = make_org(), make_org()
    dead_letter_id = dead_letter_for(org)
    admin = ApiClient(client, make_user(org, role="admin"))
    raw = admin.get(f"/api/inbound/dead-letters/{dead_letter_id}/raw")
    assert raw.status_code == 200 and raw.mimetype == "message/rfc822"
    assert raw.get_data() == sample("bcc_logged.eml")
    with handler("log", recorder([])):
        retried = admin.post(f"/api/inbound/dead-letters/{dead_letter_id}/retry")
    assert retried.status_code == 200
    body = retried.get_json()
    assert body["dead_letter"]["status"] == "resolved"
    assert body["result"]["status"] == "routed"
    again = admin.post(f"/api/inbound/dead-letters/{dead_letter_id}/retry")
    assert again.status_code == 409
    listed = admin.get("/api/inbound/dead-letters?status=resolved").get_json()["items"]
    assert [d["id"] for d in listed] == [dead_letter_id]
    theirs = dead_letter_for(other)
    for url in (f"/api/inbound/dead-letters/{theirs}", f"/api/inbound/dead-letters/{theirs}/raw"):
        assert admin.get(url).status_code == 404
    assert admin.post(f"/api/inbound/dead-letters/{theirs}/retry").status_code == 404


def test_a_user_reads_and_rotates_their_logging_address(app, client):
    user = make_user(make_org())
    api = ApiClient(client, user)
    first = api.get("/api/inbound/logging-address").get_json()["address"]
    assert first == api.get("/api/inbound/logging-address").get_json()["address"]
    rotated = api.post("/api/inbound/logging-address/rotate").get_json()["address"]
    assert rotated != first and rotated == logging_address(user.id)
