"""HTTP for CSV imports (REC-5): upload a file to import, follow its job's progress and errors."""

from __future__ import annotations

import json

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, File, Integer, List, Nested, String
from apiflask.validators import OneOf, Range
from flask import request

from .. import jobs
from ..auth.guard import auth_required, current_user
from ..errors import PayloadTooLarge, ValidationFailed
from ..fields import Id
from . import import_jobs, import_tasks
from .import_models import IMPORT_RECORD_TYPES, IMPORT_STATUSES
from .importer import ON_DUPLICATE

bp = APIBlueprint("records_import_routes", __name__, tag="Imports")


class ImportUpload(Schema):
    file = File(required=True, metadata={"description": "The CSV file (UTF-8; , ; or tab)."})
    record_type = String(required=True, validate=OneOf(IMPORT_RECORD_TYPES))
    mapping = String(
        load_default=None,
        metadata={"description": 'JSON object {"Column Header": "field"}; "" ignores a column.'},
    )
    partial = Boolean(load_default=False, metadata={"description": "Write the good rows."})
    dry_run = Boolean(load_default=False, metadata={"description": "Check, write nothing."})
    on_duplicate = String(load_default="error", validate=OneOf(ON_DUPLICATE))
    owner = String(load_default=None, metadata={"description": "Email of the default owner."})


class RowErrorOut(Schema):
    row = Integer(metadata={"description": "Row number in the file; the header is row 1."})
    column = String(allow_none=True)
    reason = String()


class ImportJobOut(Schema):
    id = Id()
    record_type = String()
    status = String(metadata={"enum": list(IMPORT_STATUSES)})
    filename = String()
    mapping = Dict(keys=String(), values=String())
    partial = Boolean()
    dry_run = Boolean()
    on_duplicate = String()
    bytes_total = Integer()
    bytes_done = Integer()
    rows_total = Integer()
    rows_done = Integer()
    rows_created = Integer()
    rows_updated = Integer()
    rows_skipped = Integer()
    rows_failed = Integer()
    errors_total = Integer()
    message = String(allow_none=True)
    created_by_id = Id(allow_none=True)
    created_at = DateTime()
    started_at = DateTime(allow_none=True)
    finished_at = DateTime(allow_none=True)


class ImportJobDetailOut(ImportJobOut):
    errors = List(Nested(RowErrorOut), metadata={"description": "The first 1,000 row errors."})


class ImportListQuery(Schema):
    cursor = Id(load_default=None)
    limit = Integer(load_default=50, validate=Range(1, 200))


class ImportPageOut(Schema):
    items = List(Nested(ImportJobOut))
    next_cursor = Id(allow_none=True)


def _job_out(job, with_errors: bool = True) -> dict:
    out = {name: getattr(job, name) for name in ImportJobOut._declared_fields if hasattr(job, name)}
    options = job.options or {}
    out.update({key: options.get(key) for key in ("partial", "dry_run", "on_duplicate")})
    if with_errors:
        out["errors"] = job.errors or []
    return out


@bp.before_request
def _limit_upload_size():
    if request.method == "POST":
        limit = import_jobs.upload_limit()
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(f"An import upload is at most {limit} bytes.", field="file")
        request.max_content_length = limit


@bp.post("/api/imports")
@bp.input(ImportUpload, location="files", arg_name="upload")
@bp.output(ImportJobDetailOut, status_code=202)
@bp.doc(
    summary="Upload a CSV file to import (admin; REC-5)",
    description="The job is queued (202); poll GET /api/imports/{import_id} for its progress "
    "(bytes and rows done) and, when it ends, its per-row error report.",
)
@auth_required("admin")
def create_import(upload: dict):
    try:
        mapping = json.loads(upload["mapping"]) if upload["mapping"] else None
    except ValueError:
        raise ValidationFailed("mapping is not valid JSON.", field="mapping") from None
    user = current_user()
    file = upload["file"]
    job = import_jobs.create_job(
        user,
        upload["record_type"],
        file.filename or "upload.csv",
        file.stream,
        mapping=mapping,
        partial=upload["partial"],
        dry_run=upload["dry_run"],
        on_duplicate=upload["on_duplicate"],
        owner=upload["owner"],
    )
    jobs.enqueue(import_tasks.run, job.id)
    return _job_out(job)


@bp.get("/api/imports")
@bp.input(ImportListQuery, location="query", arg_name="query")
@bp.output(ImportPageOut)
@bp.doc(summary="The organization's imports, newest first (admin)")
@auth_required("admin")
def list_imports(query: dict):
    jobs, next_cursor = import_jobs.list_jobs(
        current_user().org_id, query["cursor"], query["limit"]
    )
    return {"items": [_job_out(job, with_errors=False) for job in jobs], "next_cursor": next_cursor}


@bp.get("/api/imports/<int:import_id>")
@bp.output(ImportJobDetailOut)
@bp.doc(summary="An import's progress and its error report (admin)")
@auth_required("admin")
def get_import(import_id: int):
    return _job_out(import_jobs.get_job(current_user().org_id, import_id))
