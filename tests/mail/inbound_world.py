"""What the inbound and bounce tests share: the sample messages, outbox rows, event capture."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from server import events
from server.extensions import db
from server.mail.inbound import INBOUND_HANDLERS
from server.mail.models import OutboxMessage

DATA = Path(__file__).parent / "data"


def sample(name: str, **replace: str) -> bytes:
    """A sample message from tests/mail/data with CRLF line ends, placeholders replaced."""
    text = (DATA / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def outbox_row(
    org, recipient: str, state: str = "sent", message_id: str | None = None, **fields
) -> OutboxMessage:
    """An outbox row of `org` for `recipient` (already sent unless told otherwise)."""
    row = OutboxMessage(
        org_id=org.id,
        envelope_from="ada@acme.example",
        recipient=recipient,
        message_id=message_id or f"<{secrets.token_hex(16)}@liaison.localhost>",
        content={"subject": "Hello", "text": "Hi"},
        state=state,
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


@contextlib.contextmanager
def captured(event_name: str) -> Iterator[list[dict]]:
    """Collect the payloads published for `event_name` while the block runs."""
    seen: list[dict] = []

    def collect(**payload):
        seen.append(payload)

    events.subscribe(event_name, collect)
    try:
        yield seen
    finally:
        events.unsubscribe(event_name, collect)


@contextlib.contextmanager
def handler(kind: str, fn=None):
    """Register `fn` for `kind` while the block runs (None: no handler at all)."""
    before = INBOUND_HANDLERS.pop(kind, None)
    if fn is not None:
        INBOUND_HANDLERS[kind] = fn
    try:
        yield
    finally:
        INBOUND_HANDLERS.pop(kind, None)
        if before is not None:
            INBOUND_HANDLERS[kind] = before


def recorder(into: list):
    def record(delivery):
        into.append(delivery)
        return "recorded"

    return record
