"""Writing imported rows in batches (REC-5): each batch resolves owners, companies, contacts and
duplicates with one IN query per kind, then inserts with one multi-row statement per table.

A writer lives for one import: it remembers the normalized addresses (or domains) seen so far in
the file, to report duplicates within the file without keeping the rows themselves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update

from ..clock import utcnow
from ..extensions import db
from ..orgs.models import User
from .import_rows import CellError, PendingRow, clean_domain
from .models import Association, Company, CompanyDomain

_FIELD_COLUMNS = {
    "contact": ("first_name", "last_name", "job_title", "phone", "lifecycle_stage", "is_marketing"),
    "company": ("name", "industry"),
    "deal": ("name", "stage", "amount", "currency", "close_date", "is_closed"),
}
_DEFAULTS = {
    "contact": {"first_name": "", "last_name": "", "job_title": None, "phone": None,
                "lifecycle_stage": "lead", "is_marketing": True},
    "company": {"industry": None},
    "deal": {"stage": "appointment_scheduled", "amount": None, "currency": "EUR",
             "close_date": None, "is_closed": False},
}  # fmt: skip


def _insert_ignoring_conflicts(table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the session's database."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing()


class BatchWriter:
    """Resolves and writes one record type's batches for one org (see the subclasses)."""

    record_type = ""
    model: Any = None

    def __init__(self, org_id: int, on_duplicate: str, owner_id: int | None, user_id: int | None):
        self.org_id, self.on_duplicate = org_id, on_duplicate
        self.default_owner_id, self.user_id = owner_id, user_id
        self.seen: set[str] = set()
        self.owners = dict(
            db.session.execute(
                select(User.email, User.id).where(User.org_id == org_id, User.is_active)
            ).all()
        )
        self.associations: list[dict] = []

    # --- resolving -------------------------------------------------------------------------------

    def resolve(self, batch: list[PendingRow]) -> None:
        """Add to each row the errors that need the database; decide create, update or skip."""
        companies = self._find_companies(
            {p.values["company"] for p in batch if "company" in p.values}
        )
        for pending in batch:
            owner = pending.values.get("owner")
            if owner is not None:
                if owner in self.owners:
                    pending.values["owner_id"] = self.owners[owner]
                else:
                    pending.errors.append(("owner", f"No user {owner} in the organization."))
            if "company" in pending.values:
                found = companies[pending.values["company"]]
                if isinstance(found, str):
                    pending.errors.append(("company", found))
                else:
                    pending.values["company_id"] = found

    def _find_companies(self, refs: set[str]) -> dict[str, int | str]:
        """Company reference (domain or name) → company id, or the reason it does not resolve."""
        if not refs:
            return {}
        domains: dict[str, str] = {}
        for ref in refs:
            try:
                if "." in ref and " " not in ref:
                    domains[ref] = clean_domain(ref)
            except CellError:
                pass
        by_domain = dict(
            db.session.execute(
                select(CompanyDomain.domain, CompanyDomain.company_id).where(
                    CompanyDomain.org_id == self.org_id,
                    CompanyDomain.domain.in_(set(domains.values())),
                )
            ).all()
        ) if domains else {}  # fmt: skip
        by_name: dict[str, list[int]] = defaultdict(list)
        for name, company_id in db.session.execute(
            select(func.lower(Company.name), Company.id).where(
                Company.org_id == self.org_id,
                func.lower(Company.name).in_({r.lower() for r in refs}),
            )
        ):
            by_name[name].append(company_id)
        found: dict[str, int | str] = {}
        for ref in refs:
            ids = by_name.get(ref.lower(), [])
            if domains.get(ref) in by_domain:
                found[ref] = by_domain[domains[ref]]
            elif len(ids) == 1:
                found[ref] = ids[0]
            elif ids:
                found[ref] = f"{len(ids)} companies are named {ref!r}; use the company's domain."
            else:
                found[ref] = f"No company named {ref!r} or with that domain."
        return found

    def _duplicate(self, pending: PendingRow, field: str, reason: str, target: int | None) -> None:
        """Apply --on-duplicate to a row whose key is taken (target: the existing record)."""
        if self.on_duplicate == "skip":
            pending.action = "skip"
        elif self.on_duplicate == "update" and target is not None:
            pending.action, pending.target_id = "update", target
        else:
            pending.errors.append((field, reason))

    # --- writing ---------------------------------------------------------------------------------

    def _record_row(self, pending: PendingRow) -> dict:
        values = pending.values
        row = {"org_id": self.org_id, "owner_id": values.get("owner_id", self.default_owner_id),
               "properties": values.get("properties", {})}  # fmt: skip
        for name in _FIELD_COLUMNS[self.record_type]:
            row[name] = values.get(name, _DEFAULTS[self.record_type].get(name))
        return row

    def _insert_records(self, rows: list[PendingRow]) -> list[int]:
        """Insert the records of `rows` in one statement; their ids in the same order."""
        table = self.model.__table__
        values = [self._record_row(p) for p in rows]
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite has one writer: from its first INSERT this transaction holds the lock, and
            # each row gets max(id) + 1, so the batch's ids are consecutive and end at the last
            # rowid. (SQLAlchemy would send one INSERT per row to keep RETURNING in order.)
            db.session.execute(insert(table), values)
            last = db.session.execute(text("SELECT last_insert_rowid()")).scalar_one()
            return list(range(last - len(values) + 1, last + 1))
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.session.execute(stmt, values).scalars())

    def _update_records(self, rows: list[PendingRow]) -> None:
        """Change the given fields of existing records; free properties are merged."""
        table = self.model.__table__
        ids = [p.target_id for p in rows]
        old = dict(
            db.session.execute(
                select(table.c.id, table.c.properties).where(table.c.id.in_(ids))
            ).all()
        )
        groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
        for pending in rows:
            values = {
                k: pending.values[k]
                for k in _FIELD_COLUMNS[self.record_type]
                if k in pending.values
            }
            if "owner_id" in pending.values:
                values["owner_id"] = pending.values["owner_id"]
            if "properties" in pending.values:
                values["properties"] = {
                    **(old.get(pending.target_id) or {}),
                    **pending.values["properties"],
                }
            if self.record_type == "contact" and "company_id" in pending.values:
                values["primary_company_id"] = pending.values["company_id"]
            values["updated_at"] = utcnow()
            groups[tuple(sorted(values))].append({"_id": pending.target_id, **values})
        for keys, params in groups.items():
            stmt = update(table).where(table.c.id == bindparam("_id"))
            db.session.execute(stmt.values({k: bindparam(k) for k in keys}), params)

    def _associate(self, a: tuple[str, int], b: tuple[str, int]) -> None:
        (a_type, a_id), (b_type, b_id) = sorted([a, b])
        self.associations.append(
            {"org_id": self.org_id, "a_type": a_type, "a_id": a_id, "b_type": b_type,
             "b_id": b_id, "created_by_id": self.user_id}
        )  # fmt: skip

    def _flush_associations(self) -> None:
        if self.associations:
            db.session.execute(_insert_ignoring_conflicts(Association.__table__), self.associations)
            self.associations = []

    def write(self, rows: list[PendingRow]) -> tuple[int, int]:
        """Write rows without errors; (created, updated)."""
        created = [p for p in rows if p.action == "create"]
        updated = [p for p in rows if p.action == "update"]
        if created:
            self._create(created, self._insert_records(created))
        if updated:
            self._update_records(updated)
            self._after_update(updated)
        self._flush_associations()
        return len(created), len(updated)

    def _create(self, rows: list[PendingRow], ids: list[int]) -> None:
        """Write what belongs to newly inserted records (addresses, domains, associations)."""

    def _after_update(self, rows: list[PendingRow]) -> None:
        """Write what belongs to updated records."""
