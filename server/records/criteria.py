"""The criteria language of saved views and searches (REC-4): field registry and validation.

A criteria document is a group, `{"and": [...]}` or `{"or": [...]}`, whose items are groups or
conditions `{"field", "op", "value"}`. Fields come from the record type's registry (custom types:
their property schema); each op is allowed only for suitable field kinds and each value is
type-checked and coerced. Errors name the exact place, e.g. `criteria.and[1].op`. An empty root
group matches every record. Nothing is ever evaluated as code: criteria_sql.py compiles a parsed
document into SQLAlchemy expressions with bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ValidationFailed
from .models import (
    LIFECYCLE_STAGES,
    Company,
    Contact,
    CustomObjectType,
    CustomRecord,
    Deal,
    Ticket,
)

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_IN_VALUES = 100
MAX_TEXT = 500
MAX_DAYS = 36_500
MODELS: dict[str, type] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "ticket": Ticket,
    "custom": CustomRecord,
}

_TEXT_OPS = ("eq", "neq", "contains", "starts_with", "in", "is_empty", "is_not_empty")
_ORDERED = ("eq", "neq", "gt", "gte", "lt", "lte")
OPS: dict[str, tuple[str, ...]] = {
    "text": _TEXT_OPS,
    "email": _TEXT_OPS,
    "enum": ("eq", "neq", "in", "is_empty", "is_not_empty"),
    "number": (*_ORDERED, "in", "is_empty", "is_not_empty"),
    "date": (*_ORDERED, "is_empty", "is_not_empty", "within_last_days"),
    "datetime": (*_ORDERED, "is_empty", "is_not_empty", "within_last_days"),
    "bool": ("eq", "neq", "is_empty", "is_not_empty"),
    "ref": ("eq", "neq", "in", "is_empty", "is_not_empty"),
}
ALL_OPS = tuple(dict.fromkeys(op for ops in OPS.values() for op in ops))


@dataclass(frozen=True)
class FieldSpec:
    """One filterable field: its kind, where it lives (column, related table or JSON key)."""

    kind: str
    source: str = "column"  # column | contact_email | company_domain | json
    options: tuple[str, ...] = ()
    allows_me: bool = False  # owner_id accepts "me": the user running the view


_DATES = {
    "owner_id": FieldSpec("ref", allows_me=True),
    "created_at": FieldSpec("datetime"),
    "updated_at": FieldSpec("datetime"),
    "last_activity_at": FieldSpec("datetime"),
}
_TEXT = FieldSpec("text")
BUILTIN_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "contact": {
        "first_name": _TEXT,
        "last_name": _TEXT,
        "email": FieldSpec("email", source="contact_email"),
        "lifecycle_stage": FieldSpec("enum", options=LIFECYCLE_STAGES),
        "is_marketing": FieldSpec("bool"),
        "job_title": _TEXT,
        "primary_company_id": FieldSpec("ref"),
        **_DATES,
    },
    "company": {
        "name": _TEXT,
        "domain": FieldSpec("text", source="company_domain"),
        "industry": _TEXT,
        **_DATES,
    },
    "deal": {
        "name": _TEXT,
        "stage": _TEXT,
        "amount": FieldSpec("number"),
        "currency": _TEXT,
        "close_date": FieldSpec("date"),
        "is_closed": FieldSpec("bool"),
        **_DATES,
    },
    "ticket": {
        "subject": _TEXT,
        "status": _TEXT,
        "priority": FieldSpec("enum", options=("low", "medium", "high", "urgent")),
        "is_closed": FieldSpec("bool"),
        **_DATES,
    },
}


def fields_for(
    record_type: str, custom_type: CustomObjectType | None = None
) -> dict[str, FieldSpec]:
    """The filterable fields of a record type (a custom type's: its schema plus owner and dates)."""
    if record_type != "custom":
        return BUILTIN_FIELDS[record_type]
    fields: dict[str, FieldSpec] = {}
    for prop in (custom_type.property_schema if custom_type else None) or []:
        kind = prop.get("type", "text")
        if kind in OPS and kind != "ref" and isinstance(prop.get("name"), str):
            fields[prop["name"]] = FieldSpec(
                kind, source="json", options=tuple(prop.get("options") or ())
            )
    return {**fields, **_DATES}


# --- parsing and validation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    name: str
    spec: FieldSpec
    op: str
    value: Any  # coerced: str, Decimal, date, datetime, bool, int, "me", list, or None


@dataclass(frozen=True)
class Group:
    kind: str  # and | or
    items: tuple[Group | Condition, ...]


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {message}", field=path)


class _Parser:
    def __init__(self, fields: dict[str, FieldSpec]) -> None:
        self.fields = fields
        self.conditions = 0

    def group(self, node: Any, path: str, depth: int) -> Group:
        if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in ("and", "or"):
            raise _fail(path, 'must be a group: an object with one key, "and" or "or".')
        if depth > MAX_DEPTH:
            raise _fail(path, f"groups nest at most {MAX_DEPTH} deep.")
        kind, items = next(iter(node.items()))
        if not isinstance(items, list):
            raise _fail(f"{path}.{kind}", "must be a list of conditions and groups.")
        if not items and depth > 1:
            raise _fail(f"{path}.{kind}", "a nested group needs at least one condition.")
        parsed = []
        for i, item in enumerate(items):
            where = f"{path}.{kind}[{i}]"
            is_group = (
                isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("and", "or")
            )
            parsed.append(
                self.group(item, where, depth + 1) if is_group else self.leaf(item, where)
            )
        return Group(kind, tuple(parsed))

    def leaf(self, node: Any, path: str) -> Condition:
        if not isinstance(node, dict):
            raise _fail(path, 'must be a condition {"field", "op", "value"} or a group.')
        extra = sorted(set(node) - {"field", "op", "value"})
        if extra:
            raise _fail(
                f"{path}.{extra[0]}", 'unknown key; a condition has "field", "op", "value".'
            )
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _fail(path, f"at most {MAX_CONDITIONS} conditions are allowed.")
        name = node.get("field")
        if not isinstance(name, str) or name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise _fail(f"{path}.field", f"unknown field {name!r}; use one of {known}.")
        spec = self.fields[name]
        op = node.get("op")
        if op not in OPS[spec.kind]:
            allowed = ", ".join(OPS[spec.kind])
            what = f"{op!r} is not an operator" if op not in ALL_OPS else f"{op!r} does not apply"
            raise _fail(
                f"{path}.op", f"{what} to {spec.kind} field {name!r}; use one of {allowed}."
            )
        value = _coerce_value(spec, op, node.get("value"), f"{path}.value")
        return Condition(name, spec, op, value)


def _coerce_value(spec: FieldSpec, op: str, value: Any, path: str) -> Any:
    if op in ("is_empty", "is_not_empty"):
        if value is not None:
            raise _fail(path, f"{op} takes no value.")
        return None
    if op == "within_last_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            raise _fail(path, f"must be a whole number of days, 1 to {MAX_DAYS}.")
        return value
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            raise _fail(path, f"must be a list of 1 to {MAX_IN_VALUES} values.")
        return [_coerce_scalar(spec, op, v, f"{path}[{i}]") for i, v in enumerate(value)]
    return _coerce_scalar(spec, op, value, path)


def _coerce_scalar(spec: FieldSpec, op: str, value: Any, path: str) -> Any:
    kind = spec.kind
    if kind in ("text", "email", "enum"):
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise _fail(path, f"must be text of at most {MAX_TEXT} characters.")
        if op in ("contains", "starts_with") and not value:
            raise _fail(path, f"{op} needs some text.")
        if kind == "enum" and spec.options and value not in spec.options:
            raise _fail(path, f"must be one of {', '.join(spec.options)}.")
        return value
    if kind == "number":
        try:
            number = Decimal(value) if isinstance(value, str) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            number = None
        if isinstance(value, bool) or number is None or not number.is_finite():
            raise _fail(path, "must be a number.")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false.")
        return value
    if kind == "ref":
        if value == "me" and spec.allows_me:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            hint = ' or "me"' if spec.allows_me else ""
            raise _fail(path, f"must be a record id{hint}.")
        return value
    return _coerce_when(kind, value, path)


def _coerce_when(kind: str, value: Any, path: str) -> date | datetime:
    """A date ('YYYY-MM-DD'); for datetime fields also a full ISO time (naive means UTC)."""
    try:
        if not isinstance(value, str):
            raise ValueError
        if len(value) == 10:
            return date.fromisoformat(value)
        if kind == "date":
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        wanted = "a date (YYYY-MM-DD)" if kind == "date" else "a date or an ISO 8601 date-time"
        raise _fail(path, f"must be {wanted}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_criteria(criteria: Any, fields: dict[str, FieldSpec], path: str = "criteria") -> Group:
    """Validate a criteria document against `fields`; 422 with the exact path on any fault."""
    return _Parser(fields).group(criteria, path, 1)


def normalized(node: Group | Condition) -> dict:
    """The JSON form of a parsed document (values coerced: numbers, ISO dates), for storage."""
    if isinstance(node, Group):
        return {node.kind: [normalized(item) for item in node.items]}
    out: dict[str, Any] = {"field": node.name, "op": node.op}
    if node.value is not None:
        out["value"] = _jsonable(node.value)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        as_float = float(value)
        return int(value) if value == value.to_integral_value() else as_float
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
