"""Writes the outcome of each outbox message (sent, retry, failed, skipped) while its batch is sent.

An outcome is one prebuilt UPDATE ... WHERE id = :row_id AND state = 'sending' AND lease_owner =
:worker, so a worker that lost its lease never overwrites what another worker did.

Modes (chosen per batch by `OutcomeWriter`):
- session (SQLite, a single writer; and `record_result` called from outside a batch): UPDATE +
  COMMIT in the session, before the next message goes.
- pipelined (PostgreSQL): outcomes are written in groups on an autocommit connection of the
  writer's own, asynchronously (libpq's non-blocking send; no thread): while one group's UPDATE
  and its commit run in the server, the next messages are composed and sent, and their outcomes
  gather into the next group. A group is one statement per set of columns (arrays unnested), all
  in one query string: one implicit transaction, one round trip, one commit (a durable commit
  costs a WAL flush, ~5 ms on the benchmark machine, against ~1 ms per SMTP message, so one
  commit per message capped a worker at ~200 messages/s). Before each send the writer waits
  until at most `UNWRITTEN_WHILE_SENDING` outcomes are not yet committed. So at a crash at most
  UNWRITTEN_WHILE_SENDING + 1 messages per worker were accepted by their transport without their
  row saying so (the uncommitted outcomes and the message in flight): those are the only possible
  duplicates (their lease expires, another worker sends them again, counted in `reclaimed`).
  Nothing is lost: a row is marked sent only after its transport accepted it, and every outcome
  is committed before the writer is closed (at the end of `send_due`'s run).

Once a row is durably marked sent, "mail.sent" is published from the main thread (in the session,
in a transaction of its own that is committed right after; a subscriber that fails is logged and
its writes rolled back: the row stays sent, the message went). Without a subscriber that costs a
dict look-up per message; subscribers filter on the payload (e.g. the group_key) cheaply.
"""

from __future__ import annotations

import logging
import select
from datetime import datetime

from psycopg import pq
from sqlalchemy import Update, bindparam, update

from .. import events
from ..clock import utcnow
from ..extensions import db
from .models import OutboxMessage

