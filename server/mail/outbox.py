"""The outbox service: queue messages, claim due ones under a lease, record each transport answer.

A row moves queued → sending when a worker claims it (atomically: PostgreSQL FOR UPDATE SKIP
LOCKED; SQLite serializes writers) and → sent only after the transport accepted it, one commit per
message, so a crash loses nothing: an expired lease puts the row back in the queue, and the only
possible duplicates are the messages that were in flight at the crash (counted in `reclaimed`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.orm.util import identity_key

from ..clock import utcnow
from ..extensions import db
from .models import OutboxMessage
from .transport import Accepted, PermanentFailure, SendResult, TemporaryFailure

LEASE_SECONDS = 300  # default; LIAISON_OUTBOX_LEASE_SECONDS overrides
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600

# Checks run right before a message is handed to its transport (not only when it was queued):
# each returns None to let the message go, or the reason to skip it (the consent gate
# and the bounce suppression register here).
SEND_CHECKS: list[Callable[[OutboxMessage], str | None]] = []


@dataclass
class BatchReport:
    """What one pass over a claimed batch did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)


def new_message_id(domain: str) -> str:
    """A fresh RFC 5322 Message-ID on our domain."""
    return f"<{secrets.token_hex(16)}@{domain}>"


def queue_message(
    *,
    org_id: int,
    recipient: str,
    envelope_from: str,
    content: dict,
    message_id: str,
    user_id: int | None = None,
    purpose: str = "one_to_one",
    transport: str = "smtp",
    mailbox_id: int | None = None,
    group_key: str | None = None,
    send_at: datetime | None = None,
) -> OutboxMessage:
    """Add one recipient message to the outbox in the caller's transaction (the caller commits)."""
    row = OutboxMessage(
        org_id=org_id,
        user_id=user_id,
        purpose=purpose,
        group_key=group_key,
        transport=transport,
        mailbox_id=mailbox_id,
        envelope_from=envelope_from,
        recipient=recipient,
        message_id=message_id,
        content=content,
        state="queued",
        next_attempt_at=send_at or utcnow(),
    )
    db.session.add(row)
    return row


def claim_batch(worker: str, limit: int = 50, lease_seconds: int = LEASE_SECONDS) -> list[int]:
    """Atomically claim up to `limit` due queued rows for `worker`; returns their ids.

    The ids are locked first (SKIP LOCKED: concurrent workers take different rows) and then
    updated by id in the same transaction. A single UPDATE ... WHERE id IN (SELECT ... LIMIT n
    FOR UPDATE SKIP LOCKED) is not used: PostgreSQL may evaluate that subquery more than once
    and claim far more than `limit` rows.
    """
    now = utcnow()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        db.session.commit()
        return []
    claimed = db.session.scalars(  # on SQLite another process may have taken some meanwhile
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "queued")
        .values(
            state="sending",
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def reclaim_expired_leases() -> int:
    """Return rows whose worker's lease expired (a crash) to the queue; returns how many."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == "sending", OutboxMessage.lease_expires_at < now)
        .values(
            state="queued",
            lease_owner=None,
            lease_expires_at=None,
            reclaimed=OutboxMessage.reclaimed + 1,
            next_attempt_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def _backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )


_FINISH_STATEMENTS: dict[tuple[str, ...], Update] = {}


def _finish_statement(columns: tuple[str, ...]) -> Update:
    """UPDATE ... WHERE id = :row_id AND state = 'sending' AND lease_owner = :worker, setting
    `columns` from binds; built once per set of columns (a Core statement: constructing and
    running an ORM bulk UPDATE per message cost more than the database round trip)."""
    statement = _FINISH_STATEMENTS.get(columns)
    if statement is None:
        table = OutboxMessage.__table__
        statement = _FINISH_STATEMENTS[columns] = (
            update(table)
            .where(
                table.c.id == bindparam("row_id"),
                table.c.state == "sending",
                table.c.lease_owner == bindparam("worker"),
            )
            .values(
                lease_owner=None,
                lease_expires_at=None,
                updated_at=bindparam("now", type_=table.c.updated_at.type),
                **{name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns},
            )
        )
    return statement


def _finish(row_id: int, worker: str, **values) -> bool:
    """Write the outcome only if this worker still holds the lease (one commit); True when it
    did."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(row_id=row_id, worker=worker, now=utcnow())
    result = db.session.execute(_finish_statement(tuple(sorted(values))), params)
    db.session.commit()
    return bool(result.rowcount)


def record_result(row: OutboxMessage, worker: str, result: SendResult) -> str:
    """Apply a transport's answer to the row; returns the row's new state ('' if lease was lost)."""
    now = utcnow()
    if isinstance(result, Accepted):
        values = {
            "state": "sent",
            "sent_at": now,
            "provider_message_id": result.provider_id,
            "last_error": None,
        }
    elif isinstance(result, TemporaryFailure) and row.attempts < row.max_attempts:
        wait = max(_backoff(row.attempts), timedelta(seconds=result.retry_after or 0))
        values = {"state": "queued", "next_attempt_at": now + wait, "last_error": result.reason}
    elif isinstance(result, TemporaryFailure):
        values = {
            "state": "failed",
            "last_error": f"gave up after {row.attempts} attempts: {result.reason}",
        }
    elif isinstance(result, PermanentFailure):
        values = {"state": "failed", "last_error": result.reason}
    else:
        raise TypeError(f"not a transport result: {result!r}")
    return values["state"] if _finish(row.id, worker, **values) else ""


def defer(row: OutboxMessage, worker: str, wait_seconds: float, reason: str) -> bool:
    """Put a claimed row back without counting an attempt (e.g. a mailbox throttle says wait)."""
    return _finish(
        row.id,
        worker,
        state="queued",
        attempts=max(row.attempts - 1, 0),
        next_attempt_at=utcnow() + timedelta(seconds=wait_seconds),
        last_error=reason,
    )


def skip(row: OutboxMessage, worker: str, reason: str) -> bool:
    """Mark a claimed row skipped (never sent) with the reason."""
    return _finish(row.id, worker, state="skipped", last_error=reason)


def _load_claimed(ids: list[int]) -> dict[int, OutboxMessage]:
    """The claimed rows in one SELECT instead of one per message. Rows this session did not hold
    before are detached, so each message's commit does not expire (and reload) the rest one by
    one; outcomes are still written by id, only while this worker holds the lease (`_finish`)."""
    held = {i for i in ids if identity_key(OutboxMessage, i) in db.session.identity_map}
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .execution_options(populate_existing=True)
    ).all()
    for row in rows:
        if row.id not in held:
            db.session.expunge(row)
    return {row.id: row for row in rows}


