"""Email logging over HTTP (LOG-1, LOG-3..6): log, preview associations, read, edit associations."""

from __future__ import annotations

import base64
import binascii

from apiflask import APIBlueprint

from ..auth.guard import auth_required, current_user
from ..errors import ValidationFailed
from . import bcc  # noqa: F401  (registers the inbound "log" handler, LOG-2)
from .schemas import (
    EmailAssociationsPatch,
    EmailLogIn,
    EmailLogOut,
    EmailPreviewIn,
    EmailPreviewOut,
    LoggedEmailOut,
)
from .service import association_view, edit_associations, get_email, log_email, preview_associations

bp = APIBlueprint("emails", __name__, url_prefix="/api/emails")


def _email_out(email) -> dict:
    data = {c.key: getattr(email, c.key) for c in email.__table__.columns}
    data["associations"] = association_view(email)
    return data


@bp.post("/log")
@bp.input(EmailLogIn)
@bp.output(EmailLogOut)
@bp.doc(summary="Log an email (raw MIME or structured); one row per Message-ID per org")
@auth_required()
def log(json_data):
    raw = None
    if json_data.get("raw") is not None:
        try:
            raw = base64.b64decode(json_data["raw"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("raw must be base64.", field="raw") from None
    structured = json_data.get("email")
    if structured is not None:
        structured = {**structured, "from": structured.pop("from_")}
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
@bp.output(LoggedEmailOut)
@bp.doc(summary="One logged email")
@auth_required()
def get_one(email_id: int):
    return _email_out(get_email(current_user().org_id, email_id))


@bp.patch("/<int:email_id>/associations")
@bp.input(EmailAssociationsPatch)
@bp.output(LoggedEmailOut)
@bp.doc(summary="Add and remove associations of a logged email")
@auth_required()
def patch_associations(email_id: int, json_data):
    email = edit_associations(current_user(), email_id, json_data["add"], json_data["remove"])
    return _email_out(email)
