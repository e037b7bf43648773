"""Notifications over HTTP (TRK-6): the bell's list and count, read/unread, and the live stream."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Range
from flask import Response, current_app, request

from ..auth.guard import auth_required, current_user
from ..errors import ValidationFailed
from ..records.pagination import DEFAULT_LIMIT, MAX_LIMIT
from . import parts, service  # noqa: F401  (parts: the data subject part, GDPR-8)
from .bus import bus_for
from .stream import event_stream

bp = APIBlueprint("notifications", __name__, url_prefix="/api/notifications")
_TAGS = ["Notifications"]


class NotificationOut(Schema):
    id = Integer()
    kind = String()
    title = String()
    body = String()
    data = Dict()
    created_at = String()
    read = Boolean()


class NotificationsQuery(Schema):
    unread = Boolean(load_default=False, metadata={"description": "only unread ones"})
    cursor = String(metadata={"description": "next_cursor of the previous page"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class NotificationsPage(Schema):
    items = List(Nested(NotificationOut))
    next_cursor = String(allow_none=True)
    unread_count = Integer()


class UnreadOut(Schema):
    unread_count = Integer()


class MarkedOut(Schema):
    marked = Integer()


class MarkedReadOut(NotificationOut):
    """One notification, as marked read: NotificationOut under its own name. apiflask names a
    response schema anew unless it registered the class itself, and NotificationOut is first
    added to the spec nested in NotificationsPage, so using it here again added it twice
    (apispec's "has already been added to the spec" warning and a NotificationOut1)."""


@bp.get("")
@bp.input(NotificationsQuery, location="query", arg_name="query")
@bp.output(NotificationsPage)
@bp.doc(summary="My notifications, newest first", tags=_TAGS)
@auth_required()
def list_notifications(query: dict):
    """A page of the caller's notifications with the unread count."""
    user = current_user()
    page = service.list_notifications(user, query["unread"], query.get("cursor"), query["limit"])
    return {
        "items": [service.as_message(n) for n in page.items],
        "next_cursor": page.next_cursor,
        "unread_count": service.unread_count(user),
    }


@bp.get("/unread-count")
@bp.output(UnreadOut)
@bp.doc(summary="How many of my notifications are unread (the bell)", tags=_TAGS)
@auth_required()
def unread_count():
    """The caller's unread count."""
    return {"unread_count": service.unread_count(current_user())}


@bp.post("/<int:notification_id>/read")
@bp.output(MarkedReadOut)
@bp.doc(summary="Mark one notification read", tags=_TAGS)
@auth_required()
def mark_read(notification_id: int):
    """Mark one of the caller's notifications read."""
    return service.as_message(service.mark_read(current_user(), notification_id))


@bp.post("/read-all")
@bp.output(MarkedOut)
@bp.doc(summary="Mark all my notifications read", tags=_TAGS)
@auth_required()
def mark_all_read():
    """Mark every unread notification of the caller read."""
    return {"marked": service.mark_all_read(current_user())}


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed("Last-Event-ID must be a notification id.", field="Last-Event-ID")
    return int(raw)


@bp.get("/stream")
@bp.doc(
    summary="Live notifications (server-sent events)",
    description="text/event-stream: `unread` once, then `notification` events with their id; "
    "reconnect with Last-Event-ID (header or `last_event_id`) to get what was missed.",
    tags=_TAGS,
)
@auth_required()
def stream():
    """The caller's live notification stream."""
    user = current_user()
    last_id = _last_event_id()
    config = current_app.config
    subscription = bus_for(config.get("REDIS_URL")).subscribe(user.id)
    try:  # subscribed first, then caught up: nothing falls between the two
        missed = service.missed_since(user, last_id) if last_id else []
        unread = service.unread_count(user)
    except Exception:
        subscription.close()
        raise
    body = event_stream(
        subscription,
        missed,
        unread,
        keepalive_seconds=float(config.get("NOTIFICATIONS_KEEPALIVE_SECONDS", 15)),
        max_seconds=float(config.get("NOTIFICATIONS_STREAM_SECONDS", 300)),
    )
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    return response
