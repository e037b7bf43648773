"""One-to-one sending over HTTP (ONE-1..3, LOG-9): from a record, and reply/forward of an email."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Email, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from ..auth.guard import auth_required, current_user
from ..errors import NotFound
from ..fields import Id
from . import send_tasks  # noqa: F401  (subscribes the log of sent messages to mail.sent)
from .record_send import send_from_record
from .replies import MODES, reply_to_email
from .schemas import RECORD_TYPES, EmailRecordRef

bp = APIBlueprint("email_send", __name__, tag="Email sending")

MAX_BODY = 2_000_000
_ADDRESSES = {"validate": Length(max=20)}


class _SendCommon(Schema):
    html = String(allow_none=True, validate=Length(max=MAX_BODY))
    text = String(allow_none=True, validate=Length(max=MAX_BODY))
    from_mailbox_id = Id(
        allow_none=True, metadata={"description": "a connected mailbox; absent: the org address"}
    )
    send_at = DateTime(
        allow_none=True,
        metadata={"description": "when to send: with an offset, or local time in your zone"},
    )
    track = Boolean(allow_none=True, metadata={"description": "absent: your default"})
    log = Boolean(allow_none=True, metadata={"description": "absent: your log setting"})
    associations = List(
        Nested(EmailRecordRef),
        allow_none=True,
        validate=Length(max=100),
        metadata={"description": "records to log it to; absent: the defaults (LOG-4)"},
    )


class RecordSendIn(_SendCommon):
    to = List(Email(), required=True, validate=Length(1, 20))
    cc = List(Email(), load_default=list, **_ADDRESSES)
    subject = String(allow_none=True, validate=Length(max=998))
    template_id = Id(
        allow_none=True,
        metadata={"description": "a template instead of subject/html/text (not both), rendered "
                  "for each recipient with their contact's merge fields"},
    )  # fmt: skip


class ReplyIn(_SendCommon):
    mode = String(required=True, validate=OneOf(MODES))
    to = List(Email(), load_default=list, **_ADDRESSES)
    ticket_id = Id(
        allow_none=True, metadata={"description": "send as transactional from this ticket"}
    )


class SendOut(Schema):
    group_key = String()
    message_id = String()
    outbox_ids = List(Integer())
    send_at = DateTime()
    scheduled = Boolean()
    logged_when_sent = Boolean()
    purpose = String()
    transport = String()


@bp.post("/api/records/<record_type>/<int:record_id>/emails")
@bp.input(RecordSendIn)
@bp.output(SendOut, status_code=202)
@bp.doc(
    summary="Send (or schedule) an email to a record's contact through the outbox",
    description="To among the record's contacts' addresses; From a connected mailbox or the "
    "org address; a subject and body, or a `template_id` rendered per recipient (giving both "
    "is a 422); one consent gate call (409 names blocked recipients and their options); "
    "a ticket's email is transactional. Logged once sent, per your log setting.",
)
@auth_required()
def send_from(record_type: str, record_id: int, json_data):
    if record_type not in RECORD_TYPES:
        raise NotFound(f"No record type {record_type!r}.", field="record_type")
    return send_from_record(current_user(), record_type, record_id, json_data), 202


@bp.post("/api/emails/<int:email_id>/reply")
@bp.input(ReplyIn)
@bp.output(SendOut, status_code=202)
@bp.doc(summary="Reply, reply all or forward a logged email (threaded, logged to its thread)")
@auth_required()
def reply(email_id: int, json_data):
    return reply_to_email(current_user(), email_id, json_data), 202
