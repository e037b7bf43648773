"""Who an email is "with", and the never-log rules (LOG-6).

The other parties of an email are, for outgoing mail, its To, Cc and Bcc; for incoming mail, its
From — minus the logging user's own addresses (their email and connected mailboxes) and our own
inbound addresses (the BCC logging address).

Rules, in order:
- An address is never logged when it is on the org's or the user's never-log address list, or when
  its domain matches an entry of the org's or the user's never-log domain list. A domain entry
  matches that domain and all its subdomains: "example.com" matches "example.com" and
  "sales.example.com", but not "badexample.com" nor "example.com.evil.org".
- Mail whose other parties are all never-logged is not logged.
- Mail whose remaining parties are all inside the org's own domains (`OrgDomain`, subdomains
  included, same matching) is internal and not logged, unless the setting `log_internal_mail` is
  on. That key is read when declared in server/orgs/settings.py and defaults to off until then.
Never-logged parties of a logged email get no association and no new contact.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from ..extensions import db
from ..mail.inbound_addresses import inbound_domain
from ..mail.mailbox_models import ConnectedMailbox
from ..orgs.models import OrgDomain, User
from .parsing import ParsedEmail


def domain_of(address: str) -> str:
    """The lower-case domain of an address ('' when it has none)."""
    return address.rpartition("@")[2].strip().lower()


def domain_matches(domain: str, entry: str) -> bool:
    """True when `domain` is `entry` or one of its subdomains (label boundary, case-insensitive)."""
    domain, entry = domain.lower().rstrip("."), entry.lower().strip().lstrip("@").rstrip(".")
    return bool(entry) and (domain == entry or domain.endswith("." + entry))


def own_addresses(user: User) -> set[str]:
    """The user's own addresses, lower-case: their email and their connected mailboxes."""
    mailboxes = db.session.scalars(
        select(ConnectedMailbox.address).where(
            ConnectedMailbox.org_id == user.org_id, ConnectedMailbox.user_id == user.id
        )
    )
    return {user.email.lower(), *(a.lower() for a in mailboxes if a)}


def other_parties(parsed: ParsedEmail, direction: str, own: set[str]) -> list[dict]:
    """The people the email is with (see the module docstring), deduplicated, in header order."""
    people = parsed.to + parsed.cc + parsed.bcc if direction == "out" else [parsed.from_address]
    ours = inbound_domain()
    found: dict[str, dict] = {}
    for person in people:
        address = person.get("email", "").strip()
        lowered = address.lower()
        if not address or lowered in own or domain_of(address) == ours or lowered in found:
            continue
        found[lowered] = {"name": person.get("name", ""), "email": address}
    return list(found.values())


def _value(settings: dict, key: str, default):
    entry = settings.get(key)
    return default if entry is None else entry["value"]


def is_never_logged(address: str, addresses: set[str], domains: Iterable[str]) -> bool:
    """True when the address or its domain is on the given lists."""
    domain = domain_of(address)
    return address.lower() in addresses or any(domain_matches(domain, e) for e in domains)


def apply_never_log(
    org_id: int, parties: list[dict], settings: dict
) -> tuple[list[dict], list[str], str | None]:
    """(parties still logged, never-logged addresses, reason the mail is not logged or None)."""
    addresses = {a.lower() for a in _value(settings, "never_log_addresses", [])}
    addresses |= {a.lower() for a in _value(settings, "user_never_log_addresses", [])}
    domains = list(_value(settings, "never_log_domains", []))
    domains += list(_value(settings, "user_never_log_domains", []))
    kept, dropped = [], []
    for party in parties:
        blocked = is_never_logged(party["email"], addresses, domains)
        (dropped if blocked else kept).append(party if not blocked else party["email"])
    if not parties:
        return [], [], "no other parties (mail to yourself or to our own addresses only)"
    if not kept:
        return [], dropped, "every other party is on a never-log list"
    if not _value(settings, "log_internal_mail", False):
        own = list(db.session.scalars(select(OrgDomain.domain).where(OrgDomain.org_id == org_id)))
        if own and all(any(domain_matches(domain_of(p["email"]), d) for d in own) for p in kept):
            return [], dropped, "internal mail: every other party is inside the organization"
    return kept, dropped, None
