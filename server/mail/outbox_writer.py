"""Writes the outcome of each outbox message (sent, retry, failed, skipped) while its batch is sent.

An outcome is one prebuilt UPDATE ... WHERE id = :row_id AND state = 'sending' AND lease_owner =
:worker, so a worker that lost its lease never overwrites what another worker did.

Modes (chosen per batch by `OutcomeWriter`):
- session (SQLite, a single writer; and `record_result` called from outside a batch): UPDATE +
  COMMIT in the session, before the next message goes.
- pipelined (PostgreSQL): a writer thread with a connection of its own writes the outcomes while
  the main thread composes and sends the next messages; it takes everything queued as one group:
  one UPDATE per row and one COMMIT per group (a durable commit costs a WAL flush, ~5 ms on the
  benchmark machine, against ~1 ms per SMTP message, so one commit per message caps a worker at
  ~200 messages/s). Before each send the main thread waits until at most
  `UNWRITTEN_WHILE_SENDING` outcomes are not yet committed. So at a crash at most
  UNWRITTEN_WHILE_SENDING + 1 messages per worker were accepted by their transport without their
  row saying so (the uncommitted group and the message in flight): those are the only possible
  duplicates (their lease expires, another worker sends them again, counted in `reclaimed`).
  Nothing is lost: a row is marked sent only after its transport accepted it, and every outcome
  is committed before its batch's `send_claimed` returns.

Once a row is durably marked sent, "mail.sent" is published from the main thread (in the session,
in a transaction of its own that is committed right after; a subscriber that fails is logged and
its writes rolled back: the row stays sent, the message went). Without a subscriber that costs a
dict look-up per message; subscribers filter on the payload (e.g. the group_key) cheaply.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from sqlalchemy import Update, bindparam, update

from .. import events
from ..clock import utcnow
from ..extensions import db
from .models import OutboxMessage

SENT_EVENT = "mail.sent"
# outcomes not yet committed while the next message goes: bounds the duplicates after a crash
UNWRITTEN_WHILE_SENDING = 16
GROUP_SIZE = 8  # the writer thread wakes for this many outcomes (fewer GIL hand-overs) ...
GROUP_WAIT_SECONDS = 0.05  # ... or after this long with at least one

log = logging.getLogger(__name__)

_FINISH_STATEMENTS: dict[tuple[str, ...], Update] = {}


def finish_statement(columns: tuple[str, ...]) -> Update:
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


def finish_params(row_id: int, worker: str, values: dict) -> dict:
    """The binds of `finish_statement` for one row's outcome."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(row_id=row_id, worker=worker, now=utcnow())
    return params


def sent_payload(row: OutboxMessage) -> dict:
    """The "mail.sent" payload of a row."""
    return {
        "org_id": row.org_id,
        "outbox_id": row.id,
        "group_key": row.group_key,
        "purpose": row.purpose,
        "user_id": row.user_id,
    }


def publish_sent(payloads: list[dict]) -> None:
    """Publish "mail.sent" for rows already marked sent, then commit what subscribers wrote."""
    for payload in payloads:
        try:
            events.publish(SENT_EVENT, **payload)
            if db.session().in_transaction():
                db.session.commit()
        except Exception:
            log.exception("a %s subscriber failed for outbox row %s", SENT_EVENT, payload)
            db.session.rollback()


