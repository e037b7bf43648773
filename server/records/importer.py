"""CSV import of contacts, companies and deals (REC-5).

`import_csv(org_id, record_type, path, options)` streams the file (never read whole), checks each
row with the records' rules, and writes batches of `batch_size` rows with one multi-row INSERT
per table, all in ONE transaction: by default a single bad row means nothing is written (the rest
of the file is still checked, so the report is complete); with `partial` the good rows are written
and the bad ones reported. Memory stays flat whatever the file size: a batch of rows and the set
of the normalized keys (addresses, domains) seen so far, for duplicates within the file.

The CLI (import_cli) and the API's jobs (import_jobs) both call it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from .import_kinds import WRITERS
from .import_rows import FIELDS, REQUIRED, PendingRow, check_required, clean_row
from .import_source import ColumnMap, CsvSource, map_columns

BATCH_SIZE = 1000
KEPT_ERRORS = 1000
ON_DUPLICATE = ("error", "skip", "update")


@dataclass
class ImportOptions:
    """How to import: mapping overrides {header: field or ""}, all-or-nothing or partial, etc."""

    mapping: dict[str, str] | None = None
    partial: bool = False
    dry_run: bool = False
    on_duplicate: str = "error"  # error | skip | update (existing records)
    owner_id: int | None = None  # owner of rows that name none
    user_id: int | None = None  # who imports (recorded on associations)
    batch_size: int = BATCH_SIZE


@dataclass
class RowError:
    """One problem of one row: its number (header = 1), the file's column, the reason."""

    row: int
    column: str | None
    reason: str

    def as_dict(self) -> dict:
        """The error as JSON."""
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class ImportResult:
    """What an import did (or, with dry_run or after errors, would have done)."""

    record_type: str
    bytes_total: int = 0
    rows_total: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_skipped: int = 0
    rows_failed: int = 0
    errors_total: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS
    written: bool = False  # committed to the database
    message: str = ""
    columns: ColumnMap | None = None

    @property
    def rows_done(self) -> int:
        """Rows checked so far."""
        return self.rows_total


Progress = Callable[[int, ImportResult], None]
ErrorSink = Callable[[RowError], None]


def check_options(record_type: str, options: ImportOptions) -> None:
    """422 on an unknown record type or duplicate policy."""
    if record_type not in WRITERS:
        raise ValidationFailed(
            f"Cannot import {record_type!r}; use one of {', '.join(WRITERS)}.", field="record_type"
        )
    if options.on_duplicate not in ON_DUPLICATE:
        raise ValidationFailed(
            f"on_duplicate is one of {', '.join(ON_DUPLICATE)}.", field="on_duplicate"
        )


class _Run:
    """The state of one import while it runs."""

    def __init__(self, org_id: int, record_type: str, options: ImportOptions, on_error: ErrorSink):
        self.record_type, self.options, self.on_error = record_type, options, on_error
        self.writer = WRITERS[record_type](
            org_id, options.on_duplicate, options.owner_id, options.user_id
        )
        self.result = ImportResult(record_type=record_type)

    def pending(self, columns: ColumnMap, width: int, row: int, cells: list[str]) -> PendingRow:
        """Clean the mapped cells of one row."""
        values = {name: cells[i] if i < len(cells) else "" for i, _, name in columns.columns}
        pending = clean_row(row, values)
        check_required(pending, self.record_type)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            pending.errors.append((None, f"The row has {len(cells)} cells; the header {width}."))
        return pending

    def report(self, pending: PendingRow, columns: ColumnMap) -> None:
        """Count a bad row and pass its errors on."""
        self.result.rows_failed += 1
        for name, reason in sorted(pending.errors, key=lambda e: columns.position_of(e[0])):
            error = RowError(pending.row, columns.header_of(name) if name else None, reason)
            self.result.errors_total += 1
            if len(self.result.errors) < KEPT_ERRORS:
                self.result.errors.append(error)
            self.on_error(error)

    def flush(self, batch: list[PendingRow], columns: ColumnMap) -> None:
        """Resolve a batch against the database; write its good rows when the mode allows."""
        self.writer.resolve(batch)
        good = []
        for pending in batch:
            if pending.errors:
                self.report(pending, columns)
            elif pending.action == "skip":
                self.result.rows_skipped += 1
            else:
                good.append(pending)
        if good and (self.options.partial or not self.result.errors_total):
            created, updated = self.writer.write(good)
            self.result.rows_created += created
            self.result.rows_updated += updated


def import_csv(
    org_id: int,
    record_type: str,
    path: str | os.PathLike,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    on_error: ErrorSink | None = None,
    on_finish: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import a CSV file into the org in one transaction; see the module docstring.

    Raises BadRequest (field "file" or "mapping") when the file cannot be imported at all, and
    Conflict when a key was taken by someone else during the import; nothing is written then.
    `on_finish(result)` runs last, in the transaction that commits the rows (or, when nothing is
    written, in a fresh one), so a caller's own bookkeeping commits with them.
    """
    options = options or ImportOptions()
    check_options(record_type, options)
    run = _Run(org_id, record_type, options, on_error or (lambda error: None))
    result = run.result
    try:
        with CsvSource(path) as source:
            result.bytes_total = source.size
            columns = map_columns(
                source.header, FIELDS[record_type], REQUIRED[record_type], options.mapping
            )
            result.columns = columns
            batch: list[PendingRow] = []
            for row, cells in source.rows():
                result.rows_total += 1
                batch.append(run.pending(columns, len(source.header), row, cells))
                if len(batch) >= options.batch_size:
                    run.flush(batch, columns)
                    batch = []
                    if progress:
                        progress(source.bytes_read, result)
            if batch:
                run.flush(batch, columns)
        if progress:
            progress(result.bytes_total, result)
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            "A record with one of these keys was created elsewhere during the import; "
            "nothing was imported. Import the file again.",
            field="file",
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    _finish(result, options, on_finish)
    return result


def _finish(result: ImportResult, options: ImportOptions, on_finish: Callable | None) -> None:
    """Commit or roll back, and say what happened."""
    good = result.rows_created + result.rows_updated
    if result.errors_total and not options.partial:
        db.session.rollback()
        result.rows_created = result.rows_updated = 0
        result.message = (
            f"{result.rows_failed} of {result.rows_total} rows have errors; nothing was imported "
            "(fix them, or import with partial to write the good rows)."
        )
    elif options.dry_run:
        db.session.rollback()
        result.message = f"Dry run: {good} rows would be written; nothing was imported."
    else:
        result.written = True
        result.message = (
            f"Imported {result.rows_created} new and {result.rows_updated} updated rows"
            f"; {result.rows_skipped} skipped; {result.rows_failed} with errors."
        )
    if on_finish:
        on_finish(result)
    db.session.commit()