SENT_EVENT = "mail.sent"
# outcomes not yet committed while the next message goes: bounds the duplicates after a crash
UNWRITTEN_WHILE_SENDING = 32

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
    """Writes outcomes of one or more batches; `states` lists (row id, new state or '' if the
    lease was lost) once written (all of them once the block has exited)."""

    def __init__(self, worker: str, *, pipelined: bool = False) -> None:
        self.worker = worker
        self.pipelined = pipelined
        self.states: list[tuple[int, str]] = []
        self._pending: list[tuple[int, dict, dict | None]] = []
        self._inflight: list[tuple[int, dict, dict | None]] = []
        self._raw = None  # the pool's connection, and its psycopg connection
        self._pg = None
        self._sent: list[dict] = []  # payloads of rows marked sent, not yet published

    def __enter__(self) -> OutcomeWriter:
        if self.pipelined and db.engine.dialect.name == "postgresql":
            self._raw = db.engine.raw_connection()
            self._pg = self._raw.driver_connection
            self._pg.autocommit = True
        return self

    def __exit__(self, *exc) -> None:
        if self._raw is None:
            return
        healthy = False
        try:
            while self._pending or self._inflight:
                self._pump(block=True)
            healthy = True
        finally:
            if healthy:
                self._pg.autocommit = False
                self._raw.close()
            else:  # a query may still be running on it: never hand it back to the pool
                self._raw.invalidate()
                self._raw.close()
            self._raw = self._pg = None
        self._publish()

    @property
    def unwritten(self) -> int:
        """Outcomes handed to the writer and not yet committed."""
        return len(self._pending) + len(self._inflight)

    def write(self, row: OutboxMessage, values: dict) -> None:
        """Record a row's outcome: gathered for the next group, or written now (no group)."""
        wanted = values["state"] == "sent" and events.has_subscribers(SENT_EVENT)
        payload = sent_payload(row) if wanted else None
        if self._raw is None or not set(values) <= _PG_TYPES.keys():
            state = self._write_in_session(row, values)
            self.states.append((row.id, state))
            if state and payload:
                publish_sent([payload])
            return
        self._pending.append((row.id, values, payload))  # sent by the next settle()

    def settle(self, unwritten: int = UNWRITTEN_WHILE_SENDING) -> None:
        """Collect finished groups, start the next; wait while more than `unwritten` outcomes
        are not yet committed (call before a send)."""
        if self._raw is None:
            return
        self._pump(block=False)
        while self.unwritten > unwritten:
            self._pump(block=True)
        self._publish()

    def _write_in_session(self, row: OutboxMessage, values: dict) -> str:
        statement = finish_statement(tuple(sorted(values)))
        done = db.session.execute(statement, finish_params(row.id, self.worker, values))
        db.session.commit()
        return values["state"] if done.rowcount else ""

    def _pump(self, *, block: bool) -> None:
        """Finish the group in flight if it is done (or wait for it), then send the next."""
        if self._inflight and not self._receive(block):
            return
        if self._pending:  # the next group: the pending outcomes with the first one's columns
            columns = tuple(sorted(self._pending[0][1]))
            self._inflight = [item for item in self._pending if tuple(sorted(item[1])) == columns]
            self._pending = [item for item in self._pending if tuple(sorted(item[1])) != columns]
            pgconn = self._pg.pgconn
            params = group_params(self.worker, self._inflight)
            pgconn.send_query_params(group_statement(columns), params)
            while pgconn.flush():  # 1: more to send
                select.select([], [pgconn.socket], [])

    def _receive(self, block: bool) -> bool:
        """True once the group in flight is committed (its results read)."""
        pgconn = self._pg.pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            if not block:
                return False
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        written: set[int] = set()
        errors = []
        while (result := pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.TUPLES_OK:
                written.update(int(result.get_value(i, 0)) for i in range(result.ntuples))
            else:
                errors.append((result.error_message or b"").decode(errors="replace"))
        group, self._inflight = self._inflight, []
        if errors:  # nothing of the group was committed: the rows keep their lease
            raise RuntimeError(f"writing outbox outcomes failed: {errors[0]}")
        for row_id, values, payload in group:
            state = values["state"] if row_id in written else ""
            self.states.append((row_id, state))
            if state and payload is not None:
                self._sent.append(payload)
        return True

    def _publish(self) -> None:
        payloads, self._sent = self._sent, []
        if payloads:
            publish_sent(payloads)


_PG_TYPES = {
    "state": "varchar",
    "sent_at": "timestamptz",
    "next_attempt_at": "timestamptz",
    "provider_message_id": "varchar",
    "last_error": "text",
    "attempts": "integer",
}


def _array(values: list) -> bytes:
    """A PostgreSQL array literal in text format (elements quoted; None as NULL)."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
            continue
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        items.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ("{" + ",".join(items) + "}").encode()


_GROUP_SQL: dict[tuple[str, ...], bytes] = {}


def group_statement(columns: tuple[str, ...]) -> bytes:
    """UPDATE ... FROM unnest($3.., arrays) RETURNING id for outcomes with these columns
    ($1: updated_at, $2: worker, $3: ids, then one array per column)."""
    statement = _GROUP_SQL.get(columns)
    if statement is None:
        arrays = ", ".join(
            ["$3::integer[]"] + [f"${n}::{_PG_TYPES[c]}[]" for n, c in enumerate(columns, 4)]
        )
        sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        statement = _GROUP_SQL[columns] = (
            "UPDATE outbox_messages AS o SET lease_owner = NULL, lease_expires_at = NULL, "
            f"updated_at = $1::timestamptz, {sets} FROM unnest({arrays}) AS v(id, {names}) "
            "WHERE o.id = v.id AND o.state = 'sending' AND o.lease_owner = $2::varchar "
            "RETURNING o.id"
        ).encode()
    return statement


def group_params(worker: str, group: list[tuple[int, dict, dict | None]]) -> list[bytes]:
    """The text-format parameters of `group_statement` for a group with one set of columns."""
    columns = tuple(sorted(group[0][1]))
    params = [utcnow().isoformat().encode(), worker.encode(), _array([i for i, _v, _p in group])]
    params += [_array([v[c] for _i, v, _p in group]) for c in columns]
    return params
