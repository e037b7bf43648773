"""Email logging over HTTP (LOG-1, LOG-3..7, LOG-10): log, preview associations, read (privacy
applied, sanitized), edit associations, download attachments, send intents."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from apiflask import APIBlueprint
from flask import current_app

from ..auth.guard import auth_required, current_user
from ..errors import NotFound, ValidationFailed
from . import (
    activity,  # noqa: F401  (email.logged: records' last activity)
    bcc,  # noqa: F401  (registers the inbound "log" handler, LOG-2)
)
from .attachments import get_attachment, open_attachment, safe_content_type
from .intents import create_intent, intent_view
from .privacy import visible_level
from .schemas import (
    EmailAssociationsPatch,
    EmailIntentIn,
    EmailIntentOut,
    EmailLogIn,
    EmailLogOut,
    EmailPreviewIn,
    EmailPreviewOut,
    EmailViewQuery,
    LoggedEmailOut,
)
from .service import edit_associations, email_view, get_email, log_email, preview_associations

bp = APIBlueprint("emails", __name__, url_prefix="/api/emails")


def _email_out(email, images: bool = False) -> dict:
    return email_view(email, current_user(), images=images)


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(f"{field} must be base64.", field=field) from None


def _create_contacts(value, field: str = "create_contacts"):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and len(v) <= 320 for v in value):
        return value
    raise ValidationFailed(
        "create_contacts must be true, false or a list of addresses.", field=field
    )


@bp.post("/log")
@bp.input(EmailLogIn)
@bp.output(EmailLogOut)
@bp.doc(summary="Log an email (raw MIME or structured); one row per Message-ID per org")
@auth_required()
def log(json_data):
    raw = None
    if json_data.get("raw") is not None:
        raw = _b64(json_data["raw"], "raw")
    structured = json_data.get("email")
    if structured is not None:
        structured = {**structured, "from": structured.pop("from_")}
        structured["attachments"] = [
            {**item, "content": _b64(item["content"], f"email.attachments.{i}.content")}
            for i, item in enumerate(structured.get("attachments") or [])
        ]
    create = json_data.get("create_contacts")
    if json_data.get("new_contacts") is not None and create is not False:
        create = json_data["new_contacts"]
    result = log_email(
        current_user(),
        raw=raw,
        structured=structured,
        associations=json_data.get("associations"),
        source=json_data["source"],
        create_contacts=create,
        direction=json_data.get("direction"),
        privacy=json_data.get("privacy"),
        intent=json_data.get("intent"),
        provider_thread_id=json_data.get("provider_thread_id"),
    )
    return {
        "status": result.status,
        "reason": result.reason,
        "email": _email_out(result.email) if result.email else None,
        "created_contact_ids": result.created_contact_ids,
        "never_logged": result.never_logged,
    }


@bp.post("/associations/preview")
@bp.input(EmailPreviewIn)
@bp.output(EmailPreviewOut)
@bp.doc(summary="Association candidates with default ticks for a set of addresses")
@auth_required()
def preview(json_data):
    return preview_associations(current_user(), json_data["addresses"], json_data["direction"])


@bp.get("/<int:email_id>")
@bp.input(EmailViewQuery, location="query")
@bp.output(LoggedEmailOut)
@bp.doc(
    summary="One logged email, as its privacy level lets you see it",
    description="HTML is sanitized; remote images are held back (`data-remote-src`, counted in "
    "`remote_images`) unless `images=show`.",
)
@auth_required()
def get_one(email_id: int, query_data):
    email = get_email(current_user().org_id, email_id)
    return _email_out(email, images=query_data["images"] == "show")


@bp.get("/<int:email_id>/attachments/<int:attachment_id>")
@bp.doc(
    summary="Download one attachment of a logged email (always as a download, never inline)",
    responses={200: {"description": "the file", "content": {"application/octet-stream": {}}}},
)
@auth_required()
def download_attachment(email_id: int, attachment_id: int):
    user = current_user()
    email = get_email(user.org_id, email_id)
    if email.deleted_at is not None:
        raise NotFound(f"No email {email_id} in your organization.", field="email_id")
    row = get_attachment(email, attachment_id)
    if visible_level(email, user) != "full":
        raise NotFound(
            f"Attachment {attachment_id} is not shown: this email is logged at privacy level "
            f"{email.privacy!r} and only its sender sees its attachments.",
            field="attachment_id",
        )
    stream = open_attachment(row)
    response = current_app.response_class(
        _chunks(stream), mimetype=safe_content_type(row.content_type), direct_passthrough=True
    )
    response.headers["Content-Disposition"] = _disposition(row.filename or "attachment")
    response.headers["Content-Length"] = str(row.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _disposition(name: str) -> str:
    """attachment; an ASCII filename always quoted, and the UTF-8 one (RFC 6266) when different."""
    plain = "".join(c for c in name if 32 <= ord(c) < 127 and c not in '"\\')
    value = f'attachment; filename="{plain or "attachment"}"'
    if plain != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _chunks(stream, size: int = 256 * 1024):
    with stream:
        while chunk := stream.read(size):
            yield chunk


@bp.post("/intents")
@bp.input(EmailIntentIn)
@bp.output(EmailIntentOut, status_code=201)
@bp.doc(
    summary="Record what the rep chose before sending; add the returned header to the message",
    description="A message carrying the header is logged with these choices by any path (BCC, "
    "API, add-in). The header is signed for your org and user, valid 30 days.",
)
@auth_required()
def post_intent(json_data):
    intent, token = create_intent(
        current_user(),
        associations=json_data.get("associations"),
        create_contacts=_create_contacts(json_data.get("create_contacts")),
        privacy=json_data.get("privacy"),
        track=json_data.get("track"),
    )
    return intent_view(intent, token)


@bp.patch("/<int:email_id>/associations")
@bp.input(EmailAssociationsPatch)
@bp.output(LoggedEmailOut)
@bp.doc(summary="Add and remove associations of a logged email")
@auth_required()
def patch_associations(email_id: int, json_data):
    email = edit_associations(current_user(), email_id, json_data["add"], json_data["remove"])
    return _email_out(email)
