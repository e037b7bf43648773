"""Compilation of parsed criteria (server/records/criteria.py) into SQLAlchemy conditions.

Only bound parameters and SQLAlchemy constructs; LIKE patterns are escaped. Text compares
case-insensitively; `neq` and `is_empty` count missing values. A date given for a date-time field
means that whole UTC day. Custom properties live in the JSON `properties` column and are read
with JSON element access that works on SQLite and PostgreSQL, typed by the schema: a stored value
of the wrong JSON type never matches and never makes the query fail.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, and_, case, cast, exists, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ..clock import utcnow
from ..extensions import db
from .criteria import MODELS, Condition, Group
from .models import CompanyDomain, ContactEmail, CustomRecord


@dataclass(frozen=True)
class _Context:
    model: type
    org_id: int
    user_id: int | None
    dialect: str


def compile_criteria(
    tree: Group, record_type: str, org_id: int, user_id: int | None = None
) -> ColumnElement[bool]:
    """The SQL condition of a parsed document over the record type's table (org-scoped EXISTS)."""
    ctx = _Context(MODELS[record_type], org_id, user_id, db.session.get_bind().dialect.name)
    return _compile(tree, ctx)


def _compile(node: Group | Condition, ctx: _Context) -> ColumnElement[bool]:
    if isinstance(node, Group):
        parts = [_compile(item, ctx) for item in node.items]
        if not parts:
            return true()
        return and_(*parts) if node.kind == "and" else or_(*parts)
    if node.spec.source in ("contact_email", "company_domain"):
        return _related_text(node, ctx)
    if node.spec.source == "json":
        return _json_condition(node, ctx)
    column = getattr(ctx.model, node.name)
    if node.spec.kind in ("text", "email"):
        return _text(node, column, fold=True)
    if node.spec.kind == "enum":
        return _text(node, column, fold=False)
    if node.spec.kind == "datetime" and _is_day(node.value):
        return _ordered(node, column, _day_bounds(node.value), now=utcnow())
    if node.spec.kind == "date":
        return _ordered(node, column, None, now=utcnow().date())
    if node.spec.kind == "ref" and node.value == "me":
        node = Condition(node.name, node.spec, node.op, ctx.user_id)
    return _ordered(node, column, None, now=utcnow())


def _text(node: Condition, column: Any, fold: bool) -> ColumnElement[bool]:
    """Text semantics: case-insensitive (when `fold`); neq and is_empty count NULL and ''."""
    op, value = node.op, node.value
    lowered = func.lower(column) if fold else column

    def norm(v: str) -> str:
        return v.lower() if fold else v

    if op == "eq":
        return lowered == norm(value)
    if op == "neq":
        return or_(column.is_(None), lowered != norm(value))
    if op == "contains":
        return column.icontains(value, autoescape=True)
    if op == "starts_with":
        return column.istartswith(value, autoescape=True)
    if op == "in":
        return lowered.in_([norm(v) for v in value])
    if op == "is_empty":
        return or_(column.is_(None), column == "")
    return and_(column.is_not(None), column != "")


def _ordered(node: Condition, column: Any, day: tuple | None, now: Any) -> ColumnElement[bool]:
    """Numbers, dates, times, booleans and ids; `day` is a whole UTC day [start, end) when the
    value of a date-time field was given as a date."""
    op, value = node.op, node.value
    if op == "is_empty":
        return column.is_(None)
    if op == "is_not_empty":
        return column.is_not(None)
    if op == "within_last_days":
        return and_(column >= now - timedelta(days=value), column <= now)
    if op == "in":
        return column.in_(value)
    if day is not None:
        start, end = day
        ranges = {
            "eq": and_(column >= start, column < end),
            "neq": or_(column.is_(None), column < start, column >= end),
            "gt": column >= end,
            "gte": column >= start,
            "lt": column < start,
            "lte": column < end,
        }
        return ranges[op]
    if op == "neq":
        return or_(column.is_(None), column != value)
    return _COMPARE[op](column, value)


