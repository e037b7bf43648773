"""Build the benchmark database: schema from the app's metadata, a seeded org, bulk rows by COPY.

The bulk tables are filled in one transaction: secondary indexes and unique constraints are
dropped, the tables truncated and filled with `COPY ... WITH (FREEZE)` (rows streamed from
bench/_data.py, no lists in memory, foreign-key triggers off for the session), then the indexes
are rebuilt, the id sequences moved past the loaded ids, and everything ANALYZEd. A database
comment records the shape of a complete load so `--reuse` can trust it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator

import _data
import psycopg
from sqlalchemy import make_url, select
from sqlalchemy.schema import CreateIndex, CreateTable

BULK_TABLES = tuple(_data.GENERATORS)
LOOKUP_TABLES = ("organizations", "users", "api_tokens", "org_settings", "user_settings")
BATCH_ROWS = 10_000
BENCH_EMAIL = "bench.rep@bench.example"
ORG_ADDRESS = "crm@bench.example"
_USERS = (("Bench Admin", "bench.admin@bench.example", "super_admin"),
          ("Bench Manager", "bench.manager@bench.example", "admin"),
          ("Bench Rep", BENCH_EMAIL, "rep"),
          ("Other Rep", "other.rep@bench.example", "rep"),
          ("Third Rep", "third.rep@bench.example", "rep"))  # fmt: skip

Say = Callable[[str], None]


def database_urls(server_url: str, name: str) -> tuple[str, str]:
    """(the maintenance database URL, the benchmark database URL) for a server URL."""
    url = make_url(server_url).set(drivername="postgresql")
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    return admin, url.set(database=name).render_as_string(hide_password=False)


def schema_fingerprint(app) -> str:
    """A short hash of the DDL of the tables a look-up reads (changing them invalidates a load;
    tables added elsewhere are created on reuse by `create_tables`)."""
    from server.extensions import db

    with app.app_context():
        dialect = db.engine.dialect
        ddl = []
        for table in db.metadata.sorted_tables:
            if table.name not in (*BULK_TABLES, *LOOKUP_TABLES):
                continue
            ddl.append(str(CreateTable(table).compile(dialect=dialect)))
            ddl.extend(sorted(str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes))
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()[:16]


def _marker(shape: _data.Shape, schema: str) -> str:
    counts = ",".join(f"{k}={v}" for k, v in shape.counts().items())
    return f"liaison bench: complete load v{_data.DATA_VERSION} schema {schema} {counts}"


def existing_load(admin_url: str, name: str, shape: _data.Shape, schema: str) -> bool:
    """True when database `name` holds a complete load of this shape and schema."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return row is not None and row[0] == _marker(shape, schema)


def create_tables(app) -> None:
    """Create the app's tables that do not exist yet (the schema comes from the models)."""
    from server.extensions import db

    with app.app_context():
        db.create_all()


def recreate_database(admin_url: str, name: str) -> None:
    """Drop (forcing out sessions) and create the database `name`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed_people(app) -> tuple[int, tuple[int, ...]]:
    """The org and its users (through the app's models); returns (org id, user ids)."""
    from server.extensions import db
    from server.orgs.models import Organization, User
    from server.orgs.settings import set_org_settings

    create_tables(app)
    with app.app_context():
        org = Organization(name="Bench Org", edition="professional", org_address=ORG_ADDRESS)
        db.session.add(org)
        db.session.flush()
        users = [User(org_id=org.id, name=n, email=e, role=r) for n, e, r in _USERS]
        db.session.add_all(users)
        db.session.commit()
        set_org_settings(None, {"apply_default_association": True, "data_privacy": True}, org.id)
        return org.id, tuple(u.id for u in users)


def issue_token(app) -> tuple[str, int]:
    """A fresh API token for the benchmark rep (plaintext; only its hash is stored), its org id."""
    from server.auth.tokens import create_api_token
    from server.extensions import db
    from server.orgs.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == BENCH_EMAIL))
        _, plaintext = create_api_token(user, f"bench {secrets.token_hex(3)}")
        return plaintext, user.org_id


def _secondary_ddl(conn: psycopg.Connection, table: str) -> tuple[list[str], list[str]]:
    """(drop statements, create statements) for a table's unique constraints and plain indexes."""
    drops, creates = [], []
    for name, definition in conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'u'",
        (table,),
    ):
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        creates.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        (table,),
    ):
        drops.append(f'DROP INDEX "{name}"')
        creates.append(definition)
    return drops, creates


def _batches(rows: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


def _copy(conn: psycopg.Connection, table: str, shape: _data.Shape) -> None:
    columns = ", ".join(_data.COLUMNS[table])
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)") as cp:
        for chunk in _batches(_data.GENERATORS[table](shape)):
            cp.write(chunk)


def bulk_load(url: str, shape: _data.Shape, schema: str, say: Say) -> dict[str, float]:
    """COPY every bulk table, rebuild indexes, ANALYZE; returns seconds per step."""
    timings: dict[str, float] = {}
    counts = shape.counts()
    with psycopg.connect(url) as conn:
        try:
            conn.execute("SET session_replication_role = replica")  # no FK triggers per row
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
            say("  (not a superuser: foreign keys are checked row by row, slower)")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        ddl = {table: _secondary_ddl(conn, table) for table in BULK_TABLES}
        for drops, _ in ddl.values():
            for statement in drops:
                conn.execute(statement)
        conn.execute(f"TRUNCATE {', '.join(BULK_TABLES)} CASCADE")  # FREEZE needs it in this tx
        for table in BULK_TABLES:
            started = time.perf_counter()
            _copy(conn, table, shape)
            seconds = timings[f"copy {table}"] = time.perf_counter() - started
            say(f"  copy   {table:<16} {counts[table]:>10,} rows  {seconds:7.1f} s")
        conn.commit()
        conn.autocommit = True
        for table, (_, creates) in ddl.items():
            started = time.perf_counter()
            for statement in creates:
                conn.execute(statement)
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (counts[table],)
            )
            timings[f"index {table}"] = time.perf_counter() - started
            say(f"  index  {table:<16} {len(creates):>3} index(es)       "
                f"{timings[f'index {table}']:7.1f} s")  # fmt: skip
        started = time.perf_counter()
        conn.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - started
        say(f"  analyze (all tables)                      {timings['analyze']:7.1f} s")
        name = conn.info.dbname
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{_marker(shape, schema)}'")
    return timings
