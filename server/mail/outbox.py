"""The outbox service: queue messages, claim due ones under a lease, record each transport answer.

A row moves queued → sending when a worker claims it (atomically: PostgreSQL FOR UPDATE SKIP
LOCKED; SQLite serializes writers) and → sent only after the transport accepted it, so a crash
loses nothing: an expired lease puts the row back in the queue, and the only possible duplicates
are the messages that were in flight at the crash (counted in `reclaimed`).

Per claimed batch: the rows are loaded in one SELECT; the send checks run once for the whole
batch, right before its first message goes (one query for the suppression list, a few for the
consent gate), and their skips and writes are committed once; then each message is composed and
handed to its transport, and its outcome written by server/mail/outbox_writer.py (on PostgreSQL
by a writer thread in groups, one commit per group, while the next messages go: see there for
the duplicate bound; on SQLite one commit per message). "mail.sent" is published once a row is
durably marked sent (server/events.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm.util import identity_key

from ..clock import utcnow
from ..extensions import db
from .models import OutboxMessage
from .outbox_writer import SENT_EVENT, OutcomeWriter, finish_params, finish_statement
from .transport import Accepted, PermanentFailure, SendResult, TemporaryFailure

LEASE_SECONDS = 300  # default; LIAISON_OUTBOX_LEASE_SECONDS overrides
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600

# Checks run at send time, once per claimed batch right before its messages go (not when they
# were queued). SEND_CHECKS: fn(row) -> None to let the message go, or the reason to skip it.
# BATCH_SEND_CHECKS: fn(rows) -> {row id: reason} for the rows to skip, in a few queries for the
# whole batch (the consent gate and the bounce suppression register here). A row skipped by one
# check is not passed to the later ones.
SEND_CHECKS: list[Callable[[OutboxMessage], str | None]] = []
BATCH_SEND_CHECKS: list[Callable[[list[OutboxMessage]], dict[int, str]]] = []
__all__ = ["SENT_EVENT", "BATCH_SEND_CHECKS", "SEND_CHECKS", "register_batch_send_check"]


def register_batch_send_check(check: Callable[[list[OutboxMessage]], dict[int, str]]) -> None:
    """Add a batch send check (once)."""
    if check not in BATCH_SEND_CHECKS:
        BATCH_SEND_CHECKS.append(check)


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

    On PostgreSQL the claim commits without waiting for its WAL flush (synchronous_commit off
    for this transaction only): other workers see it at once all the same, and the first
    outcome of the batch committed durably flushes the WAL up to and past it. A database crash
    before then returns the rows to the queue, which is what an expired lease would do; the
    messages sent meanwhile are the ones whose outcome was not yet durable (the bound of
    server/mail/outbox_writer.py). Saves one WAL flush (~5 ms here) per batch.
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
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
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


def _finish(row_id: int, worker: str, **values) -> bool:
    """Write the outcome only if this worker still holds the lease (one commit); True when it
    did."""
    result = db.session.execute(
        finish_statement(tuple(sorted(values))), finish_params(row_id, worker, values)
    )
    db.session.commit()
    return bool(result.rowcount)


def _outcome(row: OutboxMessage, result: SendResult) -> dict:
    """The column values a transport's answer gives the row."""
    now = utcnow()
    if isinstance(result, Accepted):
        return {
            "state": "sent",
            "sent_at": now,
            "provider_message_id": result.provider_id,
            "last_error": None,
        }
    if isinstance(result, TemporaryFailure) and row.attempts < row.max_attempts:
        wait = max(_backoff(row.attempts), timedelta(seconds=result.retry_after or 0))
        return {"state": "queued", "next_attempt_at": now + wait, "last_error": result.reason}
    if isinstance(result, TemporaryFailure):
        return {
            "state": "failed",
            "last_error": f"gave up after {row.attempts} attempts: {result.reason}",
        }
    if isinstance(result, PermanentFailure):
        return {"state": "failed", "last_error": result.reason}
    raise TypeError(f"not a transport result: {result!r}")


def _defer_values(row: OutboxMessage, wait_seconds: float, reason: str) -> dict:
    return {
        "state": "queued",
        "attempts": max(row.attempts - 1, 0),
        "next_attempt_at": utcnow() + timedelta(seconds=wait_seconds),
        "last_error": reason,
    }


def record_result(row: OutboxMessage, worker: str, result: SendResult) -> str:
    """Apply a transport's answer to the row; returns the row's new state ('' if lease was lost)."""
    writer = OutcomeWriter(worker)
    writer.write(row, _outcome(row, result))
    return writer.states[0][1]


def defer(row: OutboxMessage, worker: str, wait_seconds: float, reason: str) -> bool:
    """Put a claimed row back without counting an attempt (e.g. a mailbox throttle says wait)."""
    return _finish(row.id, worker, **_defer_values(row, wait_seconds, reason))


