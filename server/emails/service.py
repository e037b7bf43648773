"""Logging emails (LOG-1, LOG-3..6): one row per message per org, associations, new contacts.

`log_email` is the one entry point for every path (API, BCC, the add-ins). It is race-safe: the
email row is inserted with ON CONFLICT DO NOTHING on (org, message_key) and then read back, new
contacts' addresses the same way on (org, address), associations on (email, record) — so parallel
deliveries of one message make one row and every delivery's associations end up on it. Rows are
written in one order (contacts by address, then the email, then associations), so concurrent
loggers wait for each other instead of deadlocking. One transaction per call.

The first delivery also stores the sanitized HTML (LOG-10, server/emails/sanitize.py) and the
attachments (LOG-7, server/emails/attachments.py). A message carrying a genuine send intent
header gets the intent's choices where the call left them unspecified (server/emails/intents.py).
`email_view` (server/emails/privacy.py) is what any answer shows of an email.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import select

from .. import events
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..mail.inbound_models import insert_if_absent
from ..orgs.models import User
from ..orgs.settings import effective_settings
from ..records.associations import check_type, require_record
from ..records.models import Contact, ContactEmail
from .attachments import store_attachments
from .candidates import Candidates, build_candidates
from .intents import resolve_intent
from .models import DIRECTIONS, SOURCES, EmailIntent, LoggedEmail, LoggedEmailAssociation
from .never_log import apply_never_log, other_parties, own_addresses
from .parsing import ParsedEmail, parse_mime, parse_structured
from .privacy import choose_level, email_view, stricter
from .sanitize import sanitize_html
from .threads import adopt_earlier_relatives, thread_key_for

__all__ = ["LogResult", "email_view", "get_email", "log_email", "preview_associations"]


@dataclass
class LogResult:
    """status: logged (new row) | already_logged (associations added) | not_logged (reason)."""

    status: str
    email: LoggedEmail | None = None
    reason: str | None = None
    created_contact_ids: list[int] = field(default_factory=list)
    never_logged: list[str] = field(default_factory=list)


def _direction(parsed: ParsedEmail, own: set[str], direction: str | None) -> str:
    if direction is None:
        return "out" if parsed.from_address.get("email", "").lower() in own else "in"
    if direction not in DIRECTIONS:
        raise ValidationFailed("direction must be in or out.", field="direction")
    return direction


def preview_associations(user: User, addresses: list[str], direction: str = "out") -> dict:
    """Candidates with default ticks for the other parties' addresses (a sidebar's checkboxes)."""
    if direction not in DIRECTIONS:
        raise ValidationFailed("direction must be in or out.", field="direction")
    settings = effective_settings(user)
    own = own_addresses(user)
    parties = [{"email": a.strip(), "name": ""} for a in addresses if a.strip().lower() not in own]
    kept, dropped, reason = apply_never_log(user.org_id, parties, settings)
    found = build_candidates(user, kept, settings) if kept else Candidates()
    return {
        "direction": direction,
        "records": found.records,
        "new_contacts": found.new_contacts,
        "never_logged": dropped,
        "not_logged_reason": reason,
    }


def _split_name(name: str, address: str) -> tuple[str, str]:
    first, _, last = name.strip().strip('"').partition(" ")
    return (first[:100], last.strip()[:100]) if first else ("", "")


def _contact_for(user: User, address: str, name: str) -> tuple[int, bool]:
    """The contact with this address, created (owner: the user, non-marketing) when absent."""
    normalized = address.strip().lower()
    query = select(ContactEmail.contact_id).where(
        ContactEmail.org_id == user.org_id, ContactEmail.email_normalized == normalized
    )
    existing = db.session.scalar(query)
    if existing is not None:
        return existing, False
    first, last = _split_name(name, address)
    contact = Contact(org_id=user.org_id, owner_id=user.id, first_name=first, last_name=last,
                      is_marketing=False, properties={})  # fmt: skip
    db.session.add(contact)
    db.session.flush()
    added = insert_if_absent(
        ContactEmail, org_id=user.org_id, contact_id=contact.id, email=address.strip(),
        email_normalized=normalized, is_primary=True,
    )  # fmt: skip
    if added:
        return contact.id, True
    db.session.delete(contact)  # another logger created it since we looked
    db.session.flush()
    return db.session.scalar(query), False


def _wanted_new(found: Candidates, create_contacts: bool | list[str] | None) -> list[dict]:
    if not found.allow_create or create_contacts is False:
        return []
    if isinstance(create_contacts, list):
        allowed = {a.strip().lower() for a in create_contacts}
        return [n for n in found.new_contacts if n["email"].lower() in allowed]
    return found.new_contacts


def explicit_associations(
    org_id: int, associations: list[dict], skip_missing: bool = False
) -> list[tuple[str, int]]:
    """(type, id) pairs of existing records of the org; a missing one is 404 (or left out)."""
    chosen: list[tuple[str, int]] = []
    for i, item in enumerate(associations):
        kind = check_type(item.get("type", ""), field=f"associations.{i}.type")
        record_id = item.get("id")
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise ValidationFailed("A record id is required.", field=f"associations.{i}.id")
        try:
            require_record(org_id, kind, record_id, field=f"associations.{i}.id")
        except NotFound:
            if skip_missing:  # an intent's record deleted since the rep ticked it
                continue
            raise
        chosen.append((kind, record_id))
    return list(dict.fromkeys(chosen))


_explicit = explicit_associations


def _insert_or_get(
    user: User,
    parsed: ParsedEmail,
    direction: str,
    source: str,
    privacy: str,
    intent_id,
    provider_thread_id: str | None = None,
) -> tuple[LoggedEmail, bool]:
    key = parsed.key
    html, remote = sanitize_html(parsed.html)
    thread_key = thread_key_for(user.org_id, parsed, provider_thread_id)
    created = insert_if_absent(
        LoggedEmail, org_id=user.org_id, message_key=key, message_id=parsed.message_id,
        thread_key=thread_key, provider_thread_id=provider_thread_id,
        in_reply_to=parsed.in_reply_to,
        reference_ids=parsed.references, subject=parsed.subject, from_address=parsed.from_address,
        to_addresses=parsed.to, cc_addresses=parsed.cc, sent_at=parsed.sent_at,
        direction=direction, source=source, logged_by_id=user.id, body_html_raw=parsed.html,
        body_text=parsed.text, attachments=[], body_html=html, remote_images=remote,
        privacy=privacy, intent_id=intent_id,
    )  # fmt: skip
    row = db.session.scalar(
        select(LoggedEmail).where(LoggedEmail.org_id == user.org_id, LoggedEmail.message_key == key)
    )
    if not created:  # one delivery at a time adds what the first one lacked
        row = db.session.scalar(
            select(LoggedEmail).where(LoggedEmail.id == row.id).with_for_update()
            .execution_options(populate_existing=True)
        )  # fmt: skip
        row.privacy = stricter(row.privacy or "full", privacy)
        if provider_thread_id and not row.provider_thread_id:
            row.provider_thread_id = provider_thread_id
    if created or provider_thread_id:
        adopt_earlier_relatives(row)
    if parsed.attachments and not row.attachments:  # e.g. an add-in's log, then the BCC copy
        row.attachments = store_attachments(row, parsed)
    return row, created


def _associate(user: User, email: LoggedEmail, pairs: list[tuple[str, int]], source: str) -> None:
    for kind, record_id in pairs:
        insert_if_absent(LoggedEmailAssociation, org_id=user.org_id, email_id=email.id,
                         record_type=kind, record_id=record_id, added_by_id=user.id,
                         source=source)  # fmt: skip


def _apply_intent(intent: EmailIntent | None, choices: dict) -> dict:
    if intent is None:
        return choices
    if choices["associations"] is None and intent.associations is not None:
        choices["associations"] = explicit_associations(
            intent.org_id, intent.associations, skip_missing=True
        )
    if choices["create_contacts"] is None:
        choices["create_contacts"] = intent.create_contacts
    if choices["privacy"] is None:
        choices["privacy"] = intent.privacy
    return choices


def log_email(
    user: User,
    raw: bytes | BinaryIO | None = None,
    structured: dict | None = None,
    associations: list[dict] | None = None,
    source: str = "api",
    create_contacts: bool | list[str] | None = None,
    direction: str | None = None,
    privacy: str | None = None,
    intent: str | None = None,
    provider_thread_id: str | None = None,
) -> LogResult:
    """Log one email (raw MIME or structured) for `user`; see the module docstring.

    `associations` None → the default ticks (LOG-4); a list of {"type", "id"} → exactly those
    (each an existing record of the user's org, else 404), plus any contacts created for unknown
    parties. `create_contacts` None → the org setting; False → none; a list → only those
    addresses (and never when the org turned creation off). A mail that the never-log rules
    exclude answers status "not_logged" with the reason, and nothing is written. `privacy`
    None → full (or the intent's), never below the org minimum. `intent` is a send intent's
    header value (a raw message's own X-Liaison-Intent header is read too).
    `provider_thread_id` (Gmail threadId, Outlook conversationId) groups the thread (LOG-8).
    """
    if source not in SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(SOURCES)}.", field="source")
    if (raw is None) == (structured is None):
        raise ValidationFailed("Give either raw MIME or a structured email.", field="raw")
    parsed = parse_mime(raw) if raw is not None else parse_structured(structured or {})
    if not parsed.from_address.get("email"):
        raise ValidationFailed("The email has no From address.", field="from")
    own = own_addresses(user)
    direction = _direction(parsed, own, direction)
    settings = effective_settings(user)
    parties = other_parties(parsed, direction, own)
    kept, dropped, reason = apply_never_log(user.org_id, parties, settings)
    if reason is not None:
        db.session.rollback()
        return LogResult("not_logged", reason=f"not logged: {reason}", never_logged=dropped)
    chosen = resolve_intent(user, intent or parsed.intent)
    pairs_given = None if associations is None else explicit_associations(user.org_id, associations)
    asked = {"associations": pairs_given, "create_contacts": create_contacts, "privacy": privacy}
    choices = _apply_intent(chosen, asked)
    level = choose_level(settings, choices["privacy"])
    found = build_candidates(user, kept, settings)
    pairs = found.checked() if choices["associations"] is None else list(choices["associations"])
    create_contacts = choices["create_contacts"]
    result = LogResult("logged", never_logged=dropped)
    for new in sorted(_wanted_new(found, create_contacts), key=lambda n: n["email"].lower()):
        contact_id, created = _contact_for(user, new["email"], new["name"])
        pairs.append(("contact", contact_id))
        if created:
            result.created_contact_ids.append(contact_id)
    email, created = _insert_or_get(
        user,
        parsed,
        direction,
        source,
        level,
        chosen.id if chosen else None,
        (provider_thread_id or "").strip()[:255] or None,
    )
    _associate(user, email, list(dict.fromkeys(pairs)), source)
    events.publish("email.logged", org_id=user.org_id, email_id=email.id, user_id=user.id,
                   direction=direction, source=source, created=created)  # fmt: skip
    db.session.commit()
    db.session.refresh(email)
    result.email = email
    result.status = "logged" if created else "already_logged"
    return result


def get_email(org_id: int, email_id: int) -> LoggedEmail:
    """One logged email of the org that is not deleted; 404 otherwise (admins restore deleted
    ones through server/emails/actions.py)."""
    row = db.session.scalar(
        select(LoggedEmail).where(
            LoggedEmail.id == email_id,
            LoggedEmail.org_id == org_id,
            LoggedEmail.deleted_at.is_(None),
        )
    )
    if row is None:
        raise NotFound(f"No email {email_id} in your organization.", field="email_id")
    return row


def edit_associations(
    user: User, email_id: int, add: list[dict] | None = None, remove: list[dict] | None = None
) -> LoggedEmail:
    """Add and remove associations of a logged email (one transaction; adding twice is a no-op)."""
    email = get_email(user.org_id, email_id)
    to_add = _explicit(user.org_id, add or [])
    to_remove: set[tuple[str, int]] = set()
    for i, item in enumerate(remove or []):
        to_remove.add((check_type(item.get("type", ""), field=f"remove.{i}.type"), int(item["id"])))
    for row in list(email.associations):
        if (row.record_type, row.record_id) in to_remove:
            email.associations.remove(row)
    db.session.flush()
    _associate(user, email, to_add, "api")
    db.session.commit()
    db.session.refresh(email)
    return email


def association_view(email: LoggedEmail) -> list[dict[str, Any]]:
    """The email's associations as plain dicts."""
    return [
        {
            "type": a.record_type,
            "id": a.record_id,
            "source": a.source,
            "added_by_id": a.added_by_id,
            "created_at": a.created_at,
        }  # fmt: skip
        for a in email.associations
    ]
