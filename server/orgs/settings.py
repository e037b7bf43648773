"""Declared settings (ADM-1), what applies to a user and whether the org locks it (ADM-2), changes
with their audit (ADM-4).

Org settings are stored one row per key in `org_settings`; a key without a row takes its declared
default. `edition` and `org_address` live on the Organization row itself. A personal default is a
row in `user_settings`; it counts only where the org does not apply its own default to everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import event, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from .models import (
    EDITIONS,
    Organization,
    OrgSetting,
    SettingsAudit,
    User,
    UserSetting,
    new_settings_version,
)

RECORD_TYPES = ("contact", "company", "deal", "ticket", "custom")
OVER_QUOTA_ACTIONS = ("refuse", "split")
EDITION_DAILY_QUOTA = {"free": 0, "standard": 500, "professional": 1000, "enterprise": 2000}
"""Bulk emails per active user per GMT day, by edition (BULK-9), unless the org sets its own."""


# --- value types: each takes a JSON value, returns it normalized or raises ValueError -----------


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _count_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _count(value: Any) -> int:
    if value is None:
        raise ValueError("must be a whole number, 0 or more")
    return _count_or_none(value)  # type: ignore[return-value]


def _one_of(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def normalize_email(value: Any) -> str:
    """A valid email address, lower-cased; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be an email address")
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid email address: {exc}") from None


def _email_or_none(value: Any) -> str | None:
    return None if value in (None, "") else normalize_email(value)


