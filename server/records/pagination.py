"""Keyset (cursor) pagination for list endpoints (REC-1, UI-4).

A page is {"items": [...], "next_cursor": "..." | None}. The cursor is opaque to clients: the
URL-safe base64 of the JSON list of the last item's sort key. Sorting is descending on the key
columns (newest first when the key is the id); the next page starts strictly after the cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_

from ..errors import BadRequest, ValidationFailed
from ..extensions import db

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Page:
    """One page of results and the cursor of the next page (None on the last page)."""

    items: list[Any] = field(default_factory=list)
    next_cursor: str | None = None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"dt"}:
        return datetime.fromisoformat(value["dt"])
    return value


def encode_cursor(key: Sequence[Any]) -> str:
    """The opaque cursor for a sort key (a list of ints, strings or datetimes)."""
    raw = json.dumps([_encode_value(v) for v in key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: Sequence[type]) -> list[Any] | None:
    """The sort key in `cursor` (values of `types`), or None for the first page.

    A cursor that was not made by `encode_cursor` for such a key is a 400 on field "cursor".
    """
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(key, list) or len(key) != len(types):
            raise ValueError("wrong shape")
        values = [_decode_value(v) for v in key]
        for value, wanted in zip(values, types, strict=True):
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise ValueError("wrong value type")
        return values
    except (ValueError, UnicodeError, binascii.Error, TypeError):
        raise BadRequest(
            "The cursor is not valid; start again without it.", field="cursor"
        ) from None


def check_limit(limit: int | None) -> int:
    """The page size, 1..200 (default 50); 422 on anything else."""
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    return limit


def _after(columns: Sequence[Any], values: Sequence[Any]):
    """Rows strictly after `values` in descending (c1, c2, ...) order."""
    clauses = []
    for i, column in enumerate(columns):
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal_prefix, column < values[i]))
    return or_(*clauses)


def _python_type(column: Any) -> type:
    """The Python type of a column's values (through TypeDecorators such as UTCDateTime)."""
    column_type = column.type
    return getattr(column_type, "impl", column_type).python_type


def paginate(
    stmt: Select,
    key: Sequence[Any],
    cursor: str | None = None,
    limit: int | None = None,
    key_of: Any = None,
) -> Page:
    """Run `stmt` (selecting ORM entities) one page at a time, ordered by `key` columns descending.

    `key_of(item)` returns the item's sort key; by default the attributes named like the columns.
    """
    limit = check_limit(limit)
    after = decode_cursor(cursor, [_python_type(column) for column in key])
    if after is not None:
        stmt = stmt.where(_after(key, after))
    stmt = stmt.order_by(*(column.desc() for column in key)).limit(limit + 1)
    rows = list(db.session.scalars(stmt).unique())
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        values = key_of(last) if key_of else [getattr(last, column.key) for column in key]
        next_cursor = encode_cursor(values)
    return Page(items=items, next_cursor=next_cursor)
