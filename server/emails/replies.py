"""Reply, reply-all and forward from the CRM (LOG-9): threaded, gated, through the outbox.

Threading (RFC 5322 3.6.4): In-Reply-To is the parent's Message-ID; References is the parent's
References (or, without them, its In-Reply-To) followed by the parent's Message-ID, so the sent
message's thread key (its first Reference) is the parent's and it is logged to the same thread.
A forward carries the same headers, so it is logged in the thread and shows as "Fwd: ...".
Subjects get one "Re: " / "Fwd: " (never "Re: Re: "). Recipients: a reply goes to the sender of
an incoming email, to the original To of an outgoing one; reply-all adds the other To and Cc,
without the user's own addresses; a forward goes to the given `to`. The quoted original is only
what the viewer may see of it (the privacy view). Purpose: commercial, unless `ticket_id` names a
ticket the email is associated with (transactional, ONE-3). Associations: the parent's, unless
given.
"""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from ..errors import ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .actions import visible_email
from .models import LoggedEmail, LoggedEmailAttachment
from .never_log import own_addresses
from .sending import (
    Outgoing,
    check_associations,
    queue_send,
    resolve_send_at,
    resolve_sender,
    should_log,
    should_track,
)
from .timeline import email_view_for

MODES = ("reply", "reply_all", "forward")
_PREFIX = {
    "Re": re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.IGNORECASE),
    "Fwd": re.compile(r"^\s*(fwd?|wg|tr)\s*:", re.IGNORECASE),
}


def prefixed(prefix: str, subject: str) -> str:
    """`subject` with "Re: " or "Fwd: " in front, unless it already starts with one."""
    subject = (subject or "").strip()
    return subject if _PREFIX[prefix].match(subject) else f"{prefix}: {subject}".rstrip()