_COMPARE = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _is_day(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _related_text(node: Condition, ctx: _Context) -> ColumnElement[bool]:
    """Any address of a contact / any domain of a company (stored lower-case), via EXISTS."""
    if node.spec.source == "contact_email":
        table, column, link = ContactEmail, ContactEmail.email_normalized, ContactEmail.contact_id
    else:
        table, column, link = CompanyDomain, CompanyDomain.domain, CompanyDomain.company_id

    def any_row(*where: Any) -> ColumnElement[bool]:
        return exists(select(1).where(link == ctx.model.id, table.org_id == ctx.org_id, *where))

    op, value = node.op, node.value
    if op == "is_empty":
        return ~any_row()
    if op == "is_not_empty":
        return any_row()
    if op == "in":
        return any_row(column.in_([v.lower() for v in value]))
    if op == "neq":
        return ~any_row(column == value.lower())
    matches = {
        "eq": lambda: column == value.lower(),
        "contains": lambda: column.contains(value.lower(), autoescape=True),
        "starts_with": lambda: column.startswith(value.lower(), autoescape=True),
    }
    return any_row(matches[op]())


# --- custom properties in the JSON column -----------------------------------------------------


def _json_kind(key: str, ctx: _Context) -> ColumnElement:
    """The JSON type name of a property: PostgreSQL json_typeof, SQLite json_type."""
    props = CustomRecord.properties
    if ctx.dialect == "postgresql":
        return func.json_typeof(props[key])
    return func.json_type(props, "$." + json.dumps(key, ensure_ascii=False))


def _json_condition(node: Condition, ctx: _Context) -> ColumnElement[bool]:
    """A condition on a custom property, typed by the schema; ill-typed stored values never
    match (and never make the query fail)."""
    key, kind = node.name, node.spec.kind
    text = CustomRecord.properties[key].as_string()
    if kind in ("text", "email"):
        return _text(node, text, fold=True)
    if kind == "enum":
        return _text(node, text, fold=False)
    if kind == "bool":
        truth = _json_bool(key, ctx)
        bool_node = Condition(node.name, node.spec, node.op, None)
        if node.op in ("eq", "neq"):
            bool_node = Condition(node.name, node.spec, node.op, "true" if node.value else "false")
        return _ordered(bool_node, truth, None, now=None)
    if kind == "number":
        number_kinds = ("number",) if ctx.dialect == "postgresql" else ("integer", "real")
        number = case((_json_kind(key, ctx).in_(number_kinds), cast(text, Float)), else_=None)
        value = node.value
        as_float = [float(v) for v in value] if isinstance(value, list) else value
        if isinstance(value, Decimal):
            as_float = float(value)
        return _ordered(Condition(key, node.spec, node.op, as_float), number, None, now=None)
    return _json_when(node, text)


def _json_bool(key: str, ctx: _Context) -> ColumnElement:
    """'true' / 'false' for a JSON boolean, NULL for anything else."""
    kind = _json_kind(key, ctx)
    if ctx.dialect == "postgresql":
        return case((kind == "boolean", CustomRecord.properties[key].as_string()), else_=None)
    return case((kind.in_(("true", "false")), kind), else_=None)


def _json_when(node: Condition, text: Any) -> ColumnElement[bool]:
    """Dates and date-times stored as ISO strings, compared as normalized UTC strings."""
    if node.spec.kind == "date":
        column = func.substr(text, 1, 10)
        now = utcnow().date().isoformat()

        def fmt(v: Any) -> str:
            return v.isoformat()[:10] if isinstance(v, date) else v

    else:
        column = func.replace(func.substr(text, 1, 19), " ", "T")
        now = _iso(utcnow())

        def fmt(v: Any) -> str:
            return _iso(v) if isinstance(v, datetime) else v

    if node.op == "within_last_days":
        since = utcnow() - timedelta(days=node.value)
        since_text = since.date().isoformat() if node.spec.kind == "date" else _iso(since)
        return and_(column >= since_text, column <= now)
    if node.op in ("is_empty", "is_not_empty"):
        empty = or_(text.is_(None), text == "")
        return empty if node.op == "is_empty" else ~empty
    value = node.value
    day = None
    if node.spec.kind == "datetime" and not isinstance(value, datetime):
        day = tuple(_iso(b) for b in _day_bounds(value))
    return _ordered(Condition(node.name, node.spec, node.op, fmt(value)), column, day, now=None)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
