"""A record's timeline as the web page shows it (REC-6, LOG-9, UI-3): the same service as the API
(server/emails/timeline.py), each entry turned into a title, a line of details and, for emails,
the sanitized body the viewer may see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from ...emails.models import LoggedEmail
from ...emails.privacy import email_view
from ...emails.timeline import build_timeline
from ...extensions import db
from ...orgs.models import User
from .blueprint import bp, humanize, localtime
from .queries import contact_names

PAGE_SIZE = 20
CONSENT_TITLES = {
    "basis_granted": "Legal basis recorded",
    "basis_withdrawn": "Legal basis withdrawn",
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "opted_out": "Opted out of all email",
    "opted_in": "Opted back in to email",
    "one_time_basis": "One-time legal basis given",
}


@bp.app_template_filter("filesize")
def filesize(size: int | None) -> str:
    """A byte count as people read it: '830 bytes', '4.2 KB', '51.0 MB'."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}"
    return ""


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return localtime(value)


def _party(party: dict | None) -> str:
    if not party:
        return "—"
    return party.get("name") or party.get("email") or "—"


def _email(data: dict) -> dict:
    to = ", ".join(_party(p) for p in (data.get("to") or [])[:3])
    more = len(data.get("to") or []) - 3
    direction = "Received" if data.get("direction") == "in" else "Sent"
    return {
        "title": data.get("subject") or ("(no subject)" if not data.get("restricted") else "Email"),
        "meta": f"{direction} · from {_party(data.get('from'))} to {to}"
        + (f" and {more} more" if more > 0 else ""),
        "body": Markup(data["body_html"]) if data.get("body_html") else None,  # nh3-sanitized
        "text": data.get("body_text") if not data.get("body_html") else None,
        "restricted": data.get("restricted"),
        "remote_images": data.get("remote_images") or 0,
        "attachments": data.get("attachments") or [],
        "left_out": data.get("attachments_left_out") or [],
    }


def _tracking(data: dict) -> dict:
    subject = data.get("subject") or "(no subject)"
    if data.get("kind") == "open":
        title = f"Opened “{subject}”"
    else:
        title = f"Clicked {data.get('url') or 'a link'} in “{subject}”"
    parts = [data.get("attribution") or "By the recipient"]
    if not data.get("human", True):
        parts.append(f"machine, not a person: {humanize(data.get('classification'))}")
    return {"title": title, "meta": " · ".join(parts)}


def _consent(data: dict, names: dict[int, str]) -> dict:
    action = data.get("action") or ""
    title = CONSENT_TITLES.get(action, humanize(action))
    if data.get("contact_id") in names:  # on a company, deal, ...: say whose consent changed
        title = f"{title}: {names[data['contact_id']]}"
    parts = [humanize(data.get("basis")) if data.get("basis") else None, data.get("reason")]
    surface = data.get("surface")
    if surface:
        parts.append(f"via {surface}")
    return {"title": title, "meta": " · ".join(p for p in parts if p and p != "—")}


def _with_images(user: User, data: dict) -> dict:
    """The email's view with its remote images restored, at the viewer's request (LOG-10)."""
    email = db.session.get(LoggedEmail, data["id"])
    return email_view(email, user, images=True) if email is not None else data


def record_timeline(
    user: User, kind: str, record_id: int, cursor: str | None, images_for: int | None = None
) -> dict:
    """A page of the record's timeline, ready for web/_timeline.html; `images_for` is the id of
    the email whose remote images the viewer asked to see."""
    page = build_timeline(user, kind, record_id, cursor, PAGE_SIZE)
    names = {}
    if kind != "contact":  # a contact's own page needs no name on its consent entries
        consent = [i["data"].get("contact_id") for i in page["items"] if i["kind"] == "consent"]
        names = contact_names(user.org_id, consent)
    shapes = {"email": _email, "tracking": _tracking,
              "consent": lambda data: _consent(data, names)}  # fmt: skip
    entries = []
    for item in page["items"]:
        shape, data = shapes.get(item["kind"]), item["data"]
        if item["kind"] == "email" and images_for and data.get("id") == images_for:
            data = _with_images(user, data)
        shown = shape(data) if shape else {"title": humanize(item["kind"]), "meta": ""}
        if item["kind"] == "email":
            shown["email_id"] = data.get("id")
            shown["images_shown"] = bool(data.get("images_shown"))
        entries.append({**shown, "kind": item["kind"], "when": _when(item["at"]),
                        "pinned": item["pinned"]})  # fmt: skip
    return {"entries": entries, "next_cursor": page["next_cursor"]}
