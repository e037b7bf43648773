"""Import jobs (REC-5): an uploaded CSV kept under the instance folder, imported by
`run_import(job_id)` (run in the request for now; a background task can call it unchanged),
with progress and the error report stored on the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import select, update

from ..clock import utcnow
from ..errors import NotFound, PayloadTooLarge, ServiceError, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .import_models import IMPORT_RECORD_TYPES, ImportJob
from .importer import ImportOptions, ImportResult, check_options, import_csv

CHUNK = 64 * 1024


def upload_limit() -> int:
    """The largest import file accepted, in bytes (IMPORT_MAX_BYTES, else MAX_CONTENT_LENGTH)."""
    config = current_app.config
    return int(config.get("IMPORT_MAX_BYTES") or config.get("MAX_CONTENT_LENGTH") or 64 << 20)


def _check_mapping(mapping: Any) -> dict[str, str]:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ValidationFailed(
            'mapping is a JSON object {"Column Header": "field"} ("" ignores a column).',
            field="mapping",
        )
    return mapping


def _owner_id(org_id: int, email: str | None) -> int | None:
    if not email:
        return None
    user_id = db.session.scalar(
        select(User.id).where(
            User.org_id == org_id, User.email == email.strip().lower(), User.is_active
        )
    )
    if user_id is None:
        raise ValidationFailed(f"No user {email} in your organization.", field="owner")
    return user_id


def _store(stream: IO[bytes], path: Path) -> int:
    """Copy the upload to `path` in chunks; 413 past the upload limit. Returns the size."""
    limit, size = upload_limit(), 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink()
                raise PayloadTooLarge(f"The file is larger than {limit} bytes.", field="file")
            out.write(chunk)
    return size


def create_job(
    user: User,
    record_type: str,
    filename: str,
    stream: IO[bytes],
    mapping: Any = None,
    partial: bool = False,
    dry_run: bool = False,
    on_duplicate: str = "error",
    owner: str | None = None,
) -> ImportJob:
    """Check the options, store the file, and queue an import job of the user's org."""
    options = {"partial": bool(partial), "dry_run": bool(dry_run), "on_duplicate": on_duplicate}
    if record_type not in IMPORT_RECORD_TYPES:
        raise ValidationFailed(
            f"record_type is one of {', '.join(IMPORT_RECORD_TYPES)}.", field="record_type"
        )
    check_options(record_type, ImportOptions(on_duplicate=on_duplicate))
    options["owner_id"] = _owner_id(user.org_id, owner)
    job = ImportJob(
        org_id=user.org_id,
        created_by_id=user.id,
        record_type=record_type,
        filename=(filename or "upload.csv")[:255],
        mapping=_check_mapping(mapping),
        options=options,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    path = Path(current_app.instance_path) / "imports" / str(user.org_id) / f"{job.id}.csv"
    try:
        job.bytes_total = _store(stream, path)
    except BaseException:
        db.session.rollback()
        raise
    job.stored_path = str(path)
    db.session.commit()
    return job


def _progress_writer(job_id: int):
    """Progress written through its own connection so readers see it while the import runs.

    SQLite has one writer at a time (the import's transaction), so there the job shows its
    figures when the import ends.
    """
    if db.engine.dialect.name == "sqlite":
        return None

    def write(done: int, result: ImportResult) -> None:
        with db.engine.begin() as conn:
            conn.execute(
                update(ImportJob.__table__)
                .where(ImportJob.__table__.c.id == job_id)
                .values(bytes_done=done, rows_done=result.rows_done, rows_failed=result.rows_failed)
            )

    return write


def _record(job: ImportJob, result: ImportResult, partial: bool) -> None:
    """Copy an import's figures and first errors onto its job."""
    job.status = "failed" if result.errors_total and not partial else "succeeded"
    job.bytes_done = result.bytes_total
    for name in ("rows_total", "rows_done", "rows_created", "rows_updated", "rows_skipped",
                 "rows_failed", "errors_total", "message"):  # fmt: skip
        setattr(job, name, getattr(result, name))
    job.errors = [error.as_dict() for error in result.errors]
    job.finished_at = utcnow()


def run_import(job_id: int) -> None:
    """Run a queued import job to its end (succeeded or failed); a job not queued is left alone."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status != "queued":
        return
    job.status, job.started_at = "running", utcnow()
    db.session.commit()
    opts = job.options or {}
    options = ImportOptions(
        mapping=job.mapping or None,
        partial=bool(opts.get("partial")),
        dry_run=bool(opts.get("dry_run")),
        on_duplicate=opts.get("on_duplicate", "error"),
        owner_id=opts.get("owner_id"),
        user_id=job.created_by_id,
    )
    stored = job.stored_path
    try:
        import_csv(
            job.org_id,
            job.record_type,
            stored,
            options,
            progress=_progress_writer(job.id),
            on_finish=lambda result: _record(job, result, options.partial),
        )
    except ServiceError as exc:  # the file as a whole cannot be imported; nothing was written
        _fail(job_id, exc.message)
    except Exception:
        db.session.rollback()
        _fail(job_id, "The import stopped on an internal error; it has been logged.")
        raise
    finally:
        _discard(stored)


def _discard(stored: str) -> None:
    """Delete a finished job's upload: the rows are imported (or refused), the figures and errors
    are on the job; the file itself is personal data not kept longer than needed."""
    if stored:
        Path(stored).unlink(missing_ok=True)


def _fail(job_id: int, message: str) -> None:
    job = db.session.get(ImportJob, job_id)
    job.status, job.message, job.finished_at = "failed", message, utcnow()
    db.session.commit()


def get_job(org_id: int, import_id: int) -> ImportJob:
    """One import job of the org; 404 otherwise."""
    job = db.session.get(ImportJob, import_id)
    if job is None or job.org_id != org_id:
        raise NotFound(f"No import {import_id}.", field="import_id")
    return job


def list_jobs(
    org_id: int, cursor: int | None = None, limit: int = 50
) -> tuple[list[ImportJob], int | None]:
    """The org's import jobs, newest first, `limit` at a time after the id `cursor`."""
    stmt = select(ImportJob).where(ImportJob.org_id == org_id)
    if cursor is not None:
        stmt = stmt.where(ImportJob.id < cursor)
    jobs = list(db.session.scalars(stmt.order_by(ImportJob.id.desc()).limit(limit + 1)))
    return jobs[:limit], jobs[limit - 1].id if len(jobs) > limit else None
