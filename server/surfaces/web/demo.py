"""`liaison demo`: seed a demo organization into instance/demo.sqlite and serve it on loopback.

Demo sign-in needs no password, so the command refuses any address but loopback, and the app's
sign-in page refuses requests that do not come from loopback.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import run_simple

from ... import create_app
from ...config import Config
from ...extensions import db
from ...jobs import start_inline_runner
from ...orgs.models import Organization
from .seed import seed_demo
from .seed_activity import seed_activity
from .seed_data import DEMO_ORG_NAME


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def demo_instance_path() -> Path:
    """The instance folder the app uses (LIAISON_INSTANCE_PATH or Flask's default)."""
    configured = os.environ.get("LIAISON_INSTANCE_PATH")
    return Path(configured or Flask("server").instance_path).resolve()


def build_demo_app(
    reset: bool = True, base_url: str = "http://127.0.0.1:5000", instance: Path | None = None
):
    """The app in demo mode on <instance>/demo.sqlite, seeded unless it already holds the demo
    org; returns (app, what was seeded or None)."""
    instance = instance or demo_instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    database = instance / "demo.sqlite"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
    settings = Config.from_env().as_flask()
    settings.update(
        DEMO=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        BASE_URL=base_url,
        INSTANCE_PATH=str(instance),
    )
    app = create_app(settings)
    with app.app_context():
        upgrade()  # the same Alembic migrations as production
        existing = db.session.scalar(
            select(Organization.id).where(Organization.name == DEMO_ORG_NAME)
        )
        seeded = None
        if existing is None:
            seeded = seed_demo(db.session)
            seeded.update(seed_activity(seeded["org_id"]))
    return app, seeded


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--reset/--keep",
    default=True,
    show_default=True,
    help="Start from a fresh demo database, or keep the one from the last run.",
)
def demo(host: str, port: int, reset: bool) -> None:
    """Seed a demo organization and serve it on this machine, with a pick-a-user sign-in page."""
    if not is_loopback_host(host):
        raise click.UsageError(
            f"The demo only serves on a loopback address (127.0.0.1, ::1 or localhost), not "
            f"{host!r}: its sign-in page lets anyone pick a user without a password."
        )
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    app, seeded = build_demo_app(reset=reset, base_url=base)
    database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    if seeded:
        click.echo(
            f"Seeded {DEMO_ORG_NAME}: {seeded['contacts']} contacts, {seeded['companies']} "
            f"companies, {seeded['deals']} deals, {seeded['tickets']} tickets, "
            f"{seeded['custom_records']} vehicles, {seeded['threads']} logged email threads "
            f"({database})."
        )
    else:
        click.echo(f"Keeping the demo data in {database}.")
    click.echo(f"  Web app:       {base}/")
    click.echo(f"  Sign in:       {base}/signin")
    click.echo(f"  API docs:      {base}/api/docs")
    click.echo(f"  OpenAPI JSON:  {base}/api/openapi.json")
    start_inline_runner(app)
    run_simple(host.strip("[]"), port, app, threaded=True, use_reloader=False)