class OutcomeWriter:
    """Writes one batch's outcomes; `states` lists (row id, new state or '' if the lease was
    lost) once the block has exited."""

    def __init__(self, worker: str, *, pipelined: bool = False) -> None:
        self.worker = worker
        self.pipelined = pipelined
        self.states: list[tuple[int, str]] = []
        self._queue: deque[tuple[int, dict, dict | None]] = deque()
        self._sent: list[dict] = []  # payloads of rows marked sent, not yet published
        self._unwritten = 0
        self._closing = False
        self._urgent = False  # the main thread waits for the writer
        self._error: BaseException | None = None
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OutcomeWriter:
        if self.pipelined and db.engine.dialect.name == "postgresql":
            self._thread = threading.Thread(
                target=self._run, args=(db.engine,), name="outbox-writer", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        if self._thread is None:
            return
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self._thread.join()
        self._publish()
        if self._error is not None and _exc[0] is None:
            raise RuntimeError("the outbox writer failed") from self._error

    def write(self, row: OutboxMessage, values: dict) -> None:
        """Record a row's outcome: queued for the writer thread, or written now."""
        wanted = values["state"] == "sent" and events.has_subscribers(SENT_EVENT)
        payload = sent_payload(row) if wanted else None
        if self._thread is None:
            state = self._write_in_session(row, values)
            self.states.append((row.id, state))
            if state and payload:
                publish_sent([payload])
            return
        with self._ready:
            if self._error is not None:
                raise RuntimeError("the outbox writer failed") from self._error
            self._queue.append((row.id, values, payload))
            self._unwritten += 1
            if len(self._queue) >= GROUP_SIZE:
                self._ready.notify_all()

    def _publish(self) -> None:
        with self._ready:
            payloads, self._sent = self._sent, []
        if payloads:
            publish_sent(payloads)

    def settle(self, unwritten: int = UNWRITTEN_WHILE_SENDING) -> None:
        """Wait until at most `unwritten` outcomes are not yet durable (call before a send)."""
        if self._thread is None:
            return
        with self._ready:
            while self._unwritten > unwritten and self._error is None:
                self._urgent = True
                self._ready.notify_all()
                self._ready.wait()
            if self._error is not None:
                raise RuntimeError("the outbox writer failed") from self._error
        self._publish()

    def _write_in_session(self, row: OutboxMessage, values: dict) -> str:
        statement = finish_statement(tuple(sorted(values)))
        done = db.session.execute(statement, finish_params(row.id, self.worker, values))
        db.session.commit()
        return values["state"] if done.rowcount else ""

    def _run(self, engine) -> None:
        """The writer thread: writes what is queued, in order, one transaction per group."""
        try:
            with engine.connect() as conn:
                while True:
                    with self._ready:
                        while len(self._queue) < GROUP_SIZE and not (self._closing or self._urgent):
                            if not self._ready.wait(GROUP_WAIT_SECONDS) and self._queue:
                                break
                        if not self._queue:
                            return
                        group = list(self._queue)
                        self._urgent = False
                    with conn.begin():
                        written = write_group(conn, self.worker, group)
                    with self._ready:  # durable now: the COMMIT returned
                        for _ in group:
                            self._queue.popleft()
                        for row_id, values, payload in group:
                            state = values["state"] if row_id in written else ""
                            self.states.append((row_id, state))
                            if state and payload is not None:
                                self._sent.append(payload)
                        self._unwritten -= len(group)
                        self._ready.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            with self._ready:
                self._error = exc
                self._ready.notify_all()


_PG_TYPES = {
    "state": "varchar",
    "sent_at": "timestamptz",
    "next_attempt_at": "timestamptz",
    "provider_message_id": "varchar",
    "last_error": "text",
    "attempts": "integer",
}


def _group_sql(columns: tuple[str, ...]) -> str:
    """One PostgreSQL UPDATE for many rows' outcomes with the same columns (arrays unnested)."""
    arrays = ", ".join(["%(ids)s::integer[]"] + [f"%({c})s::{_PG_TYPES[c]}[]" for c in columns])
    sets = ", ".join(f"{c} = v.{c}" for c in columns)
    return (
        f"UPDATE outbox_messages AS o SET lease_owner = NULL, lease_expires_at = NULL, "
        f"updated_at = %(now)s, {sets} FROM unnest({arrays}) AS v(id, {', '.join(columns)}) "
        f"WHERE o.id = v.id AND o.state = 'sending' AND o.lease_owner = %(worker)s "
        f"RETURNING o.id"
    )


def write_group(conn, worker: str, group: list[tuple[int, dict, dict | None]]) -> set[int]:
    """Write a group of outcomes on `conn` (PostgreSQL, in the caller's transaction): one
    statement per set of columns; the ids of the rows this worker still held."""
    by_columns: dict[tuple[str, ...], list[tuple[int, dict]]] = {}
    for row_id, values, _payload in group:
        by_columns.setdefault(tuple(sorted(values)), []).append((row_id, values))
    written: set[int] = set()
    for columns, items in by_columns.items():
        if not set(columns) <= _PG_TYPES.keys():
            for row_id, values in items:
                statement = finish_statement(columns)
                if conn.execute(statement, finish_params(row_id, worker, values)).rowcount:
                    written.add(row_id)
            continue
        params = {c: [values[c] for _id, values in items] for c in columns}
        params.update(ids=[row_id for row_id, _values in items], now=utcnow(), worker=worker)
        written.update(i for (i,) in conn.exec_driver_sql(_group_sql(columns), params))
    return written
