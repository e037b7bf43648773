"""Privacy level per logged email, and the one view of an email that every answer shows (LOG-1,
LOG-7, LOG-10).

Levels, least private first: `full` (everything), `subject` (subject and metadata), `metadata`
(from, to, cc, time, direction, associations, the number of attachments; no subject, no body,
no attachment names). The level is chosen when logging (API field `privacy`, or a send intent's),
never less private than the org setting `email_privacy_minimum`; when the same message is logged
again with a stricter level, the stricter one wins (anyone on the thread may restrict it, nobody
may open it up again by logging).

Who sees everything: the user who logged it and the user whose address is its From (the sender).
Everyone else, super-admins included, sees what the level allows: privacy protects the content of
a rep's mail from colleagues and admins alike; admins still see the metadata and can delete it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..errors import ValidationFailed
from ..orgs.models import User
from .models import PRIVACY_LEVELS, LoggedEmail
from .sanitize import show_html


def stricter(a: str, b: str) -> str:
    """The more private of two levels."""
    return max(a, b, key=PRIVACY_LEVELS.index)


def check_level(value: Any, field: str = "privacy") -> str:
    """A valid level, else 422 naming the field."""
    if value not in PRIVACY_LEVELS:
        raise ValidationFailed(f"privacy must be one of {', '.join(PRIVACY_LEVELS)}.", field=field)
    return value


def choose_level(settings: dict, requested: str | None) -> str:
    """The level an email is logged at: the requested one (default full), at least the org's
    minimum (from the user's effective settings)."""
    minimum = (settings.get("email_privacy_minimum") or {}).get("value") or "full"
    return stricter(check_level(requested) if requested is not None else "full", minimum)


def sees_everything(email: LoggedEmail, viewer: User | None) -> bool:
    """True for the email's logger and its sender (by the viewer's own address)."""
    if viewer is None or viewer.org_id != email.org_id:
        return False
    if email.logged_by_id is not None and email.logged_by_id == viewer.id:
        return True
    sender = ((email.from_address or {}).get("email") or "").strip().lower()
    return bool(sender) and sender == (viewer.email or "").strip().lower()


def visible_level(email: LoggedEmail, viewer: User | None) -> str:
    """What this viewer sees of the email: full, subject or metadata."""
    return "full" if sees_everything(email, viewer) else (email.privacy or "full")


def attachment_url(email_id: int, attachment_id: int) -> str:
    """The download path of one attachment."""
    return f"/api/emails/{email_id}/attachments/{attachment_id}"


def _attachments(email: LoggedEmail) -> tuple[list[dict], list[str]]:
    shown, left_out = [], []
    for item in email.attachments or []:
        entry = {key: item.get(key) for key in ("id", "filename", "content_type", "size",
                 "inline", "content_id", "stored", "skipped", "duplicate_of_id")}  # fmt: skip
        entry["stored"] = bool(item.get("stored"))
        entry["download_url"] = (
            attachment_url(email.id, item["id"]) if entry["stored"] and item.get("id") else None
        )
        if item.get("skipped"):
            left_out.append(f"{item.get('filename') or 'an attachment'}: {item['skipped']}")
        shown.append(entry)
    return shown, left_out


def email_view(
    email: LoggedEmail, viewer: User | None, images: bool = False, associations: bool = True
) -> dict:
    """The email as `viewer` may see it: privacy level applied, sanitized HTML only (remote
    images held back unless `images`), `cid:` images pointed at their download URL, attachments
    with download URLs and what was left out. Reads no table but the associations (pass
    `associations=False`, or load them with selectinload, in lists)."""
    level = visible_level(email, viewer)
    full = level == "full"
    attachments, left_out = _attachments(email) if full else ([], [])
    cids = {a["content_id"]: a["download_url"] for a in attachments if a["content_id"]}
    view: dict[str, Any] = {
        "id": email.id,
        "message_key": email.message_key,
        "message_id": email.message_id,
        "thread_key": email.thread_key,
        "in_reply_to": email.in_reply_to,
        "from": email.from_address,
        "to": email.to_addresses,
        "cc": email.cc_addresses,
        "sent_at": email.sent_at,
        "direction": email.direction,
        "source": email.source,
        "logged_by_id": email.logged_by_id,
        "created_at": email.created_at,
        "pinned_at": email.pinned_at,
        "deleted_at": email.deleted_at,
        "privacy": email.privacy or "full",
        "visible": level,
        "restricted": not full,
        "subject": email.subject if level in ("full", "subject") else None,
        "body_html": show_html(
            email.body_html, images, lambda c: cids.get(c) or cids.get(unquote(c))
        )
        if full
        else None,
        "body_text": email.body_text if full else None,
        "remote_images": (email.remote_images or 0) if full else 0,
        "images_shown": bool(images and full),
        "attachment_count": len(email.attachments or []),
        "attachments": attachments,
        "attachments_left_out": left_out,
    }
    if associations:
        view["associations"] = [
            {
                "type": a.record_type,
                "id": a.record_id,
                "source": a.source,
                "added_by_id": a.added_by_id,
                "created_at": a.created_at,
            }  # fmt: skip
            for a in email.associations
        ]
    return view
