"""The homepage card: my recent tracked emails with their status, unread notifications, and a
contact search (TRK-5, TRK-6, REC-3)."""

from __future__ import annotations

from ...orgs.models import User
from ...records.service import list_records
from . import contracts
from .cards import (
    ADDON_NAME,
    button,
    buttons,
    card,
    decorated,
    section,
    status_line,
    text_input,
    unavailable,
)
from .state import sign_state

RECENT = 5
SEARCH_RESULTS = 10


def _tracked_widgets(user: User) -> list[dict]:
    emails = contracts.recent_tracked_emails(user, RECENT)
    if emails is None:
        return [unavailable("Email tracking")]
    if not emails:
        return [decorated("No tracked emails yet.")]
    widgets = []
    for item in emails:
        widgets.append(decorated(item.get("subject") or "(no subject)", bottom=status_line(item)))
    return widgets


def _notification_widgets(user: User) -> list[dict]:
    found = contracts.unread_notifications(user, RECENT)
    if found is None:
        return [unavailable("Notifications")]
    count, items = found
    if not count:
        return [decorated("No unread notifications.")]
    widgets = [decorated(f"{count} unread", top="Notifications")]
    widgets += [decorated(n.title, bottom=n.body or None) for n in items]
    return widgets


def search_widgets(user: User) -> list[dict]:
    """A text box and a button that searches contacts."""
    return [
        text_input("q", "Find a contact", hint="Name or email address"),
        buttons(button("Search", "/gmail/actions/search", sign_state(user, kind="search"))),
    ]


def homepage_card(user: User) -> dict:
    """The homepage for `user`."""
    return card(
        ADDON_NAME,
        [
            section(_tracked_widgets(user), header="My tracked emails"),
            section(_notification_widgets(user), header="Notifications"),
            section(search_widgets(user), header="Contacts"),
        ],
        subtitle=user.email,
    )


def search_card(user: User, query: str) -> dict:
    """Contacts of the user's org matching `query`."""
    query = query.strip()
    if not query:
        return card("Find a contact", [section([decorated("Type a name or an address.")])])
    page = list_records(user.org_id, "contact", q=query[:200], limit=SEARCH_RESULTS)
    widgets = []
    for contact in page.items:
        name = f"{contact.first_name or ''} {contact.last_name or ''}".strip()
        emails = [e.email for e in contact.emails]
        widgets.append(
            decorated(
                name or (emails[0] if emails else f"Contact {contact.id}"),
                bottom=", ".join(emails[:3]) or None,
            )
        )
    if not widgets:
        widgets = [decorated(f"No contact matches “{query}”.")]
    return card("Find a contact", [section(widgets, header=f"Results for “{query}”")])
