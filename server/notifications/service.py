"""Notifications (TRK-6): stored per user with read/unread, and pushed live after commit.

`notify(...)` adds the row in the caller's transaction; the push to the user's open streams
happens only once that transaction commits (a rolled-back change notifies nobody), through the
bus of server/notifications/bus.py (Redis pub/sub when configured, else in-process).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from ..records.pagination import Page, paginate
from .bus import bus_for
from .models import Notification

_PENDING = "liaison.pending_notifications"
MAX_CATCH_UP = 100


def as_message(notification: Notification) -> dict[str, Any]:
    """The JSON shape of a notification, in the list and on the stream."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data or {},
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def _publish_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for bus, user_id, message in pending or ():
        try:
            bus.publish(user_id, message)
        except Exception:  # the row is committed; the stream catches up with Last-Event-ID
            current_app.logger.exception("live notification not pushed to user %s", user_id)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _listen_once() -> None:
    if not event.contains(Session, "after_commit", _publish_pending):
        event.listen(Session, "after_commit", _publish_pending)
        event.listen(Session, "after_rollback", _drop_pending)


def notify(
    org_id: int, user_id: int, kind: str, title: str, body: str = "", data: dict | None = None
) -> Notification:
    """Notify `user_id`: the row joins the caller's transaction; the push follows its commit."""
    if not kind or len(kind) > 40:
        raise ValidationFailed("A notification kind is 1 to 40 characters.", field="kind")
    _listen_once()
    notification = Notification(
        org_id=org_id,
        user_id=user_id,
        kind=kind,
        title=title[:300],
        body=body or "",
        data=data or {},
        created_at=utcnow(),
    )
    db.session.add(notification)
    db.session.flush()
    bus = bus_for(current_app.config.get("REDIS_URL"))
    pending = db.session.info.setdefault(_PENDING, [])
    pending.append((bus, user_id, as_message(notification)))
    return notification


def list_notifications(
    user: User, unread_only: bool = False, cursor: str | None = None, limit: int | None = None
) -> Page:
    """The user's notifications, newest first, a page at a time."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(stmt, [Notification.id], cursor, limit)


def unread_count(user: User) -> int:
    """How many of the user's notifications are unread (the bell's figure)."""
    stmt = select(func.count()).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    return db.session.scalar(stmt) or 0


def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again is harmless)."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0


def missed_since(user: User, last_id: int) -> list[dict[str, Any]]:
    """Notifications after `last_id` (a reconnecting stream's Last-Event-ID), oldest first."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == user.id, Notification.id > last_id)
        .order_by(Notification.id)
        .limit(MAX_CATCH_UP)
    )
    return [as_message(n) for n in db.session.scalars(stmt)]
