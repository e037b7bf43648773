"""Association candidates for an email's other parties, with their default ticks (LOG-4, LOG-5).

For each address: its contact, the contact's primary company, and the first three open deals and
tickets of the contact by last activity (from `server.records.lookup`, a fixed number of queries
for up to 50 addresses per call). A candidate is ticked when its type is in the effective
`default_association_types`. An address with no contact is a "new contact" candidate, ticked
when the org setting `create_contacts_for_unknown` is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..orgs.models import User
from ..records.lookup import MAX_ADDRESSES, lookup_emails


@dataclass
class Candidates:
    """Records to associate (in order, deduplicated) and addresses with no contact."""

    records: list[dict] = field(default_factory=list)  # {type, id, name, checked, addresses}
    new_contacts: list[dict] = field(default_factory=list)  # {email, name, checked}
    allow_create: bool = True

    def checked(self) -> list[tuple[str, int]]:
        """The (type, id) pairs ticked by default."""
        return [(r["type"], r["id"]) for r in self.records if r["checked"]]


def _setting(settings: dict, key: str, default):
    entry = settings.get(key)
    return default if entry is None else entry["value"]


def build_candidates(user: User, parties: list[dict], settings: dict) -> Candidates:
    """The candidates for these parties ({"email", "name"}), ticks from the effective settings."""
    ticked = set(_setting(settings, "default_association_types", []))
    allow_create = bool(_setting(settings, "create_contacts_for_unknown", True))
    result = Candidates(allow_create=allow_create)
    index: dict[tuple[str, int], dict] = {}

    def add(kind: str, record_id: int, name: str, address: str) -> None:
        key = (kind, record_id)
        if key not in index:
            index[key] = {"type": kind, "id": record_id, "name": name,
                          "checked": kind in ticked, "addresses": []}  # fmt: skip
            result.records.append(index[key])
        if address not in index[key]["addresses"]:
            index[key]["addresses"].append(address)

    names = {p["email"].lower(): p.get("name", "") for p in parties}
    addresses = [p["email"] for p in parties]
    for start in range(0, len(addresses), MAX_ADDRESSES):
        answer = lookup_emails(user, addresses[start : start + MAX_ADDRESSES])
        for found in answer["results"]:
            address = found["email"]
            if found["error"]:
                continue
            contact = found["contact"]
            if contact is None:
                result.new_contacts.append({"email": address, "name": names.get(
                    address.lower(), ""), "checked": allow_create})  # fmt: skip
                continue
            add("contact", contact["id"], contact["name"], address)
            if found["company"]:
                add("company", found["company"]["id"], found["company"]["name"], address)
            for deal in found["deals"]:
                add("deal", deal["id"], deal["name"], address)
            for ticket in found["tickets"]:
                add("ticket", ticket["id"], ticket["subject"], address)
    return result
