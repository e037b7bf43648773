"""Fresh test databases (SQLite file, or a new PostgreSQL database per run) and test apps."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from server import create_app

PG_URL = os.environ.get("LIAISON_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"liaison_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # loud: a configured database that is not there is a failure
        pytest.exit(f"LIAISON_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", 3)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextlib.contextmanager
def database_url_for(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A fresh, empty database of the given backend for the duration of the block."""
    if backend == "postgresql":
        with _postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_dir / f'test-{uuid.uuid4().hex[:8]}.sqlite'}"


def make_test_app(database_url: str, instance_path: Path, **overrides):
    """An app configured for tests: given database, own instance folder, fixed secret."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "INSTANCE_PATH": str(instance_path),
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
        # a configured relay that refuses (port 9, discard): queueing from the org address works;
        # tests that really send start the SMTP sink and point these at it
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 9,
        "SMTP_SECURITY": "none",
        # a notification stream ends after a second in tests (the fuzzer calls it many times)
        "NOTIFICATIONS_STREAM_SECONDS": 1.0,
        "NOTIFICATIONS_KEEPALIVE_SECONDS": 0.2,
        **overrides,
    }
    return create_app(config)
