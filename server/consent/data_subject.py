"""Data subject rights (GDPR-8): export everything held about a contact, or erase it.

Each domain that holds personal data registers a *part*::

    register_data_subject_part("tracking", export_fn, erase_fn, order=20)

- `export_fn(org_id, contact) -> JSON-ready value` (dicts, lists, str, int, ...; datetimes are
  turned into ISO strings by `export_contact`);
- `erase_fn(org_id, contact) -> {what: count}` deletes or anonymizes that part's data in the
  caller's transaction: it must NOT commit (the whole erasure is one transaction; a failure in any
  part rolls every part back).

`contact` is the `Contact` row (id, org_id, first_name, last_name, emails[].email /
.email_normalized), loaded before any part runs. Erase runs the parts in ascending `order` (then
registration order): parts that need the contact's emails or records (tracking events,
attachment blobs) use the default 50 and run before the built-in parts, which are emails (80),
consent history (90) and the record itself (100, last); the outbox part (70) anonymizes messages
addressed to the contact (server/consent/data_subject_mail.py).
`erasable_email_ids(org_id, contact)` says which logged emails the emails part will delete, so an
attachments part can remove their blobs first. Built-in parts: server/consent/data_subject_parts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete

from ..clock import utcnow
from ..errors import ValidationFailed
from ..extensions import db
from ..records.service import get_contact
from .models import ConsentAudit

ExportFn = Callable[[int, Any], Any]
EraseFn = Callable[[int, Any], dict]


@dataclass(frozen=True)
class DataSubjectPart:
    """One domain's share of a contact's personal data."""

    name: str
    export: ExportFn
    erase: EraseFn
    order: int = 50


PARTS: dict[str, DataSubjectPart] = {}


def register_data_subject_part(
    name: str, export_fn: ExportFn, erase_fn: EraseFn, order: int = 50
) -> None:
    """Add (or replace, by name) a part that export and erase both run."""
    PARTS[name] = DataSubjectPart(name, export_fn, erase_fn, order)


def delete_by_ids(model: type, ids: list[int]) -> int:
    """Delete `model` rows by id in the caller's transaction (for erase parts); how many."""
    if ids:
        db.session.execute(
            delete(model).where(model.id.in_(ids)).execution_options(synchronize_session="fetch")
        )
    return len(ids)


def _parts_in_erase_order() -> list[DataSubjectPart]:
    listed = list(PARTS.values())
    return sorted(listed, key=lambda p: (p.order, listed.index(p)))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _audit(org_id: int, contact_id: int | None, actor_id: int | None, action: str, **kw) -> None:
    row = ConsentAudit(org_id=org_id, contact_id=contact_id, actor_id=actor_id, action=action, **kw)
    row.at = utcnow()
    db.session.add(row)


def export_contact(org_id: int, contact_id: int, actor_id: int | None, surface: str) -> dict:
    """Everything held about the contact as JSON (404 for another org's contact); audited."""
    _load_parts()
    contact = get_contact(org_id, contact_id)
    parts = {part.name: _json_ready(part.export(org_id, contact)) for part in PARTS.values()}
    _audit(org_id, contact_id, actor_id, "data_exported", surface=surface,
           details={"parts": sorted(parts)})  # fmt: skip
    db.session.commit()
    return {
        "contact_id": contact_id,
        "org_id": org_id,
        "exported_at": utcnow().isoformat(),
        "parts": parts,
    }


def erase_contact(
    org_id: int, contact_id: int, actor_id: int | None, surface: str, confirm: str | None
) -> dict:
    """Erase the contact in every part, in one transaction, after checking `confirm` (its
    primary email, case-insensitive); leaves one anonymized audit entry. Returns the counts."""
    _load_parts()
    contact = get_contact(org_id, contact_id)
    expected = (contact.primary_email or f"contact #{contact.id}").strip().lower()
    if (confirm or "").strip().lower() != expected:
        raise ValidationFailed(
            "To erase, repeat the contact's primary email address exactly.", field="confirm"
        )
    counts: dict[str, dict] = {}
    try:
        for part in _parts_in_erase_order():
            counts[part.name] = dict(part.erase(org_id, contact) or {})
        _audit(org_id, None, actor_id, "contact_erased", surface=surface,
               details={"subject": f"erased contact #{contact_id}", "counts": counts})  # fmt: skip
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


def erasable_email_ids(org_id: int, contact: Any) -> set[int]:
    """Ids of the logged emails erasing `contact` deletes (they are its only external party)."""
    from .data_subject_parts import emails_to_delete

    return emails_to_delete(org_id, contact)


def _load_parts() -> None:
    from . import data_subject_mail, data_subject_parts  # noqa: F401  (the built-in parts)
