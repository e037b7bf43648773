"""Request and response schemas of the org, user and settings API (the OpenAPI comes from these).

Setting values are validated strictly by the settings registry (a string is not a boolean), so the
settings bodies declare each key with its documented JSON type and pass the raw value through.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Email, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import RAISE

from ..fields import Id, IdCursor
from .models import EDITIONS, ROLES
from .settings import ORG_KEYS, OVER_QUOTA_ACTIONS, RECORD_TYPES, SETTINGS, USER_KEYS

_STRINGS = {"type": "array", "items": {"type": "string"}}
_TYPES = {"type": "string", "enum": list(RECORD_TYPES)}
_JSON_TYPES = {
    "default_association_types": {**_STRINGS, "items": _TYPES},
    "never_log_addresses": {**_STRINGS, "items": {"type": "string", "format": "email"}},
    "user_never_log_addresses": {**_STRINGS, "items": {"type": "string", "format": "email"}},
    "never_log_domains": _STRINGS,
    "user_never_log_domains": _STRINGS,
    "org_address": {"type": "string", "format": "email", "nullable": True},
    "edition": {"type": "string", "enum": list(EDITIONS)},
    "over_quota_action": {"type": "string", "enum": list(OVER_QUOTA_ACTIONS)},
    "daily_quota_per_user": {"type": "integer", "minimum": 0, "nullable": True},
    "extra_daily_quota": {"type": "integer", "minimum": 0},
    "email_privacy_minimum": {"type": "string", "enum": ["full", "subject", "metadata"]},
}  # fmt: skip


def _setting_field(key: str) -> Raw:
    doc = _JSON_TYPES.get(key, {"type": "boolean"})
    return Raw(metadata={**doc, "description": f"default: {SETTINGS[key].default!r}"})


class _Strict(Schema):
    class Meta:
        unknown = RAISE


OrgSettingsPatch = _Strict.from_dict(
    {key: _setting_field(key) for key in ORG_KEYS}, name="OrgSettingsPatch"
)
UserSettingsPatch = _Strict.from_dict(
    {key: _setting_field(key) for key in USER_KEYS}, name="UserSettingsPatch"
)


class OrgSettingOut(Schema):
    value = Raw(metadata={"description": "the value in force"})
    default = Raw(metadata={"description": "the declared default"})
    is_default = Boolean(metadata={"description": "true when never set (the default applies)"})
    scope = String(metadata={"enum": ["org", "both"], "description": "both: users may override"})


class OrgSettingsOut(Schema):
    settings = Dict(keys=String(), values=Nested(OrgSettingOut))


class EffectiveSettingOut(Schema):
    value = Raw()
    locked = Boolean(metadata={"description": "the org applies its value to everyone (ADM-2)"})


class EffectiveSettingsOut(Schema):
    settings = Dict(keys=String(), values=Nested(EffectiveSettingOut))
    can_bulk_send = Boolean()


class AuditQuery(Schema):
    cursor = IdCursor(load_default=None)
    limit = Integer(load_default=50, validate=Range(min=1, max=200))


class AuditEntryOut(Schema):
    id = Id()
    actor_id = Id(allow_none=True)
    scope = String(metadata={"enum": ["org", "user"]})
    target_user_id = Id(allow_none=True)
    key = String()
    old_value = Raw(allow_none=True)
    new_value = Raw(allow_none=True)
    changed_at = DateTime()


class AuditPageOut(Schema):
    items = List(Nested(AuditEntryOut))
    next_cursor = IdCursor(allow_none=True)


class OrgOut(Schema):
    id = Id()
    name = String()
    edition = String(metadata={"enum": list(EDITIONS)})
    time_zone = String()
    org_address = String(allow_none=True)
    tenant_ids = List(String())
    domains = List(String())
    created_at = DateTime()


class OrgPatch(_Strict):
    name = String(validate=Length(min=1, max=200))
    time_zone = String(metadata={"description": "IANA name, e.g. Europe/Paris"})
    org_address = String(allow_none=True, metadata={"format": "email"})
    tenant_ids = List(String(), metadata={"description": "Microsoft tenant ids; replaces the list"})
    domains = List(
        String(), metadata={"description": "Google Workspace domains; replaces the list"}
    )


class UserOut(Schema):
    id = Id()
    email = String()
    name = String()
    role = String(metadata={"enum": list(ROLES)})
    time_zone = String(allow_none=True)
    is_active = Boolean()
    can_bulk_send = Boolean()
    created_at = DateTime()
    last_seen_at = DateTime(allow_none=True)


class UserCreate(_Strict):
    email = Email(required=True)
    name = String(load_default="", validate=Length(max=200))
    role = String(load_default="rep", validate=OneOf(ROLES))
    time_zone = String(load_default=None, allow_none=True)


class UserPatch(_Strict):
    name = String(validate=Length(min=1, max=200))
    role = String(validate=OneOf(ROLES))
    time_zone = String(allow_none=True)
    is_active = Boolean()


class UsersQuery(Schema):
    cursor = IdCursor(load_default=None)
    limit = Integer(load_default=100, validate=Range(min=1, max=500))


class UserItemOut(UserOut):
    """A user in a page (own class: APIFlask would register a nested and top-level class twice)."""


class UserPageOut(Schema):
    items = List(Nested(UserItemOut))
    next_cursor = IdCursor(allow_none=True)
