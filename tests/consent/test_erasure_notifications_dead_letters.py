"""Data subject rights (GDPR-8) reach notifications (TRK-6) and inbound dead letters (LOG-2):
export lists those that concern the contact; erasure deletes them, and only them."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from server.clock import utcnow
from server.extensions import db
from server.mail.inbound import route_inbound
from server.mail.inbound_addresses import logging_address
from server.mail.inbound_models import DeadLetter
from server.notifications.models import Notification
from server.notifications.service import notify
from server.tracking.service import create_tracked_email
from tests.factories import ApiClient, make_contact, make_org, make_user
from tests.tracking.scenario import hit_click, hit_open

NAME, ADDRESS, HOME = "Zelda Quartermaine", "zelda@client.example", "zq@home.example"
OTHER = "bo@partner.example"


def _tracked(org, user, recipient: str, subject: str):
    email, _ = create_tracked_email(
        org.id, user.id, [recipient], subject, '<p>Hi <a href="https://example.com/a">a</a></p>',
        None, sent_at=utcnow() - timedelta(hours=1),  # an open at once would be a scanner's
    )  # fmt: skip
    db.session.commit()
    return email


def _dead_letter(to: str, sender: str, cc: str = "") -> int:
    """A message whose multipart has no boundary: routing fails, a dead letter keeps it."""
    raw = (
        f"From: {sender}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "")
        + "Subject: =?UTF-8?Q?Devis_sign=C3=A9?=\r\nMessage-ID: <dl@client.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n"
    ).encode()  # fmt: skip
    result = route_inbound(raw, [to], "smtp")
    assert result.status == "dead_letter", result.reason
    return result.dead_letter_id


@dataclass
class World:
    org: object
    admin: object
    rep: object
    contact: object
    other: object
    mine: set  # notification ids about the contact
    kept: set  # notification ids that must stay
    letters: set  # dead letter ids naming the contact
    kept_letters: set


@pytest.fixture
def world(app, client) -> World:
    org = make_org(domain="acme.example")
    admin = make_user(org, role="admin", email="admin@acme.example")
    rep = make_user(org, email="rep@acme.example")
    first, last = NAME.split()
    contact = make_contact(org, [ADDRESS, HOME], first_name=first, last_name=last)
    other = make_contact(org, [OTHER], first_name="Bo", last_name="Other")

    def ids_since(last_id: int) -> set:
        rows = db.session.scalars(select(Notification.id).where(Notification.id > last_id))
        return set(rows)

    # tracked opens and clicks: the real path that notifies the sender (TRK-6)
    offer = _tracked(org, rep, ADDRESS, "Our offer")
    hit_open(client, offer.id)
    hit_click(client, offer.id, 0)
    mine = ids_since(0)
    assert len(mine) == 2, "an open and a click of the contact's email notify the sender"
    last = max(mine)
    hit_open(client, _tracked(org, rep, OTHER, "Bo's offer").id)
    kept = ids_since(last)
    assert len(kept) == 1

    mine |= {
        notify(org.id, rep.id, "mention", f"{NAME} replied", "About the offer").id,
        notify(org.id, rep.id, "mail.bounce", "A bounce", f"Mail to {HOME.upper()} bounced").id,
        notify(org.id, admin.id, "record.assigned", "A contact was assigned to you",
               data={"record_type": "contact", "record_id": contact.id}).id,
        notify(org.id, rep.id, "tracking.note", "Opened again",
               data={"tracked_email_id": offer.id}).id,
    }  # fmt: skip
    kept |= {
        notify(org.id, rep.id, "mention", "Bo Other replied", "Zelda's colleague wrote").id,
        notify(org.id, admin.id, "record.assigned", "A contact was assigned to you",
               data={"record_type": "contact", "record_id": other.id}).id,
    }  # fmt: skip

    inbox = logging_address(rep.id)
    letters = {
        _dead_letter(inbox, f'"Zelda Q." <{ADDRESS.upper()}>'),
        _dead_letter(inbox, "rep@acme.example", cc=f"Ann <ann@x.example>, {HOME}"),
    }
    kept_letters = {_dead_letter(inbox, f"Bo <{OTHER}>", cc=f"joe+{ADDRESS}")}

    elsewhere = make_org()
    stranger = make_user(elsewhere)
    make_contact(elsewhere, [ADDRESS], first_name=first, last_name=last)
    kept.add(notify(elsewhere.id, stranger.id, "mention", f"{NAME} replied", ADDRESS).id)
    kept_letters.add(_dead_letter(logging_address(stranger.id), ADDRESS))
    domain = current_app.config["INBOUND_DOMAIN"]
    kept_letters.add(_dead_letter(f"sales@{domain}", ADDRESS))  # no org's: the operators'
    db.session.commit()
    return World(org, admin, rep, contact, other, mine, kept, letters, kept_letters)


def _left(model) -> set:
    db.session.expire_all()
    return set(db.session.scalars(select(model.id)))


def test_export_lists_them_and_erasure_deletes_only_the_contacts(world, client):
    """GDPR-8 (TRK-6, LOG-2): the export has the contact's notifications and dead letters;
    erasing through the API deletes them, another contact's and another org's stay, and the
    bell no longer shows them."""
    admin = ApiClient(client, world.admin)
    url = f"/api/contacts/{world.contact.id}"
    parts = admin.get(f"{url}/export").json["parts"]
    notes = parts["notifications"]
    assert {n["id"] for n in notes} == world.mine
    assert {n["kind"] for n in notes} >= {"tracking.open", "tracking.click", "record.assigned"}
    letters = {d["id"]: d for d in parts["dead_letters"]}
    assert set(letters) == world.letters
    first = letters[min(letters)]
    assert first["from"] == f'"Zelda Q." <{ADDRESS.upper()}>'
    assert first["subject"] == "Devis signé" and first["status"] == "new"
    assert "no boundary here" in first["raw"] and first["size"] == len(first["raw"])
    assert "NoBoundaryInMultipartDefect" in first["reason"]

    rep = ApiClient(client, world.rep)
    assert rep.get("/api/notifications").json["unread_count"] == 7

    res = admin.post(f"{url}/erase", json={"confirm": ADDRESS})
    assert res.status_code == 200, res.get_data(True)
    assert res.json["counts"]["notifications"] == {"notifications": len(world.mine)}
    assert res.json["counts"]["dead_letters"] == {"dead_letters": len(world.letters)}

    assert _left(Notification) == world.kept
    assert _left(DeadLetter) == world.kept_letters
    bell = rep.get("/api/notifications").json
    assert [n["title"] for n in bell["items"]] == ["Bo Other replied", "Opened: Bo's offer"]
    assert bell["unread_count"] == 2
    mine = db.session.scalars(select(Notification).where(Notification.org_id == world.org.id))
    text = json.dumps([[n.title, n.body, n.data] for n in mine]).lower()
    for personal in (ADDRESS, HOME, NAME.lower()):
        assert personal not in text


def test_cli_erasure_deletes_them_too(app, world):
    """GDPR-8: `liaison contacts erase` runs the same parts."""
    from server.cli import main

    runner = app.test_cli_runner()
    args = ["contacts", "erase", str(world.contact.id), "--org", str(world.org.id)]
    done = runner.invoke(main, args, input=f"{ADDRESS}\n")
    assert done.exit_code == 0, done.output
    assert _left(Notification) == world.kept
    assert _left(DeadLetter) == world.kept_letters


def test_openapi_spec_adds_each_notification_schema_once():
    """The notification routes' schemas make no apispec "already been added" warning."""
    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        spec = app.test_client().get("/api/openapi.json")
    assert spec.status_code == 200
    schemas = spec.json["components"]["schemas"]
    assert "NotificationOut1" not in schemas
    assert schemas["MarkedReadOut"] == schemas["NotificationOut"]
