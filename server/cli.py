"""The `liaison` command: serve, worker, db, users, import, demo, manifest, bench."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup

from . import create_app

main = FlaskGroup(create_app=create_app, help="Liaison: a CRM inside the mailbox.")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the app (threaded server) with the in-process job runner unless LIAISON_QUEUE=celery.

    At scale: gunicorn 'server:create_app()' for the web, `liaison worker` and `liaison beat`.
    """
    from flask import current_app
    from werkzeug.serving import run_simple

    from .jobs import start_inline_runner

    app = current_app._get_current_object()
    if app.config.get("QUEUE", "inline") == "inline":
        start_inline_runner(app)
    # not app.run(): Flask ignores it inside a `flask`-style CLI command
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("bench", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(name: str, args: tuple[str, ...]) -> None:
    """Run the benchmark bench/NAME.py of this checkout (prints figures and ratios)."""
    path = Path(__file__).resolve().parent.parent / "bench" / f"{name}.py"
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.py") if not p.stem.startswith("_"))
        raise click.UsageError(f"no benchmark {name!r}; available: {', '.join(available)}")
    sys.argv = [str(path), *args]
    runpy.run_path(str(path), run_name="__main__")


def _register_commands() -> None:
    from .jobs.cli import beat, worker
    from .mail.inbound_cli import inbound
    from .orgs.cli import orgs, users
    from .records.import_cli import import_group
    from .surfaces.web.demo import demo

    for command in (orgs, users, import_group, demo, worker, beat):
        main.add_command(command)
    main.add_command(inbound)

    from .mail.cli import dkim_group

    main.add_command(dkim_group)
    from .consent.cli import contacts

    main.add_command(contacts)

    from .surfaces.manifest_cli import manifest

    main.add_command(manifest)


_register_commands()