def skip(row: OutboxMessage, worker: str, reason: str) -> bool:
    """Mark a claimed row skipped (never sent) with the reason."""
    return _finish(row.id, worker, state="skipped", last_error=reason)


def _load_claimed(ids: list[int]) -> dict[int, OutboxMessage]:
    """The claimed rows in one SELECT instead of one per message. Rows this session did not hold
    before are detached, so each message's commit does not expire (and reload) the rest one by
    one; outcomes are still written by id, only while this worker holds the lease."""
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


def run_send_checks(rows: list[OutboxMessage]) -> dict[int, str]:
    """{row id: reason} for the rows the send checks stop (per-row checks, then batch checks)."""
    reasons: dict[int, str] = {}
    if SEND_CHECKS:
        for row in rows:
            reason = next((r for check in SEND_CHECKS if (r := check(row))), None)
            if reason:
                reasons[row.id] = reason
    for check in BATCH_SEND_CHECKS:
        remaining = [row for row in rows if row.id not in reasons]
        if not remaining:
            break
        reasons.update(check(remaining))
    return reasons


def _commit_pending() -> None:
    """Commit what the session did meanwhile (e.g. a content preparer's rows, a mailbox read)."""
    if db.session().in_transaction():
        db.session.commit()


def send_claimed(
    ids: Iterable[int],
    worker: str,
    compose: Callable[[OutboxMessage], bytes],
    transport_for: Callable[[OutboxMessage], object],
    envelope_for: Callable[[OutboxMessage], str] = lambda row: row.envelope_from,
    writer: OutcomeWriter | None = None,
) -> BatchReport:
    """Send each claimed row: batch checks, then compose, transport and its outcome written
    (see server/mail/outbox_writer.py for when each outcome is durable). A transport with
    `start` (SMTP) has its verdict on one message read after the next message is composed; one
    message at most is ever waiting for its verdict. With a `writer` kept
    across batches by the caller, the outcomes it writes are counted by the caller
    (`count_outcomes` once the writer is closed); otherwise they are in the report."""
    if writer is None:
        with OutcomeWriter(worker, pipelined=True) as own:
            report = send_claimed(ids, worker, compose, transport_for, envelope_for, own)
        count_outcomes(own.states, report)
        return report
    report = BatchReport()
    ids = list(ids)
    rows = _load_claimed(ids)
    live: list[OutboxMessage] = []
    for row_id in ids:
        row = rows.get(row_id)
        if row is None or row.state != "sending" or row.lease_owner != worker or _expired(row):
            report.lost_lease += 1
        else:
            live.append(row)
    reasons = run_send_checks(live) if live else {}
    for row in live:
        if row.id in reasons:
            values = {"state": "skipped", "last_error": reasons[row.id]}
            statement = finish_statement(("last_error", "state"))
            report.skipped += bool(
                db.session.execute(statement, finish_params(row.id, worker, values)).rowcount
            )
    db.session.commit()  # the skips and the checks' own writes (e.g. a one-time basis used)
    pending: tuple[OutboxMessage, Callable[[], object]] | None = None
    try:
        for row in live:
            if row.id in reasons:
                continue
            if _expired(row):
                report.lost_lease += 1
                continue
            transport = transport_for(row)
            wait = getattr(transport, "reserve", lambda _row: 0.0)(row)
            if wait > 0:
                _commit_pending()
                reason = f"mailbox throttled; next try in {wait:.0f} s"
                writer.write(row, _defer_values(row, wait, reason))
                continue
            try:  # while the relay takes in the previous message (see SmtpTransport.start)
                message = compose(row)
            except Exception as exc:  # a message that cannot be built will never be: fail it
                _commit_pending()
                writer.write(row, _outcome(row, PermanentFailure(f"build: {exc}")))
                report.errors.append(f"{row.id}: {exc}")
                continue
            if pending is not None:
                pending, (sent_row, verdict) = None, pending
                writer.write(sent_row, _outcome(sent_row, verdict()))
            _commit_pending()
            writer.settle()
            pending = (row, _start(transport, envelope_for(row), row.recipient, message))
    finally:
        if pending is not None:
            sent_row, verdict = pending
            writer.write(sent_row, _outcome(sent_row, verdict()))
    return report


def _start(transport, envelope_from: str, recipient: str, message: bytes) -> Callable[[], object]:
    """The transport's pending send (SMTP), or a finished one (providers that answer at once)."""
    start = getattr(transport, "start", None)
    if start is not None:
        return start(envelope_from, [recipient], message)
    result = transport.send(envelope_from, [recipient], message)
    return lambda: result


def count_outcomes(states: list[tuple[int, str]], report: BatchReport) -> None:
    """Add a closed writer's outcomes (row id, state or '' for a lost lease) to `report`."""
    for _row_id, state in states:
        if state == "sent":
            report.sent += 1
        elif state == "queued":
            report.retrying += 1
        elif state == "failed":
            report.failed += 1
        else:
            report.lost_lease += 1


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
