"""Tracking test scenario: a sender, a trackable contact, tracked emails, request sequences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from factories import ApiClient, make_contact, make_org, make_user
from sqlalchemy import select

from server.clock import utcnow
from server.extensions import db
from server.tracking.models import TrackedEmail, TrackingEvent
from server.tracking.service import create_tracked_email
from server.tracking.tokens import click_token, open_token

RECIPIENT_IP = "203.0.113.7"  # TEST-NET-3: a person somewhere
PERSON_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
)
HTML = (
    "<html><body><p>Hello</p>"
    '<a href="https://example.com/pricing">Pricing</a> '
    '<a href="https://example.com/demo">Demo</a>'
    "</body></html>"
)


@dataclass
class World:
    org: object
    sender: object
    api: ApiClient
    contact: object
    address: str


@pytest.fixture
def world(app, client) -> World:
    org = make_org()
    sender = make_user(org, email="rep@seller.example")
    contact = make_contact(org, emails=["ann@buyer.example"])
    return World(org, sender, ApiClient(client, sender), contact, "ann@buyer.example")


def tracked(
    world: World,
    html: str | None = HTML,
    text: str | None = None,
    recipients: list[str] | None = None,
    sent_ago: float = 3600,
    **kw,
) -> TrackedEmail:
    """A committed tracked email sent `sent_ago` seconds ago."""
    email, _ = create_tracked_email(
        world.org.id,
        world.sender.id,
        recipients or [world.address],
        kw.pop("subject", "Our offer"),
        html,
        text,
        sent_at=utcnow() - timedelta(seconds=sent_ago),
        **kw,
    )
    db.session.commit()
    return email


def hit_open(client, email_id: int, ip: str = RECIPIENT_IP, ua: str = PERSON_UA, **kw):
    headers = {"User-Agent": ua, **kw.pop("headers", {})}
    return client.open(
        f"/t/o/{open_token(email_id)}",
        method=kw.pop("method", "GET"),
        headers=headers,
        environ_base={"REMOTE_ADDR": ip},
    )


def hit_click(client, email_id: int, position: int, ip=RECIPIENT_IP, ua=PERSON_UA, **kw):
    headers = {"User-Agent": ua, **kw.pop("headers", {})}
    return client.open(
        f"/t/c/{click_token(email_id, position)}",
        method=kw.pop("method", "GET"),
        headers=headers,
        environ_base={"REMOTE_ADDR": ip},
    )


def events(email_id: int) -> list[TrackingEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.tracked_email_id == email_id)
            .order_by(TrackingEvent.id)
        )
    )


def reloaded(email: TrackedEmail) -> TrackedEmail:
    db.session.expire_all()
    return db.session.get(TrackedEmail, email.id)
