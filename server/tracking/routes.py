"""Tracking over HTTP: the public pixel and redirect (no auth, TRK-1, TRK-9) and the rep's API.

`/t/o/<token>` always answers the GIF, uncached, recording only for a genuine token and never
for HEAD. `/t/c/<token>` answers 302 to the URL stored for that link; a forged, altered or
unknown token records nothing and gets a plain page, never a redirect (TRK-9).
"""

from __future__ import annotations

import base64

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Email, Integer, List, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, request

from ..auth.guard import auth_required, current_user
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..input_text import strips_nul
from ..records.pagination import DEFAULT_LIMIT, MAX_LIMIT
from . import ingest, logged_copies, service, status  # noqa: F401  (logged_copies: email.logged)
from .tokens import verify_click, verify_open

bp = APIBlueprint("tracking", __name__)
_TAGS = ["Tracking"]
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
BAD_LINK = "This link is not valid. Nothing was recorded.\n"


def _gif() -> Response:
    return Response(GIF, mimetype="image/gif", headers=NO_CACHE)


def _plain(text: str, code: int) -> Response:
    return Response(text, code, mimetype="text/plain", headers=NO_CACHE)


def pixel(token: str):
    """The open pixel: the GIF whatever the token; a genuine token's GET is recorded."""
    tracked_email_id = verify_open(token)
    if tracked_email_id is not None:
        environ = request.environ
        if environ["REQUEST_METHOD"] == "GET":
            ingest.submit(ingest.capture("o", tracked_email_id, None, environ))
    return _gif()


def click(token: str):
    """The click redirect to the stored URL; a bad token gets a plain page and records nothing."""
    verified = verify_click(token)
    if verified is None:
        return _plain(BAD_LINK, 404)
    tracked_email_id, position = verified
    environ = request.environ
    if environ["REQUEST_METHOD"] == "HEAD":
        url = ingest.link_url(tracked_email_id, position)
    else:
        fields = ingest.capture("c", tracked_email_id, position, environ)
        url = ingest.submit_click(fields, tracked_email_id, position)
    if url is None:
        return _plain(BAD_LINK, 404)
    if url == "":  # the trap link: nothing to see
        return _plain("", 200)
    return Response(status=302, headers={"Location": url, **NO_CACHE})


def _public_endpoints(state) -> None:
    """The pixel and redirect as plain Flask routes (no API wrapper, no auth, not in the API
    document); with LIAISON_BENCH_ENDPOINTS also the bare ones `liaison bench tracking` uses."""
    state.app.add_url_rule("/t/o/<path:token>", "tracking_pixel", pixel)
    state.app.add_url_rule("/t/c/<path:token>", "tracking_click", click)
    if not state.app.config.get("BENCH_ENDPOINTS"):
        return
    state.app.add_url_rule("/t/bench/o", "tracking_bench_pixel", _gif)
    state.app.add_url_rule(
        "/t/bench/c",
        "tracking_bench_click",
        lambda: Response(status=302, headers={"Location": "https://example.com/", **NO_CACHE}),
    )


bp.record_once(_public_endpoints)


class OptionsIn(Schema):
    recipients = List(Email(), load_default=list, validate=Length(max=500))
    body_type = String(load_default="html", validate=OneOf(["html", "text"]))


class PrepareIn(Schema):
    html = String(load_default=None, allow_none=True, validate=Length(max=5_000_000))
    text = String(load_default=None, allow_none=True, validate=Length(max=5_000_000))
    recipients = List(Email(), required=True, validate=Length(min=1, max=500))
    subject = String(load_default="", validate=Length(max=2000))
    message_id = String(load_default=None, allow_none=True, validate=Length(max=998))


class PrepareOut(Schema):
    tracked_email_id = Integer(allow_none=True)
    tracked = Boolean()
    reason = Dict(allow_none=True)
    html = String(allow_none=True)
    text = String(allow_none=True)
    pixel_url = String(allow_none=True)
    opens_trackable = Boolean()


class ListQuery(Schema):
    status = String(validate=OneOf(status.STATUSES))
    cursor = String()
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class ActivityQuery(Schema):
    include_machine = Boolean(load_default=False)
    cursor = String()
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class OptionsOut(Schema):
    track = Dict()
    opens_trackable = Boolean()
    opens_reason = String(allow_none=True)
    recipients = Dict()


