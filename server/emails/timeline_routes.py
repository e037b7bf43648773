"""Timeline and email actions over HTTP (REC-6, LOG-8, LOG-9): thin routes over timeline/actions."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, Range

from ..auth.guard import auth_required, current_user
from ..errors import NotFound
from ..records.pagination import DEFAULT_LIMIT, MAX_LIMIT
from . import actions
from .schemas import RECORD_TYPES
from .timeline import build_timeline

bp = APIBlueprint("email_timeline", __name__, tag="Timeline")


class TimelineQuery(Schema):
    cursor = String(load_default=None, validate=Length(max=500))
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class TimelineEntryOut(Schema):
    kind = String(metadata={"description": "email, consent, tracking, ..."})
    at = String(metadata={"description": "ISO 8601 UTC; the sort key"})
    key = String()
    pinned = Boolean(metadata={"description": "a pinned item, shown first on the first page"})
    data = Dict(metadata={"description": "what this kind shows; emails: the privacy view"})


class TimelineOut(Schema):
    items = List(Nested(TimelineEntryOut))
    next_cursor = String(allow_none=True)


class ThreadOut(Schema):
    items = List(Dict(), metadata={"description": "the emails of the thread, oldest first"})


class EmailStateOut(Schema):
    id = Integer()
    pinned = Boolean()
    deleted = Boolean()


class DetailsOut(Schema):
    details = Dict()


def _at(entry: dict) -> dict:
    return {**entry, "at": entry["at"].isoformat()}


@bp.get("/api/records/<record_type>/<int:record_id>/timeline")
@bp.input(TimelineQuery, location="query")
@bp.output(TimelineOut)
@bp.doc(
    summary="A record's timeline, newest first, pinned items first on the first page",
    description=f"record_type: one of {', '.join(RECORD_TYPES)}. A company's timeline includes "
    "its contacts' emails. `next_cursor` is opaque; pass it back as `cursor`.",
)
@auth_required()
def timeline(record_type: str, record_id: int, query_data):
    if record_type not in RECORD_TYPES:
        raise NotFound(f"No record type {record_type!r}.", field="record_type")
    page = build_timeline(
        current_user(), record_type, record_id, query_data["cursor"], query_data["limit"]
    )
    return {"items": [_at(e) for e in page["items"]], "next_cursor": page["next_cursor"]}


@bp.get("/api/emails/<int:email_id>/thread")
@bp.output(ThreadOut)
@bp.doc(summary="The emails of this email's conversation, oldest first (LOG-8)")
@auth_required()
def thread(email_id: int):
    return {"items": actions.thread_of(current_user(), email_id)}


@bp.post("/api/emails/<int:email_id>/pin")
@bp.output(EmailStateOut)
@bp.doc(summary="Pin the email to the top of its records' timelines")
@auth_required()
def pin(email_id: int):
    email = actions.set_pinned(current_user(), email_id, True)
    return {"id": email.id, "pinned": True, "deleted": False}


@bp.delete("/api/emails/<int:email_id>/pin")
@bp.output(EmailStateOut)
@bp.doc(summary="Unpin the email")
@auth_required()
def unpin(email_id: int):
    email = actions.set_pinned(current_user(), email_id, False)
    return {"id": email.id, "pinned": False, "deleted": False}


@bp.delete("/api/emails/<int:email_id>")
@bp.output({}, status_code=204)
@bp.doc(summary="Soft-delete a logged email (the logger or an admin); audited, restorable")
@auth_required()
def delete(email_id: int):
    actions.delete_email(current_user(), email_id)
    return "", 204


@bp.post("/api/emails/<int:email_id>/restore")
@bp.output(EmailStateOut)
@bp.doc(summary="Restore a soft-deleted email (admins)")
@auth_required()
def restore(email_id: int):
    email = actions.restore_email(current_user(), email_id)
    return {"id": email.id, "pinned": email.pinned_at is not None, "deleted": False}


@bp.get("/api/emails/<int:email_id>/details")
@bp.output(DetailsOut)
@bp.doc(summary="From, to, cc, time, attachments, audit and tracking status of an email")
@auth_required()
def details(email_id: int):
    return {"details": actions.email_details(current_user(), email_id)}
