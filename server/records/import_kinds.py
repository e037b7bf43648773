"""The import writers of contacts, companies and deals (REC-5): each type's key for duplicates
(contact address, company domain; deals have none) and what it writes besides the record."""

from __future__ import annotations

from sqlalchemy import insert, select

from ..extensions import db
from .import_rows import PendingRow
from .import_writers import BatchWriter
from .models import Company, CompanyDomain, Contact, ContactEmail, Deal


class ContactWriter(BatchWriter):
    """Contacts: the address is the key (unique per org, any case); company → primary company."""

    record_type, model = "contact", Contact

    def resolve(self, batch: list[PendingRow]) -> None:
        """Owners and companies, then duplicate addresses within the file and in the org."""
        super().resolve(batch)
        fresh = []
        for pending in batch:
            email = pending.values.get("email")
            if email is None:
                continue
            if email[1] in self.seen:
                if self.on_duplicate == "skip":
                    pending.action = "skip"
                else:
                    pending.errors.append(("email", f"{email[1]} appears earlier in the file."))
                continue
            self.seen.add(email[1])
            fresh.append(pending)
        if not fresh:
            return
        existing = dict(
            db.session.execute(
                select(ContactEmail.email_normalized, ContactEmail.contact_id).where(
                    ContactEmail.org_id == self.org_id,
                    ContactEmail.email_normalized.in_([p.values["email"][1] for p in fresh]),
                )
            ).all()
        )
        for pending in fresh:
            address = pending.values["email"][1]
            if address in existing:
                reason = (
                    f"A contact with the address {address} exists (contact {existing[address]})."
                )
                self._duplicate(pending, "email", reason, existing[address])

    def _record_row(self, pending: PendingRow) -> dict:
        return {
            **super()._record_row(pending),
            "primary_company_id": pending.values.get("company_id"),
        }

    def _create(self, rows: list[PendingRow], ids: list[int]) -> None:
        db.session.execute(
            insert(ContactEmail.__table__),
            [
                {"org_id": self.org_id, "contact_id": contact_id, "email": p.values["email"][0],
                 "email_normalized": p.values["email"][1], "is_primary": True}
                for p, contact_id in zip(rows, ids, strict=True)
            ],
        )  # fmt: skip
        for pending, contact_id in zip(rows, ids, strict=True):
            if "company_id" in pending.values:
                self._associate(("contact", contact_id), ("company", pending.values["company_id"]))

    def _after_update(self, rows: list[PendingRow]) -> None:
        for pending in rows:
            if "company_id" in pending.values:
                self._associate(
                    ("contact", pending.target_id), ("company", pending.values["company_id"])
                )


class CompanyWriter(BatchWriter):
    """Companies: their domains are the key (unique per org)."""

    record_type, model = "company", Company

    def resolve(self, batch: list[PendingRow]) -> None:
        """Owners, then duplicate domains within the file and in the org."""
        super().resolve(batch)
        fresh = []
        for pending in batch:
            domains = pending.values.get("domain") or []
            repeated = [d for d in domains if d in self.seen]
            self.seen.update(domains)
            if repeated and self.on_duplicate == "skip":
                pending.action = "skip"
            elif repeated:
                pending.errors.append(("domain", f"{repeated[0]} appears earlier in the file."))
            elif domains:
                fresh.append(pending)
        wanted = {d for p in fresh for d in p.values["domain"]}
        existing = dict(
            db.session.execute(
                select(CompanyDomain.domain, CompanyDomain.company_id).where(
                    CompanyDomain.org_id == self.org_id, CompanyDomain.domain.in_(wanted)
                )
            ).all()
        ) if wanted else {}  # fmt: skip
        for pending in fresh:
            taken = [d for d in pending.values["domain"] if d in existing]
            owners = sorted({existing[d] for d in taken})
            if len(owners) > 1:
                ids = ", ".join(map(str, owners))
                pending.errors.append(
                    ("domain", f"Its domains belong to different companies ({ids}).")
                )
            elif owners:
                reason = f"A company with the domain {taken[0]} exists (company {owners[0]})."
                self._duplicate(pending, "domain", reason, owners[0])
                pending.values["new_domains"] = [
                    d for d in pending.values["domain"] if d not in existing
                ]

    def _insert_domains(self, pairs: list[tuple[int, str]]) -> None:
        if pairs:
            rows = [{"org_id": self.org_id, "company_id": c, "domain": d} for c, d in pairs]
            db.session.execute(insert(CompanyDomain.__table__), rows)

    def _create(self, rows: list[PendingRow], ids: list[int]) -> None:
        pairs = zip(rows, ids, strict=True)
        self._insert_domains([(c, d) for p, c in pairs for d in p.values.get("domain", [])])

    def _after_update(self, rows: list[PendingRow]) -> None:
        self._insert_domains([(p.target_id, d) for p in rows for d in p.values["new_domains"]])


class DealWriter(BatchWriter):
    """Deals: always created; company and contacts become associations."""

    record_type, model = "deal", Deal

    def resolve(self, batch: list[PendingRow]) -> None:
        """Owners, companies and contacts (by address)."""
        super().resolve(batch)
        wanted = {e for p in batch for e in p.values.get("contact", [])}
        found = dict(
            db.session.execute(
                select(ContactEmail.email_normalized, ContactEmail.contact_id).where(
                    ContactEmail.org_id == self.org_id, ContactEmail.email_normalized.in_(wanted)
                )
            ).all()
        ) if wanted else {}  # fmt: skip
        for pending in batch:
            missing = [e for e in pending.values.get("contact", []) if e not in found]
            if missing:
                pending.errors.append(("contact", f"No contact with the address {missing[0]}."))
            else:
                pending.values["contact_ids"] = [
                    found[e] for e in pending.values.get("contact", [])
                ]

    def _create(self, rows: list[PendingRow], ids: list[int]) -> None:
        for pending, deal_id in zip(rows, ids, strict=True):
            if "company_id" in pending.values:
                self._associate(("deal", deal_id), ("company", pending.values["company_id"]))
            for contact_id in pending.values["contact_ids"]:
                self._associate(("deal", deal_id), ("contact", contact_id))


WRITERS: dict[str, type[BatchWriter]] = {
    "contact": ContactWriter,
    "company": CompanyWriter,
    "deal": DealWriter,
}
