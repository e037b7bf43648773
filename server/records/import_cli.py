"""`liaison import contacts|companies|deals FILE.csv --org ID ...`: CSV import (REC-5).

A progress bar follows the bytes read; the rows' errors are printed as a table (and all of them
written to --errors FILE). Exit status 1 when nothing could be imported.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..errors import ServiceError
from ..extensions import db
from ..orgs.models import Organization, User
from .importer import ON_DUPLICATE, ImportOptions, ImportResult, RowError, import_csv

import_group = click.Group("import", help="Import contacts, companies or deals from a CSV file.")

SHOWN_ERRORS = 50


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, target = pair.rpartition("=")
        if not sep or not header.strip():
            raise click.BadParameter(f'{pair!r}: use "Column Header=field".', param_hint="--map")
        mapping[header.strip()] = target.strip()
    return mapping


def _owner_id(org_id: int, email: str | None) -> int | None:
    if email is None:
        return None
    user_id = db.session.scalar(
        select(User.id).where(
            User.org_id == org_id, User.email == email.strip().lower(), User.is_active
        )
    )
    if user_id is None:
        raise click.BadParameter(f"no user {email} in organization {org_id}", param_hint="--owner")
    return user_id


def _error_table(result: ImportResult, errors_path: str | None) -> None:
    shown = result.errors[:SHOWN_ERRORS]
    width = max([len(e.column or "") for e in shown] + [6])
    click.echo(f"\n{'Row':>7}  {'Column':<{width}}  Reason")
    for error in shown:
        click.echo(f"{error.row:>7}  {error.column or '':<{width}}  {error.reason}")
    if result.errors_total > len(shown):
        more = result.errors_total - len(shown)
        where = f"all are in {errors_path}" if errors_path else "write them all with --errors FILE"
        click.echo(f"... and {more} more errors ({where}).")


def _run(record_type: str, file: str, org_id: int, options: dict[str, Any]) -> None:
    if db.session.get(Organization, org_id) is None:
        raise click.BadParameter(f"no organization {org_id}", param_hint="--org")
    errors_path = options.pop("errors_path")
    opts = ImportOptions(
        mapping=_mapping(options.pop("maps")),
        owner_id=_owner_id(org_id, options.pop("owner")),
        **options,
    )
    sink, handle = _error_writer(errors_path)
    size = Path(file).stat().st_size
    try:
        with click.progressbar(length=size, label=f"Importing {record_type} rows") as bar:
            seen = [0]

            def progress(done: int, result: ImportResult) -> None:
                bar.update(max(0, min(done, size) - seen[0]))
                seen[0] = max(seen[0], min(done, size))

            result = import_csv(org_id, record_type, file, opts, progress, sink)
    except ServiceError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{where}") from None
    finally:
        if handle:
            handle.close()
    if result.columns and result.columns.ignored:
        click.echo(f"Ignored columns: {', '.join(result.columns.ignored)}")
    if result.errors_total:
        _error_table(result, errors_path)
    click.echo(result.message)
    if not result.written and not opts.dry_run:
        raise click.exceptions.Exit(1)


def _error_writer(path: str | None) -> tuple[Callable[[RowError], None] | None, Any]:
    """A sink writing every row error to a CSV file (row, column, reason), or none."""
    if not path:
        return None, None
    handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115  (closed by _run)
    writer = csv.writer(handle)
    writer.writerow(["row", "column", "reason"])
    return lambda error: writer.writerow([error.row, error.column or "", error.reason]), handle


def _command(record_type: str, name: str, summary: str) -> click.Command:
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
    @click.option("--org", "org_id", type=int, required=True, help="Organization id.")
    @click.option(
        "--map", "maps", multiple=True, metavar='"HEADER=field"',
        help='Map a column to a field (repeatable); "HEADER=" ignores the column.',
    )  # fmt: skip
    @click.option("--partial", is_flag=True, help="Write the good rows; report the bad ones.")
    @click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
    @click.option("--owner", metavar="EMAIL", help="Owner of rows whose owner column is empty.")
    @click.option(
        "--on-duplicate", type=click.Choice(ON_DUPLICATE), default="error", show_default=True,
        help="What to do with a row whose key (address, domain) exists or repeats.",
    )  # fmt: skip
    @click.option("--errors", "errors_path", type=click.Path(dir_okay=False, writable=True),
                  help="Write every row error to this CSV file.")  # fmt: skip
    @click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, hidden=True)
    @with_appcontext
    def command(file: str, org_id: int, **options: Any) -> None:
        _run(record_type, file, org_id, options)

    command.__doc__ = summary
    return import_group.command(name, help=summary)(command)


contacts = _command(
    "contact",
    "contacts",
    "Import contacts (email required; first/last name, job title, phone, lifecycle stage, "
    "marketing, company by name or domain, owner by email, properties.NAME).",
)
companies = _command(
    "company",
    "companies",
    "Import companies (name required; domain(s), industry, owner by email, properties.NAME).",
)
deals = _command(
    "deal",
    "deals",
    "Import deals (name required; stage, amount, currency, close date, closed, company by name "
    "or domain, contact(s) by email, owner by email, properties.NAME).",
)
