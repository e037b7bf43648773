"""`liaison dkim generate`: a DKIM key for the org's domain, kept in the instance folder."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from .dkim import dns_record, generate_key, key_path, store_key


@click.group("dkim")
def dkim_group() -> None:
    """DKIM keys for signing outgoing mail."""


@dkim_group.command("generate")
@click.option(
    "--selector", required=True, help="DKIM selector, e.g. s1 (published as s1._domainkey)"
)
@click.option("--domain", default=None, help="Signing domain (default: MAIL_DOMAIN)")
@click.option("--force", is_flag=True, help="Replace an existing key for this selector")
@with_appcontext
def generate(selector: str, domain: str | None, force: bool) -> None:
    """Generate an RSA 2048 key, store it (0600) and print the DNS TXT record to publish."""
    domain = domain or current_app.config["MAIL_DOMAIN"]
    try:
        path = key_path(current_app.instance_path, domain, selector)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if path.exists() and not force:
        raise click.ClickException(f"a key already exists at {path}; use --force to replace it")
    pem = generate_key()
    store_key(path, pem, overwrite=force)
    click.echo(f"Private key written to {path} (mode 0600).", err=True)
    click.echo("Publish this DNS TXT record:", err=True)
    click.echo(dns_record(selector, domain, pem))
