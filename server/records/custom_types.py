"""Custom object types per org and their records (REC-1).

A type has a slug `name`, labels and a `property_schema`: a list of {name, label, type, required,
options} with type one of PROPERTY_TYPES (options: the allowed values of an enum). Record values
are checked against the schema on every write (record_fields.clean_values); a failure is a 422
naming "properties.<name>".
Changing a schema does not rewrite stored records: a removed property is dropped from a record the
next time it is written, and a new required property is asked for then.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, false, func, select
from sqlalchemy.orm import selectinload

from ..clock import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .associations import delete_associations_of
from .models import RECORD_TYPES, CustomObjectType, CustomRecord
from .pagination import Page, paginate
from .record_fields import clean_values, resolve_owner, writing

PROPERTY_TYPES = ("text", "number", "date", "datetime", "bool", "enum", "email")
MAX_PROPERTIES = 100
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# --- types --------------------------------------------------------------------------------------


def _label(value: Any, field: str, default: str | None = None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text and default:
        return default
    if not text or len(text) > 100:
        raise ValidationFailed(f"{field} is text of 1 to 100 characters.", field=field)
    return text


def clean_property_schema(value: Any) -> list[dict]:
    """The property schema in its stored form; 422 naming the faulty entry otherwise."""
    if not isinstance(value, list) or len(value) > MAX_PROPERTIES:
        raise ValidationFailed(
            f"property_schema is a list of at most {MAX_PROPERTIES} properties.",
            field="property_schema",
        )
    cleaned: list[dict] = []
    for i, item in enumerate(value):
        where = f"property_schema.{i}"
        if not isinstance(item, dict):
            raise ValidationFailed("A property is an object.", field=where)
        unknown = set(item) - {"name", "label", "type", "required", "options"}
        if unknown:
            raise ValidationFailed(f"Unknown key {sorted(unknown)[0]!r}.", field=where)
        name = item.get("name")
        if not isinstance(name, str) or not _SLUG.match(name):
            raise ValidationFailed(
                "A property name is lower-case letters, digits and _.", field=f"{where}.name"
            )
        if any(p["name"] == name for p in cleaned):
            raise ValidationFailed(f"The property {name} is listed twice.", field=f"{where}.name")
        kind = item.get("type")
        if kind not in PROPERTY_TYPES:
            raise ValidationFailed(
                f"type is one of {', '.join(PROPERTY_TYPES)}.", field=f"{where}.type"
            )
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise ValidationFailed("required is true or false.", field=f"{where}.required")
        options = item.get("options")
        if kind == "enum":
            if (
                not isinstance(options, list)
                or not options
                or not all(isinstance(o, str) and o for o in options)
                or len(set(options)) != len(options)
            ):
                raise ValidationFailed(
                    "An enum needs a list of distinct text options.", field=f"{where}.options"
                )
        elif options is not None:
            raise ValidationFailed("Only an enum has options.", field=f"{where}.options")
        label = _label(item.get("label"), f"{where}.label", default=name.replace("_", " ").title())
        cleaned.append(
            {"name": name, "label": label, "type": kind, "required": required, "options": options}
        )
    return cleaned


def _display_property(schema: list[dict], wanted: Any, current: str | None) -> str | None:
    names = [p["name"] for p in schema]
    if wanted is not None:
        if wanted not in names:
            raise ValidationFailed(
                "display_property must name a property of the type.", field="display_property"
            )
        return wanted
    if current in names:
        return current
    textual = [p["name"] for p in schema if p["type"] in ("text", "email", "enum")]
    return (textual or names or [None])[0]


def list_custom_types(org_id: int) -> list[CustomObjectType]:
    """The org's custom object types, by name."""
    return list(
        db.session.scalars(
            select(CustomObjectType)
            .where(CustomObjectType.org_id == org_id)
            .order_by(CustomObjectType.name)
        )
    )


def get_custom_type(org_id: int, type_id: int) -> CustomObjectType:
    """One custom object type of the org; 404 otherwise."""
    found = db.session.scalar(
        select(CustomObjectType).where(
            CustomObjectType.id == type_id, CustomObjectType.org_id == org_id
        )
    )
    if found is None:
        raise NotFound(f"No custom object type {type_id}.", field="type_id")
    return found


def _require_admin(user: User) -> None:
    if not user.has_role("admin"):
        raise Forbidden("Only admins define custom object types.")


def _check_name(org_id: int, name: Any, type_id: int | None) -> str:
    if not isinstance(name, str) or not _SLUG.match(name) or name in RECORD_TYPES:
        raise ValidationFailed(
            "name is a slug of lower-case letters, digits and _ (not a standard type).",
            field="name",
        )
    taken = db.session.scalar(
        select(CustomObjectType.id).where(
            CustomObjectType.org_id == org_id,
            CustomObjectType.name == name,
            CustomObjectType.id != (type_id or 0),
        )
    )
    if taken is not None:
        raise Conflict(f"A custom object type named {name} exists.", field="name", type_id=taken)
    return name


