"""Effective settings served from memory, keyed by the org's `settings_version` (ADM-2).

The sidebar look-up reads the caller's org `settings_version` in its own statement and asks for
the effective settings at that version: a hit costs no query; a miss (first call, or any settings
write since, which gives the org a new version in the writer's transaction) reads the org's and
the user's stored values and the version in one statement. A lock or any other change is
therefore visible on the very next request, in every process, with no expiry delay.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, literal_column, null, select, union_all

from ..errors import NotFound
from .models import Organization, OrgSetting, UserSetting
from .settings import ORG_KEYS, SETTINGS, USER_KEYS, _copy, _effective

MAX_ENTRIES = 10_000
_cache: dict[tuple[int, int], tuple[int, dict[str, dict]]] = {}
_lock = threading.Lock()


def _statement() -> Any:
    orgs, stored, mine = Organization.__table__, OrgSetting.__table__, UserSetting.__table__
    return union_all(
        select(
            literal_column("0").label("side"),
            orgs.c.settings_version,
            orgs.c.edition,
            orgs.c.org_address,
            stored.c.key,
            stored.c.value,
        )  # fmt: skip
        .select_from(orgs)
        .outerjoin(stored, stored.c.org_id == orgs.c.id)
        .where(orgs.c.id == bindparam("org_id", type_=Integer)),
        select(literal_column("1"), null(), null(), null(), mine.c.key, mine.c.value).where(
            mine.c.user_id == bindparam("user_id", type_=Integer)
        ),
    )


_STATEMENT = _statement()


def _load(conn: Connection, org_id: int, user_id: int) -> tuple[int, dict[str, dict]]:
    """(version, effective settings) read in one statement, so they belong together."""
    rows = conn.execute(_STATEMENT, {"org_id": org_id, "user_id": user_id}).all()
    org_rows = [row for row in rows if row[0] == 0]
    if not org_rows:
        raise NotFound("No such organization.", field="org_id")
    version, edition, org_address = org_rows[0][1:4]
    org = {key: _copy(SETTINGS[key].default) for key in ORG_KEYS}
    org["edition"], org["org_address"] = edition, org_address
    for _, _, _, _, key, value in org_rows:
        if key in SETTINGS and not SETTINGS[key].column:
            org[key] = value
    mine = {row[4]: row[5] for row in rows if row[0] == 1 and row[4] in USER_KEYS}
    return version, _effective(org, mine)


def effective_settings_at(conn: Connection, org_id: int, user_id: int, version: int) -> dict:
    """The user's effective settings as of org settings `version` (read by the caller in the same
    request). Shared between requests: callers must not change the returned dict."""
    key = (org_id, user_id)
    hit = _cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    loaded = _load(conn, org_id, user_id)
    with _lock:
        if len(_cache) >= MAX_ENTRIES:
            _cache.clear()
        _cache[key] = loaded
    return loaded[1]


def forget_all() -> None:
    """Empty the cache (tests, or after restoring a database behind the app's back)."""
    with _lock:
        _cache.clear()
