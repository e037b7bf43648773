"""The notification list page and the bell's count in the header (TRK-6, UI-3)."""

from __future__ import annotations

from datetime import datetime

from flask import redirect, render_template, request, url_for

from ...notifications import service
from ...orgs.models import User
from .blueprint import bp, localtime, signed_in


@bp.app_template_filter("isotime")
def isotime(value: str) -> str:
    """An ISO 8601 UTC time string in the signed-in user's time zone."""
    return localtime(datetime.fromisoformat(value))


@bp.app_template_global("unread_notifications")
def unread_notifications(user: User | None) -> int:
    """The bell's figure for the header (0 when signed out)."""
    return 0 if user is None else service.unread_count(user)


@bp.get("/notifications")
@signed_in
def notifications(user: User):
    """My notifications, newest first, a page at a time."""
    unread_only = request.args.get("show") == "unread"
    page = service.list_notifications(user, unread_only, request.args.get("cursor"), 25)
    return render_template(
        "web/notifications.html",
        items=[service.as_message(n) for n in page.items],
        next_cursor=page.next_cursor,
        unread_only=unread_only,
        active="notifications",
    )


@bp.post("/notifications/<int:notification_id>/read")
@signed_in
def notification_read(user: User, notification_id: int):
    """Mark one notification read, then back to the list."""
    service.mark_read(user, notification_id)
    return redirect(url_for("web.notifications"))


@bp.post("/notifications/read-all")
@signed_in
def notifications_read_all(user: User):
    """Mark all read, then back to the list."""
    service.mark_all_read(user)
    return redirect(url_for("web.notifications"))