_NAME_TAKEN = "A custom object type of that name exists."


def create_custom_type(user: User, data: dict) -> CustomObjectType:
    """Define a custom object type in the user's org (admins)."""
    _require_admin(user)
    name = _check_name(user.org_id, data.get("name"), None)
    label = _label(data.get("label"), "label", default=name.replace("_", " ").title())
    schema = clean_property_schema(data.get("property_schema") or [])
    with writing(_NAME_TAKEN, field="name"):
        object_type = CustomObjectType(
            org_id=user.org_id,
            name=name,
            label=label,
            plural_label=_label(data.get("plural_label"), "plural_label", default=f"{label}s"),
            property_schema=schema,
            display_property=_display_property(schema, data.get("display_property"), None),
        )
        db.session.add(object_type)
    return object_type


def update_custom_type(user: User, type_id: int, data: dict) -> CustomObjectType:
    """Change a type's name, labels, schema or display property (admins)."""
    _require_admin(user)
    with writing(_NAME_TAKEN, field="name"):
        object_type = get_custom_type(user.org_id, type_id)
        if "name" in data:
            object_type.name = _check_name(user.org_id, data["name"], object_type.id)
        if "label" in data:
            object_type.label = _label(data["label"], "label")
        if "plural_label" in data:
            object_type.plural_label = _label(data["plural_label"], "plural_label")
        if "property_schema" in data:
            object_type.property_schema = clean_property_schema(data["property_schema"] or [])
        object_type.display_property = _display_property(
            object_type.property_schema, data.get("display_property"), object_type.display_property
        )
    return object_type


def delete_custom_type(user: User, type_id: int) -> None:
    """Delete a type with its records and their associations, in one transaction (admins)."""
    _require_admin(user)
    with writing():
        object_type = get_custom_type(user.org_id, type_id)
        record_ids = select(CustomRecord.id).where(CustomRecord.type_id == object_type.id)
        delete_associations_of(user.org_id, "custom", record_ids)
        db.session.execute(
            delete(CustomRecord)
            .where(CustomRecord.type_id == object_type.id)
            .execution_options(synchronize_session=False)
        )
        db.session.delete(object_type)


# --- records ------------------------------------------------------------------------------------


def list_custom_records(
    org_id: int,
    type_id: int,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    owner_id: int | None = None,
) -> Page:
    """A page of one type's records, newest first; `q` searches the display property."""
    object_type = get_custom_type(org_id, type_id)
    stmt = (
        select(CustomRecord)
        .where(CustomRecord.org_id == org_id, CustomRecord.type_id == object_type.id)
        .options(selectinload(CustomRecord.object_type))
    )
    if q and q.strip():
        if object_type.display_property:
            shown = CustomRecord.properties[object_type.display_property].as_string()
            stmt = stmt.where(func.lower(shown).contains(q.strip().lower(), autoescape=True))
        else:
            stmt = stmt.where(false())
    if owner_id is not None:
        stmt = stmt.where(CustomRecord.owner_id == owner_id)
    return paginate(stmt, [CustomRecord.id], cursor, limit)


def get_custom_record(org_id: int, type_id: int, record_id: int) -> CustomRecord:
    """One record of a type of the org; 404 otherwise."""
    object_type = get_custom_type(org_id, type_id)
    record = db.session.scalar(
        select(CustomRecord).where(
            CustomRecord.id == record_id,
            CustomRecord.org_id == org_id,
            CustomRecord.type_id == object_type.id,
        )
    )
    if record is None:
        raise NotFound(f"No {object_type.label} {record_id}.", field="record_id")
    return record


def create_custom_record(user: User, type_id: int, data: dict) -> CustomRecord:
    """Create a record of a type: `properties` checked against its schema, `owner_id`."""
    object_type = get_custom_type(user.org_id, type_id)
    with writing():
        record = CustomRecord(
            org_id=user.org_id,
            type_id=object_type.id,
            owner_id=resolve_owner(user.org_id, data.get("owner_id", user.id)),
            properties=clean_values(object_type, data.get("properties") or {}),
        )
        db.session.add(record)
    return record


def update_custom_record(user: User, type_id: int, record_id: int, data: dict) -> CustomRecord:
    """Change a record's properties (merged; null unsets) or owner; touches updated_at."""
    with writing():
        record = get_custom_record(user.org_id, type_id, record_id)
        if "properties" in data:
            record.properties = clean_values(
                record.object_type, data["properties"] or {}, dict(record.properties or {})
            )
        if "owner_id" in data:
            record.owner_id = resolve_owner(user.org_id, data["owner_id"])
        record.updated_at = utcnow()
    return record


def delete_custom_record(user: User, type_id: int, record_id: int) -> None:
    """Delete a record and its associations, in one transaction."""
    with writing():
        record = get_custom_record(user.org_id, type_id, record_id)
        delete_associations_of(user.org_id, "custom", [record.id])
        db.session.delete(record)