def normalize_domain(value: Any) -> str:
    """A valid domain name (a leading '@' dropped), lower-cased; ValueError otherwise."""
    if not isinstance(value, str) or not value.strip().lstrip("@"):
        raise ValueError("must be a domain name")
    try:
        return validate_email(
            "x@" + value.strip().lstrip("@"), check_deliverability=False
        ).domain.lower()
    except EmailNotValidError:
        raise ValueError(f"{value!r} is not a valid domain name") from None


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list]:
    def parse(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError("must be a list")
        return list(dict.fromkeys(item(v) for v in value))  # deduplicated, order kept

    return parse


# --- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One declared setting. scope: org (org only), both (org default, personal override), user."""

    key: str
    default: Any
    parse: Callable[[Any], Any]
    scope: str = "org"
    user_facing: bool = True
    column: str | None = None  # stored on Organization rather than in org_settings


_DECLARED = [
    Setting("apply_default_log", False, _bool, user_facing=False),
    Setting("log_by_default", True, _bool, scope="both"),
    Setting("apply_default_association", False, _bool, user_facing=False),
    Setting(
        "default_association_types",
        list(RECORD_TYPES[:4]),
        _list_of(_one_of(*RECORD_TYPES)),
        scope="both",
    ),  # fmt: skip
    Setting("allow_tracking", True, _bool),
    Setting("apply_default_track", False, _bool, user_facing=False),
    Setting("track_by_default", True, _bool, scope="both"),
    Setting("never_log_addresses", [], _list_of(normalize_email)),
    Setting("never_log_domains", [], _list_of(normalize_domain)),
    Setting("user_never_log_addresses", [], _list_of(normalize_email), scope="user"),
    Setting("user_never_log_domains", [], _list_of(normalize_domain), scope="user"),
    Setting("data_privacy", False, _bool),
    Setting("create_contacts_for_unknown", True, _bool),
    Setting("org_address", None, _email_or_none, column="org_address"),
    Setting("edition", "standard", _one_of(*EDITIONS), column="edition"),
    Setting("daily_quota_per_user", None, _count_or_none, user_facing=False),
    Setting("extra_daily_quota", 0, _count, user_facing=False),
    Setting("over_quota_action", "refuse", _one_of(*OVER_QUOTA_ACTIONS), user_facing=False),
    Setting("reps_may_bulk_send", False, _bool, user_facing=False),
    Setting("log_internal_mail", False, _bool),  # LOG-6: mail only with colleagues is logged too
    Setting("email_privacy_minimum", "full", _one_of("full", "subject", "metadata")),  # LOG-1
]
SETTINGS: dict[str, Setting] = {s.key: s for s in _DECLARED}
ORG_KEYS = tuple(s.key for s in _DECLARED if s.scope in ("org", "both"))
USER_KEYS = tuple(s.key for s in _DECLARED if s.scope in ("both", "user"))


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _org_values(org_id: int) -> dict[str, Any]:
    """Every org setting (stored or default) in one query."""
    rows = db.session.execute(
        select(Organization.edition, Organization.org_address, OrgSetting.key, OrgSetting.value)
        .select_from(Organization)
        .outerjoin(OrgSetting, OrgSetting.org_id == Organization.id)
        .where(Organization.id == org_id)
    ).all()
    if not rows:
        raise NotFound("No such organization.", field="org_id")
    values = {key: _copy(SETTINGS[key].default) for key in ORG_KEYS}
    values["edition"], values["org_address"] = rows[0].edition, rows[0].org_address
    for row in rows:
        if row.key in SETTINGS and not SETTINGS[row.key].column:
            values[row.key] = row.value
    return values


def _user_rows(user_id: int) -> dict[str, Any]:
    rows = db.session.execute(
        select(UserSetting.key, UserSetting.value).where(UserSetting.user_id == user_id)
    ).all()
    return {row.key: row.value for row in rows if row.key in USER_KEYS}


def org_settings(org_id: int) -> dict[str, Any]:
    """All org settings of an org, declared defaults filled in."""
    return _org_values(org_id)


def org_setting(org_id: int, key: str) -> Any:
    """One org setting's value (its declared default when never set)."""
    if key not in ORG_KEYS:
        raise ValidationFailed(f"Unknown organization setting {key!r}.", field=key)
    return _org_values(org_id)[key]


def locked_keys(org: dict[str, Any]) -> set[str]:
    """The personal defaults the org currently applies to everyone (ADM-2)."""
    locked = set()
    if org["apply_default_log"]:
        locked.add("log_by_default")
    if org["apply_default_association"]:
        locked.add("default_association_types")
    if org["apply_default_track"] or not org["allow_tracking"]:
        locked.add("track_by_default")
    return locked


def _effective(org: dict[str, Any], mine: dict[str, Any]) -> dict[str, dict]:
    locked = locked_keys(org)
    result: dict[str, dict] = {}
    for setting in _DECLARED:
        if not setting.user_facing:
            continue
        key = setting.key
        if setting.scope == "org":
            result[key] = {"value": org[key], "locked": True}
        elif setting.scope == "user":
            result[key] = {"value": mine.get(key, _copy(setting.default)), "locked": False}
        elif key in locked:
            result[key] = {"value": org[key], "locked": True}
        else:
            result[key] = {"value": mine.get(key, org[key]), "locked": False}
    if not org["allow_tracking"]:
        result["track_by_default"]["value"] = False
    return result


def effective_settings(user: User) -> dict[str, dict]:
    """Each user-facing setting as {"value", "locked"} for this user; two queries whatever the
    number of settings. Org-only settings are always locked; a user's own never-log lists never."""
    return _effective(_org_values(user.org_id), _user_rows(user.id))


def daily_quota_per_user(org_id: int) -> int:
    """Bulk emails per active user per GMT day: the org's own figure or its edition's (BULK-9)."""
    org = _org_values(org_id)
    own = org["daily_quota_per_user"]
    return EDITION_DAILY_QUOTA[org["edition"]] if own is None else own


# --- the settings version: caches of effective settings are keyed by it -------------------------


@event.listens_for(Session, "after_flush")
def _bump_settings_version(session: Session, _flush_context: Any) -> None:
    """Any flushed change to an org's or its users' stored settings (or the edition / org address
    columns) gives the org a new `settings_version` in the same transaction, so a cache keyed by
    it (server/orgs/settings_cache.py) can never serve values older than a committed change."""
    orgs: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, OrgSetting | UserSetting):
            orgs.add(obj.org_id)
        elif isinstance(obj, Organization) and obj not in session.new:
            state = inspect(obj)
            if any(state.attrs[c].history.has_changes() for c in ("edition", "org_address")):
                orgs.add(obj.id)
    for org_id in orgs:
        session.connection().execute(
            update(Organization.__table__)
            .where(Organization.__table__.c.id == org_id)
            .values(settings_version=new_settings_version())
        )


# --- changes, each audited ------------------------------------------------------------------------


