"""`liaison orgs ...` and `liaison users ...`: the operator's commands (no role checks; the rules
that protect an org, such as keeping one active super-admin, still hold)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from . import service
from .models import EDITIONS, ROLES

orgs = click.Group("orgs", help="Manage organizations.")
users = click.Group("users", help="Manage users.")


def _run(action: Callable[[], Any]) -> Any:
    """Run a service call; a refused one becomes a one-line error and exit status 1."""
    try:
        return action()
    except ServiceError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{where}") from None


@orgs.command("create")
@click.option("--name", required=True)
@click.option("--tenant", "tenants", multiple=True, help="Microsoft tenant id (repeatable).")
@click.option("--domain", "domains", multiple=True, help="Google Workspace domain (repeatable).")
@click.option("--edition", type=click.Choice(EDITIONS), default="standard", show_default=True)
@click.option("--time-zone", default="UTC", show_default=True)
@with_appcontext
def create_org(name: str, tenants: tuple, domains: tuple, edition: str, time_zone: str) -> None:
    """Create an organization mapped to tenants and domains; prints its id."""
    org = _run(lambda: service.create_org(name, tenants, domains, edition, time_zone))
    click.echo(f"Created organization {org.id}: {org.name} ({org.edition})")


@orgs.command("list")
@with_appcontext
def list_orgs() -> None:
    """List organizations with their tenants and domains."""
    for org in service.list_orgs():
        tenants = ",".join(sorted(t.tenant_id for t in org.tenants)) or "-"
        domains = ",".join(sorted(d.domain for d in org.domains)) or "-"
        click.echo(f"{org.id}\t{org.name}\t{org.edition}\ttenants={tenants}\tdomains={domains}")


@users.command("create")
@click.option("--org", "org_id", type=int, required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(ROLES), default="rep", show_default=True)
@click.option("--time-zone", default=None)
@with_appcontext
def create_user(org_id: int, email: str, name: str, role: str, time_zone: str | None) -> None:
    """Add a user to an organization."""
    user = _run(lambda: service.create_user(None, org_id, email, name, role, time_zone))
    click.echo(f"Created user {user.id}: {user.email} ({user.role})")


@users.command("list")
@click.option("--org", "org_id", type=int, required=True)
@with_appcontext
def list_users(org_id: int) -> None:
    """List the users of an organization."""
    _run(lambda: service.get_org(org_id))
    cursor = None
    while True:
        page, cursor = service.list_users(org_id, cursor, 500)
        for user in page:
            state = "active" if user.is_active else "deactivated"
            click.echo(f"{user.id}\t{user.email}\t{user.name}\t{user.role}\t{state}")
        if cursor is None:
            break


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--org", "org_id", type=int, required=True)
@with_appcontext
def set_role(email: str, role: str, org_id: int) -> None:
    """Change a user's role."""
    user = _run(lambda: service.user_by_email(org_id, email))
    _run(lambda: service.update_user(None, org_id, user.id, {"role": role}))
    click.echo(f"{user.email} is now {user.role}")


@users.command("deactivate")
@click.argument("email")
@click.option("--org", "org_id", type=int, required=True)
@with_appcontext
def deactivate(email: str, org_id: int) -> None:
    """Deactivate a user (their tokens stop working; their records stay)."""
    user = _run(lambda: service.user_by_email(org_id, email))
    _run(lambda: service.update_user(None, org_id, user.id, {"is_active": False}))
    click.echo(f"{user.email} is deactivated")


@users.command("reactivate")
@click.argument("email")
@click.option("--org", "org_id", type=int, required=True)
@with_appcontext
def reactivate(email: str, org_id: int) -> None:
    """Reactivate a deactivated user."""
    user = _run(lambda: service.user_by_email(org_id, email))
    _run(lambda: service.update_user(None, org_id, user.id, {"is_active": True}))
    click.echo(f"{user.email} is active")


@users.command("token")
@click.argument("email")
@click.option("--org", "org_id", type=int, required=True)
@click.option("--name", required=True, help="What the token is for.")
@with_appcontext
def token(email: str, org_id: int, name: str) -> None:
    """Create a personal API token for a user and print it (shown this once only)."""
    from ..auth.tokens import create_api_token

    user = _run(lambda: service.user_by_email(org_id, email))
    if not user.is_active:
        raise click.ClickException(f"{user.email} is deactivated.")
    _, plaintext = _run(lambda: create_api_token(user, name))
    click.echo(plaintext)
    click.echo("Keep it now: it is not stored and cannot be shown again.", err=True)
