"""My tracked emails with their status and filters, and the activity feed (TRK-5, TRK-7, UI-3).

The same service as `GET /api/tracking/emails` and `/api/tracking/activity`: counts and states
use human events only; machine opens and clicks (TRK-8) are shown beside them, never mixed in.
"""

from __future__ import annotations

from flask import render_template, request

from ...orgs.models import User
from ...tracking.status import activity, my_tracked_emails
from .blueprint import bp, signed_in

FILTERS = [("", "All"), ("opened", "Opened"), ("unopened", "Unopened"),
           ("clicked", "Clicked"), ("unclicked", "Not clicked")]  # fmt: skip
STATE_LABELS = {"sent": "Sent", "opened": "Opened", "clicked": "Clicked", "untracked": "Untracked",
                "queued": "Queued", "not_sent": "Not sent"}  # fmt: skip


@bp.get("/tracking")
@signed_in
def tracking(user: User):
    """My tracked emails, newest sent first (the API's order), filterable by status."""
    status = request.args.get("status") or ""
    if status not in {key for key, _ in FILTERS}:
        status = ""
    page = my_tracked_emails(user.org_id, user.id, status or None, request.args.get("cursor"), 25)
    return render_template(
        "web/tracking.html",
        active="tracking",
        emails=page.items,
        next_cursor=page.next_cursor,
        status=status,
        filters=FILTERS,
        state_labels=STATE_LABELS,
    )


@bp.get("/tracking/activity")
@signed_in
def tracking_activity(user: User):
    """Opens and clicks of my tracked emails, newest first; machine events only when asked."""
    machine = request.args.get("machine") == "1"
    page = activity(user.org_id, user.id, request.args.get("cursor"), 50, machine)
    return render_template(
        "web/activity.html",
        active="tracking",
        events=page.items,
        next_cursor=page.next_cursor,
        machine=machine,
    )
