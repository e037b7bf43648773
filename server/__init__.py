"""Liaison: a CRM inside the mailbox. `create_app(config)` builds the Flask app."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from werkzeug.routing import IntegerConverter

from . import input_text
from .config import Config, normalize_database_url
from .errors import register_error_handlers
from .extensions import db, migrate
from .fields import MAX_ID

BLUEPRINTS = (
    "server.health:bp",
    "server.auth.routes:bp",
    "server.auth.signin_routes:bp",
    "server.mail.mailbox_routes:bp",
    "server.orgs.routes:bp",
    "server.records.routes:bp",
    "server.records.query_routes:bp",
    "server.records.import_routes:bp",
    "server.mail.inbound_routes:bp",
    "server.emails.routes:bp",
    "server.emails.timeline_routes:bp",
    "server.emails.send_routes:bp",
    "server.surfaces.web.routes:bp",
    "server.consent.routes:bp",
    "server.consent.unsubscribe_routes:bp",
    "server.consent.admin_routes:bp",
    "server.surfaces.outlook:bp",
    "server.notifications.routes:bp",
    "server.tracking.routes:bp",
    "server.surfaces.gmail_addon.routes:bp",
    "server.bulk.template_routes:bp",
)


def _instance_secret(instance_path: str) -> str:
    """The secret key kept in the instance folder, generated on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class IdConverter(IntegerConverter):
    """`<int:...>` in our routes: a positive id within the column range; anything else is a 404
    (an unbounded integer would reach the database and fail there)."""

    def __init__(self, url_map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def _load(dotted: str) -> Any:
    module_name, attr = dotted.split(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)


def create_app(config: Config | dict | None = None) -> APIFlask:
    """The app factory: configuration from the environment unless a config is given."""
    if config is None:
        config = Config.from_env()
    settings = config.as_flask() if isinstance(config, Config) else dict(config)
    instance_path = os.environ.get("LIAISON_INSTANCE_PATH") or settings.pop("INSTANCE_PATH", None)
    app = APIFlask(
        __name__,
        title="Liaison API",
        version="0.1.0",
        spec_path="/api/openapi.json",
        docs_path="/api/docs",
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    )
    app.config.from_mapping(Config().as_flask())
    app.config.update({k: v for k, v in settings.items() if v is not None})
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    app.config["SWAGGER_UI_CSS"] = "/static/vendor/swagger-ui/swagger-ui.css"
    app.config["SWAGGER_UI_BUNDLE_JS"] = "/static/vendor/swagger-ui/swagger-ui-bundle.js"
    app.config["SWAGGER_UI_STANDALONE_PRESET_JS"] = (
        "/static/vendor/swagger-ui/swagger-ui-standalone-preset.js"
    )
    app.config["DOCS_FAVICON"] = "/static/favicon.svg"
    app.security_schemes = {
        "BearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token (create one on the web app's settings page, or "
                "`liaison users token`), a Microsoft identity token or a Google ID token. "
                "In these docs, click Authorize and paste a personal API token to try requests: "
                "a signed-in browser session also needs its CSRF token, which the docs do not send."
            ),
        },
    }

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'liaison.sqlite'}"
        )
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    from .dbsetup import configure_engine_events

    with app.app_context():
        configure_engine_events(db.engine)

    register_error_handlers(app)
    input_text.register(app)
    app.url_map.converters["int"] = IdConverter
    for dotted in BLUEPRINTS:
        app.register_blueprint(_load(dotted))
    from . import models  # noqa: F401  (every table registered with the metadata)

    return app
