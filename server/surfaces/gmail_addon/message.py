"""The opened-message card: each party with their CRM record or "not in CRM" + create, their open
deals and tickets, the latest timeline items, tracking status, and "Log this email" with the
association ticks (LOG-4) and privacy level. Headers only (format=metadata) until the rep logs;
logging reads the whole message (format=raw) and goes through `log_email` like every other
path, so one Message-ID is one logged email (LOG-3).
"""

from __future__ import annotations

from typing import Any

from ...emails.never_log import other_parties, own_addresses
from ...emails.parsing import parse_mime
from ...emails.service import log_email, preview_associations
from ...errors import Forbidden
from ...orgs.models import User
from ...orgs.settings import effective_settings
from ...records.lookup import lookup_emails
from . import contracts
from .cards import (
    button,
    buttons,
    card,
    decorated,
    paragraph,
    section,
    selection,
    status_line,
    text_input,
    unavailable,
)
from .gmail_api import get_message, header_block, raw_bytes
from .state import sign_state

TIMELINE_ITEMS = 3


def _parties(parsed, own: set[str]) -> list[dict]:
    """Sender and recipients other than the user, in header order, once each."""
    seen: dict[str, dict] = {}
    for person in [parsed.from_address, *parsed.to, *parsed.cc]:
        address = (person or {}).get("email", "").strip()
        if address and address.lower() not in own and address.lower() not in seen:
            seen[address.lower()] = {"email": address, "name": person.get("name", "")}
    return list(seen.values())


def _party_widgets(user: User, result: dict, name: str, state_for_create: str) -> list[dict]:
    address = result["email"]
    contact = result["contact"]
    if contact is None:
        create = button("Create contact", "/gmail/actions/create_contact", state_for_create)
        return [decorated(name or address, top="Not in CRM", bottom=address, button=create)]
    company = (result.get("company") or {}).get("name")
    widgets = [
        decorated(
            contact["name"],
            top="Contact",
            bottom=" · ".join([address] + ([company] if company else [])),
        )
    ]
    for deal in result["deals"]:
        widgets.append(decorated(deal["name"], top="Open deal", bottom=deal.get("stage")))
    for ticket in result["tickets"]:
        widgets.append(decorated(ticket["subject"], top="Open ticket", bottom=ticket.get("status")))
    items = contracts.timeline_items(user, "contact", contact["id"], TIMELINE_ITEMS)
    if items is None:
        widgets.append(unavailable("Timeline"))
    for item in items or []:
        data = item.get("data") or {}
        title = data.get("subject") or data.get("title") or item.get("kind", "")
        at = item.get("at")
        widgets.append(
            decorated(
                str(title) or "(no subject)",
                top=f"Timeline · {item['kind']}",
                bottom=at.strftime("%Y-%m-%d %H:%M UTC") if at else None,
            )
        )
    return widgets


def _tracking_widgets(org_id: int, message_id: str | None, direction: str) -> list[dict]:
    if direction != "out":
        return []
    if not contracts.tracking_available():
        return [unavailable("Email tracking")]
    status = contracts.tracking_status(org_id, message_id)
    if not status:
        return [decorated("This email was not tracked.", top="Tracking")]
    who = status.get("attribution") if status.get("tracked", True) else None
    return [decorated(status_line(status), top="Tracking", bottom=who)]


def _log_widgets(user: User, preview: dict, state: str) -> list[dict]:
    items = [
        {
            "text": f"{r['type'].capitalize()}: {r['name']}",
            "value": f"{r['type']}:{r['id']}",
            "selected": bool(r["checked"]),
        }
        for r in preview["records"]
    ]
    items += [
        {
            "text": f"New contact: {n['email']}",
            "value": f"new:{n['email']}",
            "selected": bool(n["checked"]),
        }
        for n in preview["new_contacts"]
    ]
    widgets = []
    if preview.get("not_logged_reason"):
        return [decorated(preview["not_logged_reason"], top="Not logged")]
    if items:
        widgets.append(selection("associate", "Associate with", items))
    levels = contracts.privacy_levels()
    if levels is None:
        widgets.append(unavailable("Privacy level"))
    else:
        chosen = (effective_settings(user).get("email_privacy_minimum") or {}).get("value")
        widgets.append(
            selection(
                "privacy",
                "Who sees the content",
                [
                    {"text": level.capitalize(), "value": level, "selected": level == chosen}
                    for level in levels
                ],
                kind="DROPDOWN",
            )
        )
    widgets.append(buttons(button("Log this email", "/gmail/actions/log", state)))
    return widgets