class StatusOut(Schema):
    tracked_email_id = Integer()
    state = String(metadata={"description": "untracked | sent | opened | clicked"})
    tracked = Boolean()
    untracked_reason = Dict(allow_none=True)
    subject = String()
    message_id = String(allow_none=True)
    anonymous = Boolean()
    recipient = String(allow_none=True)
    recipient_count = Integer()
    attribution = String()
    opens_trackable = Boolean()
    sent_at = String(allow_none=True)
    opens = Dict()
    clicks = Dict()


class PageOut(Schema):
    items = List(Dict())
    next_cursor = String(allow_none=True)


def _note_caller() -> None:
    service.note_sender_ip(current_user().id, request.remote_addr)


@bp.post("/api/tracking/options")
@bp.input(OptionsIn, arg_name="body")
@bp.output(OptionsOut)
@bp.doc(
    summary="Whether the Track box is on, locked or disabled, and why (TRK-2, TRK-10)", tags=_TAGS
)
@auth_required()
def options(body: dict):
    """The Track box for these recipients and body type."""
    result = service.tracking_options(current_user(), body["recipients"], body["body_type"])
    _note_caller()
    db.session.commit()
    return result


@bp.post("/api/tracking/prepare")
@strips_nul  # compose text as Outlook or Gmail gives it; service.py strips NULs
@bp.input(PrepareIn, arg_name="body")
@bp.output(PrepareOut)
@bp.doc(summary="Track an email about to be sent: pixel, rewritten links (TRK-1..3)", tags=_TAGS)
@auth_required()
def prepare(body: dict):
    """Create the tracked email and answer the bodies to send (unchanged when not allowed)."""
    if not body.get("html") and not body.get("text"):
        raise ValidationFailed("Give html or text.", field="html")
    user = current_user()
    email, result = service.create_tracked_email(
        user.org_id,
        user.id,
        body["recipients"],
        body["subject"],
        body.get("html"),
        body.get("text"),
        message_id=body.get("message_id"),
        sender_ip=request.remote_addr,
    )
    _note_caller()
    db.session.commit()
    return {
        "tracked_email_id": email.id if email.tracked else None,
        "tracked": email.tracked,
        "reason": email.untracked_reason,
        "html": result.html,
        "text": result.text,
        "pixel_url": service.pixel_url(email.id) if email.tracked and result.html else None,
        "opens_trackable": bool(email.tracked and result.html),
    }


@bp.get("/api/tracking/emails")
@bp.input(ListQuery, location="query", arg_name="query")
@bp.output(PageOut)
@bp.doc(
    summary="My tracked emails, newest sent first, by opened/unopened/clicked/unclicked (TRK-7)",
    description="Ordered by sent time, newest first; emails sent at the same time by id, "
    "highest first. Pass `next_cursor` back as `cursor` for the next page.",
    tags=_TAGS,
)
@auth_required()
def list_emails(query: dict):
    """A page of the caller's tracked emails with their status."""
    user = current_user()
    page = status.my_tracked_emails(
        user.org_id, user.id, query.get("status"), query.get("cursor"), query["limit"]
    )
    _note_caller()
    db.session.commit()
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.get("/api/tracking/emails/<int:tracked_email_id>")
@bp.output(StatusOut)
@bp.doc(summary="Status of one tracked email: sent, opened, clicked (TRK-5)", tags=_TAGS)
@auth_required()
def email_status(tracked_email_id: int):
    """The status of one of the org's tracked emails (its sender's or, for admins, anyone's)."""
    user = current_user()
    found = status.tracking_status(user.org_id, tracked_email_id=tracked_email_id)
    owner = db.session.get(service.TrackedEmail, tracked_email_id) if found else None
    if found is None or (owner.user_id != user.id and not user.has_role("admin", "super_admin")):
        raise NotFound("No such tracked email.")
    _note_caller()
    db.session.commit()
    return found


@bp.get("/api/tracking/activity")
@bp.input(ActivityQuery, location="query", arg_name="query")
@bp.output(PageOut)
@bp.doc(summary="Opens and clicks of my tracked emails, newest first (TRK-5)", tags=_TAGS)
@auth_required()
def activity(query: dict):
    """The caller's activity feed (human events unless include_machine)."""
    user = current_user()
    page = status.activity(
        user.org_id, user.id, query.get("cursor"), query["limit"], query["include_machine"]
    )
    _note_caller()
    db.session.commit()
    return {"items": page.items, "next_cursor": page.next_cursor}


from . import parts  # noqa: E402,F401  (timeline source and data subject part)
