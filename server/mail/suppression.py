"""The per-org suppression list: addresses that hard-bounced are never sent to again (BULK-10).

Addresses compare case-insensitively (stored lower-case). Importing this module registers the
outbox batch send check that skips suppressed recipients at send time (one query per claimed
batch, right before its messages go); server.mail.inbound_routes imports it, so every app built by
create_app has the check.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from ..extensions import db
from .inbound_models import SuppressedAddress, insert_if_absent
from .models import OutboxMessage

SKIP_REASON = "address bounced (suppressed)"


def normalize_address(address: str) -> str:
    """The form addresses are compared in: trimmed, without angle brackets, lower-case."""
    return address.strip().strip("<>").strip().lower()


def is_suppressed(org_id: int, address: str) -> bool:
    """True when `org_id` no longer sends to `address`."""
    return (
        db.session.scalar(
            select(SuppressedAddress.id).where(
                SuppressedAddress.org_id == org_id,
                SuppressedAddress.address == normalize_address(address),
            )
        )
        is not None
    )


def suppress(org_id: int, address: str, reason: str) -> SuppressedAddress:
    """Add `address` to the org's suppression list in the caller's transaction (idempotent)."""
    normalized = normalize_address(address)
    query = select(SuppressedAddress).where(
        SuppressedAddress.org_id == org_id, SuppressedAddress.address == normalized
    )
    insert_if_absent(SuppressedAddress, org_id=org_id, address=normalized, reason=reason[:2000])
    return db.session.scalar(query)


def unsuppress(org_id: int, address: str) -> bool:
    """Remove `address` from the org's list (the caller commits); True when it was there."""
    result = db.session.execute(
        delete(SuppressedAddress).where(
            SuppressedAddress.org_id == org_id,
            SuppressedAddress.address == normalize_address(address),
        )
    )
    return bool(result.rowcount)


def suppressed_recipient_check(rows: list[OutboxMessage]) -> dict[int, str]:
    """Outbox batch send check: {row id: reason} for rows whose recipient is on their org's
    suppression list (one query for the whole batch)."""
    wanted = {row.id: (row.org_id, normalize_address(row.recipient)) for row in rows}
    if not wanted:
        return {}
    found = {
        (org_id, address)
        for org_id, address in db.session.execute(
            select(SuppressedAddress.org_id, SuppressedAddress.address).where(
                SuppressedAddress.org_id.in_({org_id for org_id, _ in wanted.values()}),
                SuppressedAddress.address.in_({address for _, address in wanted.values()}),
            )
        )
    }
    return {row_id: SKIP_REASON for row_id, key in wanted.items() if key in found}


def _register_send_check() -> None:
    from .outbox import register_batch_send_check

    register_batch_send_check(suppressed_recipient_check)


_register_send_check()