def _expired(row: OutboxMessage) -> bool:
    """True once the row's lease ran out (rows are read once per batch: another worker may
    reclaim it meanwhile, so it is not sent)."""
    return row.lease_expires_at is not None and row.lease_expires_at <= utcnow()


def send_claimed(
    ids: Iterable[int],
    worker: str,
    compose: Callable[[OutboxMessage], bytes],
    transport_for: Callable[[OutboxMessage], object],
    envelope_for: Callable[[OutboxMessage], str] = lambda row: row.envelope_from,
) -> BatchReport:
    """Send each claimed row: checks, compose, transport, then one commit per message."""
    report = BatchReport()
    ids = list(ids)
    rows = _load_claimed(ids)
    for row_id in ids:
        row = rows.get(row_id)
        if row is None or row.state != "sending" or row.lease_owner != worker or _expired(row):
            report.lost_lease += 1
            continue
        reason = next((r for check in SEND_CHECKS if (r := check(row))), None)
        if reason:
            report.skipped += skip(row, worker, reason)
            continue
        transport = transport_for(row)
        wait = getattr(transport, "reserve", lambda _row: 0.0)(row)
        if wait > 0:
            defer(row, worker, wait, f"mailbox throttled; next try in {wait:.0f} s")
            report.retrying += 1
            continue
        try:
            message = compose(row)
        except Exception as exc:  # a message that cannot be built will never be: fail it
            report.failed += bool(record_result(row, worker, PermanentFailure(f"build: {exc}")))
            report.errors.append(f"{row.id}: {exc}")
            continue
        result = transport.send(envelope_for(row), [row.recipient], message)
        state = record_result(row, worker, result)
        if state == "sent":
            report.sent += 1
        elif state == "queued":
            report.retrying += 1
        elif state == "failed":
            report.failed += 1
        else:
            report.lost_lease += 1
    return report


def outbox_counts(group_key: str | None = None) -> dict[str, int]:
    """Rows per state (for one group when given), plus how many were reclaimed after a crash."""
    query = select(OutboxMessage.state, func.count(), func.sum(OutboxMessage.reclaimed))
    if group_key is not None:
        query = query.where(OutboxMessage.group_key == group_key)
    counts: dict[str, int] = {}
    reclaimed = 0
    for state, count, reclaimed_sum in db.session.execute(query.group_by(OutboxMessage.state)):
        counts[state] = count
        reclaimed += reclaimed_sum or 0
    counts["reclaimed"] = reclaimed
    return counts
