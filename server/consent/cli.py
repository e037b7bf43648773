"""`liaison contacts export|erase ID --org ORG`: data subject rights from the shell (GDPR-8).

Export prints the JSON (or writes it with --output). Erase asks to type the contact's primary
email (or pass --yes) and records an anonymized "contact_erased" audit entry with surface "cli".
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from ..records.service import get_contact
from . import data_subject

contacts = click.Group("contacts", help="A contact's data: export it, or erase it (GDPR-8).")


def _run(action) -> Any:
    try:
        return action()
    except ServiceError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{where}") from None


@contacts.command("export")
@click.argument("contact_id", type=int)
@click.option("--org", "org_id", type=int, required=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None)
@with_appcontext
def export_command(contact_id: int, org_id: int, output: str | None) -> None:
    """Print (or write to --output) everything held about a contact, as JSON."""
    data = _run(lambda: data_subject.export_contact(org_id, contact_id, None, "cli"))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(f"Wrote {output}")
    else:
        click.echo(text)


@contacts.command("erase")
@click.argument("contact_id", type=int)
@click.option("--org", "org_id", type=int, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_command(contact_id: int, org_id: int, yes: bool) -> None:
    """Erase a contact everywhere (records, emails, events, attachments, consent)."""
    contact = _run(lambda: get_contact(org_id, contact_id))
    expected = contact.primary_email or f"contact #{contact.id}"
    if yes:
        typed = expected
    else:
        click.echo(f"This erases contact {contact_id} and its data for good.")
        typed = click.prompt(f"Type {expected!r} to confirm", default="", show_default=False)
    counts = _run(lambda: data_subject.erase_contact(org_id, contact_id, None, "cli", typed))
    click.echo(f"Erased contact {contact_id}: {json.dumps(counts, sort_keys=True)}")