def thread_headers(parent: LoggedEmail) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) of a reply to `parent`, with angle brackets."""
    if not parent.message_id:
        return None, [f"<{r}>" for r in parent.reference_ids or []]
    chain = list(parent.reference_ids or [])
    if not chain and parent.in_reply_to:
        chain = [parent.in_reply_to]
    chain.append(parent.message_id)
    return f"<{parent.message_id}>", [f"<{r}>" for r in dict.fromkeys(chain)]


def _recipients(user: User, parent: LoggedEmail, mode: str, to: list[str]) -> tuple[list, list]:
    if mode == "forward":
        if not to:
            raise ValidationFailed("A forward needs at least one recipient.", field="to")
        return [{"email": a.strip(), "name": ""} for a in to], []
    own = own_addresses(user)
    first = [parent.from_address] if parent.direction == "in" else list(parent.to_addresses)
    others = [] if mode == "reply" else list(parent.to_addresses) + list(parent.cc_addresses)
    seen: set[str] = set()

    def keep(people: list[dict]) -> list[dict]:
        kept = []
        for person in people:
            address = (person.get("email") or "").strip()
            if address and address.lower() not in own and address.lower() not in seen:
                seen.add(address.lower())
                kept.append({"email": address, "name": person.get("name") or ""})
        return kept

    main = keep(first)
    cc = keep(others)
    if not main and cc:
        main, cc = cc[:1], cc[1:]
    if not main:
        raise ValidationFailed("This email has nobody to reply to but you.", field="mode")
    return main, cc


def _quote(parent: LoggedEmail, view: dict, mode: str) -> tuple[str, str]:
    """The quoted original as (html, text): what the viewer may see of it."""
    sender = parent.from_address or {}
    who = f"{sender.get('name') or ''} <{sender.get('email') or ''}>".strip()
    when = parent.sent_at.strftime("%a, %d %b %Y %H:%M UTC") if parent.sent_at else ""
    body_text = view.get("body_text") or ""
    body_html = view.get("body_html") or html_lib.escape(body_text).replace("\n", "<br>")
    if mode == "forward":
        recipients = ", ".join(p.get("email", "") for p in parent.to_addresses or [])
        lines = [
            "---------- Forwarded message ----------",
            f"From: {who}",
            f"Date: {when}",
            f"Subject: {view.get('subject') or ''}",
            f"To: {recipients}",
        ]
        files = [a for a in view.get("attachments") or [] if not a.get("inline")]
        if files:
            lines.append("Attachments: " + ", ".join(a.get("filename") or "file" for a in files))
        head = "<br>".join(html_lib.escape(line) for line in lines)
        return f"<div>{head}<br><br>{body_html}</div>", "\n".join(lines) + "\n\n" + body_text
    intro = f"On {when}, {who} wrote:"
    quoted_text = "\n".join("> " + line for line in body_text.splitlines())
    quoted_html = f"<p>{html_lib.escape(intro)}</p><blockquote>{body_html}</blockquote>"
    return quoted_html, f"{intro}\n{quoted_text}"


def forwarded_files(parent: LoggedEmail, view: dict) -> list[dict]:
    """The stored, non-inline attachments the viewer may see, as outbox content
    `attachments` entries ({"blob_key", "filename", "content_type"}) for the delivery to attach."""
    shown = {a.get("id") for a in view.get("attachments") or [] if a.get("stored")}
    shown.discard(None)
    if not shown:
        return []
    rows = db.session.scalars(
        select(LoggedEmailAttachment)
        .where(
            LoggedEmailAttachment.email_id == parent.id,
            LoggedEmailAttachment.id.in_(shown),
            LoggedEmailAttachment.inline.is_(False),
            LoggedEmailAttachment.blob_key.is_not(None),
        )
        .order_by(LoggedEmailAttachment.position)
    )
    return [{"blob_key": r.blob_key, "filename": r.filename, "content_type": r.content_type}
            for r in rows]  # fmt: skip


def _origin(parent: LoggedEmail, ticket_id: int | None) -> tuple[str, dict | None]:
    if ticket_id is None:
        return "commercial", None
    if not any(a.record_type == "ticket" and a.record_id == ticket_id for a in parent.associations):
        raise ValidationFailed("The email is not associated with that ticket.", field="ticket_id")
    return "transactional", {"type": "ticket", "id": ticket_id}


def reply_to_email(user: User, email_id: int, data: dict) -> dict:
    """Queue a reply, reply-all or forward of a logged email; the send's summary."""
    parent = visible_email(user.org_id, email_id)
    mode = data["mode"]
    to, cc = _recipients(user, parent, mode, data.get("to") or [])
    sender = resolve_sender(user, data.get("from_mailbox_id"))
    send_at = resolve_send_at(user, data.get("send_at"))
    view = email_view_for(parent, user)
    quoted_html, quoted_text = _quote(parent, view, mode)
    own_html, own_text = data.get("html"), data.get("text")
    if own_text is None and own_html is None:
        own_text = ""
    html = f"{own_html or html_lib.escape(own_text or '').replace(chr(10), '<br>')}{quoted_html}"
    text = f"{own_text if own_text is not None else ''}\n\n{quoted_text}".lstrip("\n")
    in_reply_to, references = thread_headers(parent)
    subject = view.get("subject") or ""  # None when the viewer may not see it
    associations = data.get("associations")
    if associations is None:
        associations = [{"type": a.record_type, "id": a.record_id} for a in parent.associations]
    else:
        associations = check_associations(user, associations)
    purpose, origin = _origin(parent, data.get("ticket_id"))
    message = Outgoing(
        to=to, cc=cc, subject=prefixed("Fwd" if mode == "forward" else "Re", subject),
        html=html, text=text if own_html is None else None, in_reply_to=in_reply_to,
        references=references, associations=associations,
        attachments=forwarded_files(parent, view) if mode == "forward" else [],
    )  # fmt: skip
    return queue_send(
        user, message, sender, purpose=purpose, origin=origin, send_at=send_at,
        track=should_track(user, data.get("track")), log=should_log(user, data.get("log")),
    )  # fmt: skip
