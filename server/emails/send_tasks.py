"""Logging a CRM-sent message once the outbox has sent it (ONE-1, LOG-9).

`mail.sent` is published by the outbox for every sent row; rows of a one-to-one send to be
logged carry group key "one:l:..." (see `sending`), so any other row is ignored with one string
test. The subscriber only enqueues `emails.log_sent`; the task logs the message as its sender
with the associations chosen at send time (`log_email` dedupes on the Message-ID the send gave all
its rows, so each copy of a reply-all logs one email, and a retried task changes nothing).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from ..clock import utcnow
from ..errors import ServiceUnavailable
from ..events import subscribe
from ..extensions import db
from ..jobs import enqueue
from ..jobs.registry import task
from ..mail.models import OutboxMessage
from ..orgs.models import User
from .sending import LOGGED_PREFIX

SENT_EVENT = "mail.sent"
log = logging.getLogger(__name__)


@task("emails.log_sent")
def log_sent(outbox_id: int) -> str | None:
    """Log the sent outbox row's message (status of the log, or None when nothing to log)."""
    from .service import log_email

    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id))
    if row is None or row.user_id is None or not isinstance(row.content.get("log"), dict):
        return None
    user = db.session.get(User, row.user_id)
    if user is None or user.org_id != row.org_id or not user.is_active:
        return None
    content, choice = row.content, row.content["log"]
    structured = {
        "message_id": choice.get("message_id") or row.message_id,
        "subject": content.get("subject") or "",
        "from": content["from"],
        "to": content.get("to") or [{"email": row.recipient, "name": ""}],
        "cc": content.get("cc") or [],
        "sent_at": row.sent_at or utcnow(),
        "in_reply_to": content.get("in_reply_to"),
        "references": content.get("references") or [],
        "html": content.get("html"),
        "text": content.get("text"),
    }
    result = log_email(user, structured=structured, associations=choice.get("associations"),
                       source="api", direction="out")  # fmt: skip
    return result.status


def on_mail_sent(org_id=None, outbox_id=None, group_key=None, **_payload) -> None:
    """`mail.sent` subscriber: enqueue the log of a one-to-one row meant to be logged."""
    if not group_key or not str(group_key).startswith(LOGGED_PREFIX):
        return
    try:
        enqueue("emails.log_sent", outbox_id)
    except ServiceUnavailable:  # tests without a job runner; production starts one
        log.warning("no job runner: outbox row %s sent but not logged", outbox_id)


subscribe(SENT_EVENT, on_mail_sent)
