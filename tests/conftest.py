"""Test harness: every database test runs on SQLite and, when LIAISON_TEST_DATABASE_URL is set,
on PostgreSQL too (a fresh database is created for the run and dropped after it).

A configured service that cannot be reached fails the run loudly; nothing is skipped silently.
"""

from __future__ import annotations

import os
import socket

import pytest
from databases import BACKENDS, PG_URL, database_url_for, make_test_app
from sqlalchemy import event, make_url, text

from server.extensions import db

# Fixtures of the loopback fakes: `oidc` (an OpenID issuer), `oauth` (authorization server:
# code, refresh, on-behalf-of), `smtp_sink` / `make_smtp_sink` (an aiosmtpd sink).
pytest_plugins = ["fakes.oidc", "fakes.oauth_server", "fakes.smtp_sink"]


# --- no network beyond this machine -------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = address[0]
    return host in {"localhost", "::1"} or str(host).startswith("127.")


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


def pytest_report_header(config):
    pg = (
        f"PostgreSQL at {make_url(PG_URL).render_as_string()}"
        if PG_URL
        else (
            "PostgreSQL: not configured (set LIAISON_TEST_DATABASE_URL to run every database test "
            "on PostgreSQL too)"
        )
    )
    redis_url = os.environ.get("LIAISON_TEST_REDIS_URL")
    queue = (
        f"Redis/Celery at {redis_url}"
        if redis_url
        else ("Redis/Celery: not configured (set LIAISON_TEST_REDIS_URL to run the Celery tests)")
    )
    return [f"database backends: {', '.join(BACKENDS)}", pg, queue]


# --- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def _app_for_backend(backend, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"app-{backend}")
    with database_url_for(backend, tmp) as url:
        app = make_test_app(url, tmp / "instance")
        with app.app_context():
            db.create_all()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(_app_for_backend):
    """The app with an empty database and an app context pushed for the test."""
    with _app_for_backend.app_context():
        yield _app_for_backend
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def count_queries(app):
    """A list that collects every SQL statement run while the test runs."""
    statements: list[str] = []

    def _record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    yield statements
    event.remove(db.engine, "before_cursor_execute", _record)


@pytest.fixture
def relay(app, make_smtp_sink):
    """The app's SMTP relay pointed at an SMTP sink for this test (restored after it); like the
    relays mail really goes through (Postfix, Exchange Online, Gmail) it offers PIPELINING."""
    smtp_sink = make_smtp_sink(pipelining=True)
    previous = {k: app.config.get(k) for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY")}
    app.config.update(SMTP_HOST=smtp_sink.host, SMTP_PORT=smtp_sink.port, SMTP_SECURITY="none")
    yield smtp_sink
    app.config.update(previous)
