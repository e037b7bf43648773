"""`liaison inbound`: run the inbound SMTP listener until Ctrl-C (LOG-2, BULK-10);
`liaison inbound dead-letters list|show|retry|purge`: the operator's view of dead letters,
by default those of no org (mail to no route of ours), which no org admin can see."""

from __future__ import annotations

import threading
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("inbound", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
@with_appcontext
def inbound(ctx: click.Context, host: str, port: int) -> None:
    """Receive mail for the inbound domain (logging addresses, bounces) over SMTP; with a
    subcommand, manage dead letters instead."""
    if ctx.invoked_subcommand is not None:
        return
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


ORG_HELP = 'Scope: "none" (dead letters of no org, the default), "all", or an org id.'


def _org(value: str) -> str | int:
    if value in ("none", "all"):
        return value
    if not value.isdigit():
        raise click.BadParameter('"none", "all" or an org id', param_hint="--org")
    return int(value)


@inbound.group("dead-letters")
def dead_letters_group() -> None:
    """Inbound messages that could not be routed: list, show, retry, purge."""


@dead_letters_group.command("list")
@click.option("--org", default="none", show_default=True, help=ORG_HELP)
@click.option("--status", type=click.Choice(["new", "retried", "resolved"]), default=None)
@click.option("--limit", default=50, show_default=True, type=int)
@with_appcontext
def list_command(org: str, status: str | None, limit: int) -> None:
    """One line per dead letter, newest first."""
    from .dead_letters import operator_dead_letters

    rows = operator_dead_letters(_org(org), status, limit)
    for row in rows:
        recipients = ", ".join(row.envelope_recipients or [])
        click.echo(
            f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\torg={row.org_id or '-'}\t{row.status}"
            f"\t{row.source}\t{row.size} B\t{recipients}\t{row.reason}"
        )
    click.echo(f"{len(rows)} dead letter(s).", err=True)


@dead_letters_group.command("show")
@click.argument("dead_letter_id", type=int)
@click.option("--raw", is_flag=True, help="Print the stored message bytes instead.")
@with_appcontext
def show_command(dead_letter_id: int, raw: bool) -> None:
    """A dead letter's details (or its raw message)."""
    from ..errors import NotFound
    from .dead_letters import get_dead_letter

    try:
        row = get_dead_letter(None, dead_letter_id)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if raw:
        click.get_binary_stream("stdout").write(row.raw)
        return
    for name in ("id", "org_id", "received_at", "source", "size", "status", "attempts",
                 "last_retry_at", "resolved_at", "reason"):  # fmt: skip
        click.echo(f"{name}: {getattr(row, name)}")
    click.echo(f"envelope_recipients: {', '.join(row.envelope_recipients or [])}")
    head = row.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    click.echo("headers:\n" + head.decode("utf-8", "replace"))


@dead_letters_group.command("retry")
@click.argument("dead_letter_id", type=int)
@with_appcontext
def retry_command(dead_letter_id: int) -> None:
    """Route a dead letter again (e.g. after fixing the route)."""
    from ..errors import Conflict, NotFound
    from .dead_letters import retry_dead_letter

    try:
        row, result = retry_dead_letter(None, dead_letter_id)
    except (NotFound, Conflict) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{row.id}: {row.status} ({result.status}{': ' + result.reason if result.reason else ''})"
    )


@dead_letters_group.command("purge")
@click.option("--org", default="none", show_default=True, help=ORG_HELP)
@click.option("--status", type=click.Choice(["new", "retried", "resolved"]), default=None)
@click.option("--older-than-days", default=30, show_default=True, type=int,
              help="Only those received longer ago (0: any age).")  # fmt: skip
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge_command(org: str, status: str | None, older_than_days: int, yes: bool) -> None:
    """Delete dead letters (by default: of no org, received over 30 days ago)."""
    from ..clock import utcnow
    from .dead_letters import purge_dead_letters

    scope = _org(org)
    before = utcnow() - timedelta(days=older_than_days) if older_than_days > 0 else None
    if not yes:
        age = f"received over {older_than_days} days ago" if before else "of any age"
        click.confirm(f"Delete dead letters (org {scope}, status {status or 'any'}, {age})?",
                      abort=True)  # fmt: skip
    click.echo(f"Deleted {purge_dead_letters(scope, status, before)} dead letter(s).")
