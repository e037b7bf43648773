"""Authentication of POST /inbound/mime: a per-org secret, an HMAC over timestamp and body, and a
replay cache (LOG-2, BULK-10).

The sender signs `"<unix seconds>.<raw body>"` with HMAC-SHA256 under the org's inbound secret and
sends the hex digest in X-Liaison-Signature, the timestamp in X-Liaison-Timestamp and the org id
in X-Liaison-Org. A timestamp more than five minutes away from now is refused, and so is a
signature already seen (kept in the replay table until its timestamp has gone stale).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..clock import utcnow
from ..errors import Unauthorized
from ..extensions import db
from .inbound_models import InboundReplay, InboundSecret, insert_if_absent

MAX_SKEW_SECONDS = 300


def _derive(org_id: int, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"inbound-secret:{org_id}:{nonce}".encode(), hashlib.sha256)
    return "lis_" + digest.hexdigest()


def rotate_inbound_secret(org_id: int, user_id: int | None = None) -> str:
    """Create or replace the org's inbound secret and return it (shown once; commits)."""
    row = db.session.scalar(
        select(InboundSecret).where(InboundSecret.org_id == org_id).with_for_update()
    )
    if row is None:
        row = InboundSecret(org_id=org_id)
        db.session.add(row)
    row.nonce = secrets.token_hex(16)
    row.created_at = utcnow()
    row.created_by_id = user_id
    db.session.commit()
    return _derive(org_id, row.nonce)


def inbound_secret(org_id: int) -> str | None:
    """The org's current inbound secret, or None when none was created."""
    nonce = db.session.scalar(select(InboundSecret.nonce).where(InboundSecret.org_id == org_id))
    return _derive(org_id, nonce) if nonce else None


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" under `secret` (what a sender computes)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_org(org_header: str | None) -> int:
    try:
        return int((org_header or "").strip())
    except ValueError:
        raise Unauthorized(
            "X-Liaison-Org must be an organization id.", field="X-Liaison-Org"
        ) from None


def _parse_timestamp(timestamp_header: str | None) -> int:
    value = (timestamp_header or "").strip()
    if not value.isdigit():
        raise Unauthorized(
            "X-Liaison-Timestamp must be the signing time in unix seconds.",
            field="X-Liaison-Timestamp",
        )
    timestamp = int(value)
    if abs(utcnow().timestamp() - timestamp) > MAX_SKEW_SECONDS:
        raise Unauthorized(
            "X-Liaison-Timestamp is more than 5 minutes away from now; sign the request again.",
            field="X-Liaison-Timestamp",
        )
    return timestamp


def verify_inbound_request(
    org_header: str | None, timestamp_header: str | None, signature_header: str | None, body: bytes
) -> int:
    """Check the signed headers of an inbound POST; returns the org id or raises Unauthorized."""
    org_id = _parse_org(org_header)
    timestamp = _parse_timestamp(timestamp_header)
    signature = (signature_header or "").strip().lower()
    secret = inbound_secret(org_id)
    if secret is None or not hmac.compare_digest(signature, sign(secret, timestamp, body)):
        raise Unauthorized("Bad signature.", field="X-Liaison-Signature")
    _remember(org_id, signature, timestamp)
    return org_id


def _remember(org_id: int, signature: str, timestamp: int) -> None:
    """Record a used signature; a second use is a replay (refused)."""
    now = utcnow()
    db.session.execute(delete(InboundReplay).where(InboundReplay.expires_at < now))
    expires = datetime.fromtimestamp(timestamp, UTC) + timedelta(seconds=MAX_SKEW_SECONDS + 60)
    fresh = insert_if_absent(InboundReplay, signature=signature, org_id=org_id, expires_at=expires)
    db.session.commit()
    if not fresh:
        raise Unauthorized("This signature was already used (replay).", field="X-Liaison-Signature")
