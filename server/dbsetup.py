"""Engine-level settings that differ between SQLite and PostgreSQL."""

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine_events(engine: Engine) -> None:
    """Turn on SQLite foreign keys and WAL so it behaves like the production database."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
