"""The other domains' services the add-on shows, imported when used: tracking, notifications, the
timeline and the email privacy level may land after this surface. Each answer is None when the
server does not offer that part yet, and the card then says so instead of pretending.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ...extensions import db
from ...orgs.models import User


def _function(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def tracking_options(user: User, recipients: list[str], body_type: str = "html") -> dict | None:
    """{"track": {"value","locked","allowed","reason"}, ...} from the tracking service."""
    fn = _function("server.tracking.service", "tracking_options")
    return fn(user, recipients, body_type) if fn else None


def tracking_status(org_id: int, message_id: str | None) -> dict | None:
    """The tracking status of a message we sent, or None (not tracked, or no tracking here)."""
    fn = _status_function()
    return fn(org_id, message_id=message_id) if fn and message_id else None


def _status_function() -> Any:
    return _function("server.tracking.service", "tracking_status") or _function(
        "server.tracking.status", "tracking_status"
    )


def tracking_available() -> bool:
    return _status_function() is not None


def recent_tracked_emails(user: User, limit: int) -> list[dict] | None:
    """The user's latest tracked emails with their status."""
    fn = _function("server.tracking.service", "list_tracked_emails")
    if fn is None:
        return None
    page = fn(user, limit=limit)
    return list(getattr(page, "items", page))[:limit]


def prepare_pixel(user: User, recipients: list[str], subject: str | None) -> dict | None:
    """A tracked email for a Gmail draft: {"tracked_email_id", "pixel_url"}, or None when the
    tracking service does not track it (it says why) or is not there."""
    create = _function("server.tracking.service", "create_tracked_email")
    url = _function("server.tracking.service", "pixel_url")
    if create is None or url is None:
        return None
    email, _ = create(user.org_id, user.id, recipients, subject or "", "<p></p>", None)
    db.session.commit()
    if not email.tracked:
        return None
    return {"tracked_email_id": email.id, "pixel_url": url(email.id)}


def unread_notifications(user: User, limit: int) -> tuple[int, list[Any]] | None:
    """(unread count, the latest unread notifications)."""
    count = _function("server.notifications.service", "unread_count")
    listing = _function("server.notifications.service", "list_notifications")
    if count is None or listing is None:
        return None
    return count(user), list(listing(user, unread_only=True, limit=limit).items)


def timeline_items(user: User, record_type: str, record_id: int, limit: int) -> list[dict] | None:
    """The newest items of a record's timeline."""
    fn = _function("server.emails.timeline", "build_timeline")
    return fn(user, record_type, record_id, None, limit)["items"] if fn else None


def privacy_levels() -> tuple[str, ...] | None:
    """The privacy levels a rep may pick when logging, if logging takes one."""
    log_email = _function("server.emails.service", "log_email")
    levels = _function("server.emails.models", "PRIVACY_LEVELS")
    if not levels or "privacy" not in inspect.signature(log_email).parameters:
        return None
    return tuple(levels)
