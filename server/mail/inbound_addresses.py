"""Our inbound addresses and what each one means, plus the users' logging tokens (LOG-2).

On the inbound domain: `log+<token>` is a user's logging address, `unsubscribe+<token>` an
unsubscribe request, `bounce+<outbox id>-<hmac>` a VERP return path; other local parts (e.g.
`bounces`, `postmaster`) are only routed when the message is a bounce. Logging tokens are random,
lower-case base32 (mail systems may lower-case addresses), unique, and one per user: rotating
replaces it, so the old address stops working at once.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..errors import NotFound
from ..extensions import db
from ..orgs.models import User
from .bounces import VERP_PREFIX, verp_outbox_id
from .inbound_models import LoggingToken, insert_if_absent

LOG_PREFIX = "log+"
UNSUBSCRIBE_PREFIX = "unsubscribe+"


@dataclass(frozen=True)
class InboundAddress:
    """One envelope recipient, classified: kind is log | unsubscribe | bounce | other | foreign."""

    address: str
    kind: str
    token: str | None = None  # the log / unsubscribe token
    outbox_id: int | None = None  # a valid VERP address's row
    problem: str | None = None  # why a bounce+ address is not valid


def inbound_domain() -> str:
    """The domain our inbound addresses live on (lower-case)."""
    return str(current_app.config["INBOUND_DOMAIN"]).lower()


def split_address(address: str) -> tuple[str, str]:
    """(local part, lower-case domain) of an address; '' for a missing part."""
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    return (local, domain.lower()) if at else (address, "")


def is_ours(address: str) -> bool:
    """True when `address` is on our inbound domain."""
    return split_address(address)[1] == inbound_domain()


def classify(address: str) -> InboundAddress:
    """What an envelope recipient means to us."""
    local, domain = split_address(address)
    if domain != inbound_domain():
        return InboundAddress(address, "foreign")
    lowered = local.lower()
    if lowered.startswith(LOG_PREFIX) and len(local) > len(LOG_PREFIX):
        return InboundAddress(address, "log", token=lowered[len(LOG_PREFIX) :])
    if lowered.startswith(UNSUBSCRIBE_PREFIX) and len(local) > len(UNSUBSCRIBE_PREFIX):
        return InboundAddress(address, "unsubscribe", token=local[len(UNSUBSCRIBE_PREFIX) :])
    if lowered.startswith(VERP_PREFIX):
        outbox_id = verp_outbox_id(lowered)
        if outbox_id is None:
            return InboundAddress(address, "bounce", problem="forged or malformed bounce address")
        return InboundAddress(address, "bounce", outbox_id=outbox_id)
    return InboundAddress(address, "other")


def _new_token() -> str:
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


def logging_address_of(token: str) -> str:
    """The full logging address for a token."""
    return f"{LOG_PREFIX}{token}@{inbound_domain()}"


def _token_row(user_id: int) -> LoggingToken | None:
    return db.session.scalar(select(LoggingToken).where(LoggingToken.user_id == user_id))


def logging_address(user_id: int) -> str:
    """The user's logging address, created on first use (commits when it creates one)."""
    row = _token_row(user_id)
    if row is None:
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        # a concurrent request may create it too: the first insert wins
        insert_if_absent(
            LoggingToken,
            org_id=user.org_id,
            user_id=user.id,
            token=_new_token(),
            created_at=utcnow(),
        )
        db.session.commit()
        row = _token_row(user_id)
    return logging_address_of(row.token)


def rotate_logging_address(user_id: int) -> str:
    """Give the user a new logging token (the old address stops working); returns the address."""
    logging_address(user_id)
    row = db.session.scalar(
        select(LoggingToken).where(LoggingToken.user_id == user_id).with_for_update()
    )
    row.token = _new_token()
    row.rotated_at = utcnow()
    db.session.commit()
    return logging_address_of(row.token)


def user_for_logging_token(token: str) -> User | None:
    """The active user whose live logging token this is, or None."""
    user = db.session.scalar(
        select(User)
        .join(LoggingToken, LoggingToken.user_id == User.id)
        .where(LoggingToken.token == token.lower())
    )
    return user if user is not None and user.is_active else None


def header_recipients(raw: bytes, listed: str | None = None) -> list[str]:
    """Envelope recipients for an HTTP delivery: the listed ones, else the message's headers.

    `listed` is X-Liaison-Recipients (comma-separated); without it Delivered-To, X-Original-To,
    To and Cc are read (a BCC'd logging address only appears in the first two).
    """
    if listed is not None:
        return [a for _, a in getaddresses([listed]) if a]
    headers = BytesHeaderParser().parsebytes(raw[:1_000_000], headersonly=True)
    values = [
        str(v)
        for name in ("Delivered-To", "X-Original-To", "To", "Cc")
        for v in headers.get_all(name) or []
    ]
    return [a for _, a in getaddresses(values) if "@" in a]
