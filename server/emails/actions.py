"""What the timeline does with one logged email (LOG-8, LOG-9): thread, pin, delete, details.

Who may do what: any user of the org may pin and unpin (a pin is shared by everyone who sees the
record); the user who logged the email and admins may soft-delete it; only admins restore it.
Each of these is written to `LoggedEmailAudit` (who, when) in the same transaction as the change.
A soft-deleted email is hidden from the timeline, threads and these actions (404), except restore.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..clock import utcnow
from ..errors import Conflict, Forbidden, NotFound
from ..extensions import db
from ..orgs.models import User
from .audit_models import LoggedEmailAudit
from .models import LoggedEmail
from .timeline import email_at, email_view_for, jsonable, visible_emails

MAX_THREAD = 500


def _email(org_id: int, email_id: int, deleted: bool = False) -> LoggedEmail:
    """The org's email (not soft-deleted, unless `deleted`); 404 otherwise."""
    row = db.session.scalar(
        select(LoggedEmail).where(LoggedEmail.id == email_id, LoggedEmail.org_id == org_id)
    )
    if row is None or (row.deleted_at is not None and not deleted):
        raise NotFound(f"No email {email_id} in your organization.", field="email_id")
    return row


def visible_email(org_id: int, email_id: int) -> LoggedEmail:
    """The org's email when it is not soft-deleted; 404 otherwise."""
    return _email(org_id, email_id)


def _audit(user: User, email: LoggedEmail, action: str) -> None:
    db.session.add(
        LoggedEmailAudit(org_id=user.org_id, email_id=email.id, action=action, actor_id=user.id)
    )


def set_pinned(user: User, email_id: int, pinned: bool) -> LoggedEmail:
    """Pin the email to the top of its records' timelines, or unpin it (idempotent)."""
    email = _email(user.org_id, email_id)
    if pinned and email.pinned_at is None:
        email.pinned_at, email.pinned_by_id = utcnow(), user.id
        _audit(user, email, "pin")
    elif not pinned and email.pinned_at is not None:
        email.pinned_at, email.pinned_by_id = None, None
        _audit(user, email, "unpin")
    db.session.commit()
    return email


def may_delete(user: User, email: LoggedEmail) -> bool:
    """The logger and admins may delete a logged email."""
    return user.has_role("admin") or (
        email.logged_by_id is not None and email.logged_by_id == user.id
    )


def delete_email(user: User, email_id: int) -> None:
    """Soft-delete: hidden everywhere, kept for an admin to restore; audited."""
    email = _email(user.org_id, email_id)
    if not may_delete(user, email):
        raise Forbidden("Only the user who logged this email or an admin may delete it.")
    email.deleted_at, email.deleted_by_id = utcnow(), user.id
    _audit(user, email, "delete")
    db.session.commit()


def restore_email(user: User, email_id: int) -> LoggedEmail:
    """An admin brings a soft-deleted email back; audited."""
    if not user.has_role("admin"):
        raise Forbidden("Only an admin may restore a deleted email.")
    email = _email(user.org_id, email_id, deleted=True)
    if email.deleted_at is None:
        raise Conflict("This email is not deleted.", field="email_id")
    email.deleted_at, email.deleted_by_id = None, None
    _audit(user, email, "restore")
    db.session.commit()
    return email


def audit_of(email: LoggedEmail) -> list[dict]:
    """The email's audit trail, oldest first."""
    rows = db.session.scalars(
        select(LoggedEmailAudit)
        .where(LoggedEmailAudit.org_id == email.org_id, LoggedEmailAudit.email_id == email.id)
        .order_by(LoggedEmailAudit.id)
    )
    return [{"action": r.action, "actor_id": r.actor_id, "at": r.at} for r in rows]


def _tracking(org_id: int, email: LoggedEmail) -> dict | None:
    try:
        from ..tracking.service import tracking_status
    except ImportError:
        return None
    if not email.message_id:
        return None
    return tracking_status(org_id, message_id=f"<{email.message_id}>")


def email_details(user: User, email_id: int) -> dict:
    """From, to, cc, time, attachments, pin, audit and tracking status (null until tracked)."""
    email = _email(user.org_id, email_id)
    view = email_view_for(email, user)
    return jsonable(
        {
            "id": email.id,
            "subject": view.get("subject"),
            "from": email.from_address,
            "to": email.to_addresses,
            "cc": email.cc_addresses,
            "sent_at": email.sent_at,
            "logged_at": email.created_at,
            "direction": email.direction,
            "source": email.source,
            "logged_by_id": email.logged_by_id,
            "message_id": email.message_id,
            "thread_key": email.thread_key,
            "attachments": view.get("attachments") or [],  # none where the privacy level hides them
            "attachments_left_out": view.get("attachments_left_out") or [],
            "pinned_at": email.pinned_at,
            "pinned_by_id": email.pinned_by_id,
            "may_delete": may_delete(user, email),
            "audit": audit_of(email),
            "tracking": _tracking(user.org_id, email),
        }
    )


def _thread_keys(email: LoggedEmail) -> set[str]:
    """The email's thread key and the keys of the messages it names (References, In-Reply-To),
    so a thread whose messages were logged with different roots is still shown whole."""
    named = [*(email.reference_ids or []), email.in_reply_to]
    return {email.thread_key, *(f"mid:{m}" for m in named if m)}


def thread_of(user: User, email_id: int) -> list[dict]:
    """The emails sharing the email's conversation, oldest first, each as the viewer may see it."""
    email = _email(user.org_id, email_id)
    keys = _thread_keys(email)
    linked = db.session.execute(
        select(LoggedEmail.thread_key, LoggedEmail.message_key).where(
            visible_emails(user.org_id),
            or_(LoggedEmail.thread_key.in_(keys), LoggedEmail.message_key.in_(keys)),
        )
    ).all()
    keys |= {key for pair in linked for key in pair}  # one more hop: replies to its messages
    rows = db.session.scalars(
        select(LoggedEmail)
        .where(
            visible_emails(user.org_id),
            or_(LoggedEmail.thread_key.in_(keys), LoggedEmail.message_key.in_(keys)),
        )
        .order_by(email_at(), LoggedEmail.id)
        .limit(MAX_THREAD)
        .options(selectinload(LoggedEmail.associations))
    ).all()
    return [jsonable(email_view_for(row, user)) for row in rows]
