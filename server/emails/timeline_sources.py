"""The kinds of item a record's timeline shows (REC-6), each supplied by the domain that owns it.

A source is a function `(org_id, records, before, limit) -> list[TimelineEntry]`:
- `records`: the `(record_type, record_id)` pairs whose items to show (a company's timeline
  passes the company and its contacts);
- `before`: `(at, key)` of the last entry already shown, or None for the first page;
- it answers at most `limit` entries strictly older than `before` in (at, key) order,
  newest first. The timeline merges the sources and cuts the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class TimelineEntry:
    """One item on a record's timeline."""

    kind: str  # "email", "consent", "tracking", ...
    at: datetime  # timezone-aware UTC; the sort key
    key: str  # unique across kinds, e.g. "email:12"; breaks ties in the order
    data: dict = field(default_factory=dict)  # JSON-ready details for this kind


RecordRef = tuple[str, int]
Cursor = tuple[datetime, str]
TimelineSource = Callable[[int, list[RecordRef], Cursor | None, int], list[TimelineEntry]]

TIMELINE_SOURCES: list[TimelineSource] = []


def register_timeline_source(source: TimelineSource) -> None:
    """Add a kind of item to every record's timeline (once)."""
    if source not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(source)