def read_headers(event: dict):
    """The open message's headers, parsed like any logged message."""
    return parse_mime(header_block(get_message(event, "metadata")))


def message_card(user: User, event: dict) -> dict:
    """The contextual card of the open message."""
    parsed = read_headers(event)
    own = own_addresses(user)
    direction = "out" if parsed.from_address.get("email", "").lower() in own else "in"
    parties = _parties(parsed, own)
    found = lookup_emails(user, [p["email"] for p in parties])["results"] if parties else []
    names = {p["email"].lower(): p["name"] for p in parties}
    people: list[dict] = []
    for result in found:
        create = sign_state(
            user,
            kind="create_contact",
            email=result["email"],
            name=names.get(result["email"].lower(), ""),
        )
        people += _party_widgets(user, result, names.get(result["email"].lower(), ""), create)
    gmail_id = str((event.get("gmail") or {}).get("messageId"))
    logged_with = [p["email"] for p in other_parties(parsed, direction, own)]
    preview = preview_associations(user, logged_with, direction)
    log_state = sign_state(user, kind="log", message=gmail_id, direction=direction)
    contact_ids = [r["contact"]["id"] for r in found if r["contact"]]
    record_state = sign_state(user, kind="create_record", contacts=contact_ids)
    sections = [
        section(people or [decorated("Only you are on this email.")], header="People"),
        section(_tracking_widgets(user.org_id, parsed.message_id, direction)),
        section(_log_widgets(user, preview, log_state), header="Log this email"),
        section(
            [
                text_input("record_name", "Name", hint=parsed.subject or "New deal or ticket"),
                buttons(
                    button("Create deal", "/gmail/actions/create_deal", record_state),
                    button("Create ticket", "/gmail/actions/create_ticket", record_state),
                ),
            ],
            header="Create a deal or ticket",
        ),
    ]
    return card(
        parsed.subject or "(no subject)",
        sections,
        subtitle=direction == "out"
        and "Sent by you"
        or f"From {parsed.from_address.get('email', '')}",
    )


def log_open_message(
    user: User, event: dict, state: dict[str, Any], ticked: list[str], privacy: str | None
) -> dict:
    """Log the open message with the ticked associations; the result card."""
    if str((event.get("gmail") or {}).get("messageId")) != state.get("message"):
        raise Forbidden("This card belongs to another message; open the message again.")
    associations, new = [], []
    for value in ticked:
        kind, _, rest = value.partition(":")
        if kind == "new":
            new.append(rest)
        elif rest.isdigit():
            associations.append({"type": kind, "id": int(rest)})
    resource = get_message(event, "raw")
    raw = raw_bytes(resource)
    options: dict[str, Any] = {}
    if privacy and contracts.privacy_levels():
        options["privacy"] = privacy
    result = log_email(
        user,
        raw=raw,
        associations=associations,
        source="gmail",
        create_contacts=new,
        direction=state.get("direction"),
        provider_thread_id=resource.get("threadId"),
        **options,
    )
    if result.status == "not_logged":
        return card("Not logged", [section([paragraph(result.reason or "Not logged.")])])
    title = "Logged" if result.status == "logged" else "Already logged"
    lines = [f"“{result.email.subject or '(no subject)'}” is in Liaison."]
    if result.status == "already_logged":
        lines.append("Someone logged it before (Bcc, Outlook or Gmail); your ticks were added.")
    if result.created_contact_ids:
        lines.append(f"{len(result.created_contact_ids)} new contact(s) created.")
    return card(title, [section([paragraph(line) for line in lines])])
