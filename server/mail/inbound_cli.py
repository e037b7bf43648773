"""`liaison inbound`: run the inbound SMTP listener until Ctrl-C (LOG-2, BULK-10)."""

from __future__ import annotations

import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("inbound")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def inbound(host: str, port: int) -> None:
    """Receive mail for the inbound domain (logging addresses, bounces) over SMTP."""
    from .inbound_smtp import start_listener

    app = current_app._get_current_object()
    controller = start_listener(app, host, port)
    domain = app.config["INBOUND_DOMAIN"]
    limit = app.config["INBOUND_MAX_BYTES"]
    click.echo(f"Inbound SMTP for @{domain} on {host}:{port} (max {limit} bytes); Ctrl-C stops.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopping.")
    finally:
        controller.stop()
