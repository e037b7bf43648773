"""Field rules of records (REC-1): for contacts, companies, deals and tickets text lengths,
enumerations, money, dates, owners and free properties; for custom records their values against
the type's property schema. Each failure is a 422 naming the field. `writing()` wraps a write so
that a refused change leaves nothing behind in the session."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .addresses import clean_email
from .models import LIFECYCLE_STAGES, CustomObjectType

TICKET_PRIORITIES = ("low", "medium", "high", "urgent")
MAX_TEXT = 10_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_FIELDS = {
    "contact": ("first_name", "last_name", "job_title", "phone", "lifecycle_stage", "is_marketing"),
    "company": ("name", "industry"),
    "deal": ("name", "stage", "amount", "currency", "close_date", "is_closed"),
    "ticket": ("subject", "description", "status", "priority", "is_closed"),
}
_REQUIRED = {"company": "name", "deal": "name", "ticket": "subject"}
_TEXT = {  # name: (max length, may be null)
    "first_name": (100, False), "last_name": (100, False), "job_title": (200, True),
    "phone": (50, True), "name": (200, False), "industry": (100, True), "stage": (60, False),
    "subject": (300, False), "description": (100_000, True), "status": (40, False),
}  # fmt: skip


@contextmanager
def writing(
    conflict: str = "The change collides with one made at the same moment; try again.",
    field: str | None = None,
) -> Iterator[None]:
    """One write: committed at the end, rolled back on any error (a unique key taken by a
    concurrent request becomes a 409 with `conflict`)."""
    try:
        yield
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(conflict, field=field) from None
    except BaseException:
        db.session.rollback()
        raise


def resolve_owner(org_id: int, owner_id: Any) -> int | None:
    """`owner_id` when it is a user of the org (or None); 422 on field owner_id otherwise."""
    if owner_id is None:
        return None
    user_id = None
    if isinstance(owner_id, int) and not isinstance(owner_id, bool):
        user_id = db.session.scalar(
            select(User.id).where(User.id == owner_id, User.org_id == org_id)
        )
    if user_id is None:
        raise ValidationFailed(f"No user {owner_id} in your organization.", field="owner_id")
    return user_id


def clean_properties(value: Any) -> dict:
    """Free properties of a standard record: a JSON object of scalar values."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise ValidationFailed("properties must be an object with names.", field="properties")
    for key, item in value.items():
        if not (item is None or isinstance(item, str | int | float | bool)):
            raise ValidationFailed("A property holds a single value.", field=f"properties.{key}")
    return dict(value)


def _clean_field(name: str, value: Any) -> Any:
    if name in _TEXT:
        limit, nullable = _TEXT[name]
        text = value.strip() if isinstance(value, str) else value
        if text is None or text == "":
            if nullable:
                return None
            if name in ("first_name", "last_name"):
                return ""
            raise ValidationFailed(f"{name} cannot be empty.", field=name)
        if not isinstance(text, str) or len(text) > limit:
            raise ValidationFailed(
                f"{name} must be text of at most {limit} characters.", field=name
            )
        return text
    if name in ("is_marketing", "is_closed"):
        if not isinstance(value, bool):
            raise ValidationFailed(f"{name} must be true or false.", field=name)
        return value
    if name == "lifecycle_stage":
        if value not in LIFECYCLE_STAGES:
            raise ValidationFailed(f"Use one of {', '.join(LIFECYCLE_STAGES)}.", field=name)
        return value
    if name == "priority":
        if value not in TICKET_PRIORITIES:
            raise ValidationFailed(f"Use one of {', '.join(TICKET_PRIORITIES)}.", field=name)
        return value
    if name == "currency":
        code = value.strip().upper() if isinstance(value, str) else ""
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValidationFailed("currency is a three-letter code such as EUR.", field=name)
        return code
    if name == "amount":
        return _clean_amount(value)
    if name == "close_date":
        return _clean_date(value)
    raise ValidationFailed(f"Unknown field {name}.", field=name)


def _clean_amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("amount must be a number.", field="amount") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12") or isinstance(value, bool):
        raise ValidationFailed("amount must be a number below 10^12.", field="amount")
    return amount


def _clean_date(value: Any) -> date | None:
    if value is None or value == "" or (isinstance(value, date) and not hasattr(value, "hour")):
        return value or None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(
            "close_date must be a date (YYYY-MM-DD).", field="close_date"
        ) from None


def apply_fields(kind: str, record: Any, data: dict, creating: bool) -> None:
    """Set the plain fields, properties and owner found in `data` on the record, checked."""
    required = _REQUIRED.get(kind)
    if creating and required and required not in data:
        raise ValidationFailed(f"{required} is required.", field=required)
    for name in _FIELDS[kind]:
        if name in data:
            setattr(record, name, _clean_field(name, data[name]))
    if "properties" in data:
        record.properties = clean_properties(data["properties"])
    if "owner_id" in data:
        record.owner_id = resolve_owner(record.org_id, data["owner_id"])


# --- custom record values ---------------------------------------------------------------------


def _clean_value(prop: dict, value: Any) -> Any:
    field, kind = f"properties.{prop['name']}", prop["type"]
    if value is None or (value == "" and kind != "bool"):
        return None
    if kind == "text" and isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "number" and is_number and math.isfinite(value):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "enum" and value in prop["options"]:
        return value
    if kind == "email":
        return clean_email(value, field)
    if kind == "date" and isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    if kind == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC).isoformat()
    wanted = {
        "text": f"text of at most {MAX_TEXT} characters",
        "number": "a number",
        "bool": "true or false",
        "enum": f"one of {', '.join(prop['options'] or [])}",
        "date": "a date (YYYY-MM-DD)",
        "datetime": "a date and time with a UTC offset (ISO 8601)",
    }[kind]
    raise ValidationFailed(f"{prop['name']} must be {wanted}.", field=field)


def clean_values(object_type: CustomObjectType, values: Any, base: dict | None = None) -> dict:
    """`values` checked against the type's schema and merged over `base` (None unsets)."""
    if not isinstance(values, dict):
        raise ValidationFailed("properties is an object of property values.", field="properties")
    schema = {p["name"]: p for p in object_type.property_schema}
    merged = {k: v for k, v in (base or {}).items() if k in schema}
    for name, value in values.items():
        if name not in schema:
            raise ValidationFailed(
                f"{object_type.label} has no property {name!r}.", field=f"properties.{name}"
            )
        merged[name] = _clean_value(schema[name], value)
    for name, prop in schema.items():
        if prop["required"] and merged.get(name) is None:
            raise ValidationFailed(f"{prop['label']} is required.", field=f"properties.{name}")
    return {k: v for k, v in merged.items() if v is not None}
