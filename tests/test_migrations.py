"""The Alembic migrations build exactly the schema the models declare, on both backends."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from databases import BACKENDS, database_url_for, make_test_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from server.extensions import db


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_migrations_match_models_and_downgrade_cleanly(backend_name, tmp_path):
    with database_url_for(backend_name, tmp_path) as url:
        app = make_test_app(url, tmp_path / "instance")
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "render_as_batch": True}
                )
                differences = compare_metadata(context, db.metadata)
            assert differences == [], f"models and migrations differ: {differences}"
            downgrade(revision="base")
            with db.engine.connect() as connection:
                remaining = set(inspect(connection).get_table_names()) - {"alembic_version"}
            assert remaining == set()
            db.engine.dispose()