def parse_setting(
    key: str, value: Any, allowed: tuple[str, ...] = ORG_KEYS, where: str = "organization"
) -> Any:
    """The normalized value of one setting; ValidationFailed naming the key when unknown or bad."""
    if key not in allowed:
        raise ValidationFailed(f"Unknown {where} setting {key!r}.", field=key)
    try:
        return SETTINGS[key].parse(value)
    except ValueError as exc:
        raise ValidationFailed(f"{key}: {exc}.", field=key) from None


def _audit(actor: User | None, org_id: int, scope: str, target: int | None, key: str,
           old: Any, new: Any) -> None:  # fmt: skip
    db.session.add(
        SettingsAudit(
            org_id=org_id,
            actor_id=actor.id if actor else None,
            scope=scope,
            target_user_id=target,
            key=key,
            old_value=old,
            new_value=new,
        )
    )


def _lock(model: type, row_id: int) -> None:
    """Lock the row (PostgreSQL; SQLite has one writer) so concurrent changes queue up."""
    db.session.execute(select(model.id).where(model.id == row_id).with_for_update())


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("The settings changed at the same time; try again.") from None


def set_org_settings(
    actor: User | None, changes: dict[str, Any], org_id: int | None = None
) -> dict:
    """Change org settings (super-admins only; `actor=None` is the operator's CLI and needs
    `org_id`). All or nothing, one transaction; one audit row per key whose value changes."""
    if actor is not None:
        if not actor.has_role("super_admin"):
            raise Forbidden("Only a super-admin changes organization settings.")
        org_id = actor.org_id
    parsed = {key: parse_setting(key, value) for key, value in changes.items()}
    _lock(Organization, org_id)  # one change at a time per org, so old -> new chains (ADM-4)
    current = _org_values(org_id)
    stored = {
        row.key: row
        for row in db.session.scalars(
            select(OrgSetting).where(OrgSetting.org_id == org_id, OrgSetting.key.in_(parsed))
        )
    }
    org = db.session.get(Organization, org_id)
    for key, new in parsed.items():
        old = current[key]
        if old == new:
            continue
        column = SETTINGS[key].column
        if column:
            setattr(org, column, new)
        elif key in stored:
            stored[key].value = new
        else:
            db.session.add(OrgSetting(org_id=org_id, key=key, value=new))
        _audit(actor, org_id, "org", None, key, old, new)
        current[key] = new
    _commit()
    return current


def set_user_settings(user: User, changes: dict[str, Any], actor: User | None = None) -> dict:
    """Change a user's personal defaults; a key the org locks is refused (403, ADM-2). One
    transaction; one audit row per changed key. Returns the new effective settings."""
    parsed = {
        key: parse_setting(key, value, USER_KEYS, "personal") for key, value in changes.items()
    }
    _lock(User, user.id)
    org = _org_values(user.org_id)
    locked = locked_keys(org)
    for key in parsed:
        if key in locked:
            reason = (
                "tracking is not allowed in this organization"
                if key == "track_by_default" and not org["allow_tracking"]
                else "the organization applies its default to everyone"
            )
            raise Forbidden(
                f"{key} cannot be changed: {reason}. You can still change it on a single email.",
                field=key,
            )
    stored = {
        row.key: row
        for row in db.session.scalars(
            select(UserSetting).where(UserSetting.user_id == user.id, UserSetting.key.in_(parsed))
        )
    }
    for key, new in parsed.items():
        old = stored[key].value if key in stored else _copy(org.get(key, SETTINGS[key].default))
        if old == new:
            continue
        if key in stored:
            stored[key].value = new
        else:
            db.session.add(UserSetting(org_id=user.org_id, user_id=user.id, key=key, value=new))
        _audit(actor or user, user.org_id, "user", user.id, key, old, new)
    _commit()
    return effective_settings(user)


def settings_audit(
    org_id: int, cursor: int | None = None, limit: int = 50
) -> tuple[list[SettingsAudit], int | None]:
    """The org's settings changes, newest first; returns (rows, next cursor or None)."""
    limit = max(1, min(limit, 200))
    query = select(SettingsAudit).where(SettingsAudit.org_id == org_id)
    if cursor is not None:
        query = query.where(SettingsAudit.id < cursor)
    rows = list(db.session.scalars(query.order_by(SettingsAudit.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
