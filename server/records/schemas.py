"""Request and response schemas of the records API (REC-1..3); the OpenAPI document is built
from them. Per type: `<Type>In` (create), `<Type>Patch` (update, every field optional),
`<Type>Out` and `<Type>Page` ({"items", "next_cursor"})."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import (
    Boolean,
    Date,
    DateTime,
    Decimal,
    Dict,
    Integer,
    List,
    Method,
    Nested,
    Pluck,
    Raw,
    String,
)
from apiflask.validators import Length, OneOf, Range, Regexp

from ..fields import Id
from .associations import RECORD_MODELS, display_name
from .custom_types import PROPERTY_TYPES
from .models import LIFECYCLE_STAGES
from .pagination import DEFAULT_LIMIT, MAX_LIMIT
from .record_fields import TICKET_PRIORITIES

RECORD_TYPE_NAMES = tuple(RECORD_MODELS)
_SLUG = r"^[a-z][a-z0-9_]{0,63}$"


def _email(description: str | None = None) -> String:
    metadata = {"format": "email", **({"description": description} if description else {})}
    return String(validate=Length(max=320), metadata=metadata)


def _properties(**kw) -> Dict:
    return Dict(
        keys=String(),
        values=Raw(allow_none=True),
        metadata={"description": "Free properties: name → value (text, number, bool)."},
        **kw,
    )


# --- queries ------------------------------------------------------------------------------------


class PageQuery(Schema):
    cursor = String(metadata={"description": "next_cursor of the previous page"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class ListQuery(PageQuery):
    q = String(
        validate=Length(max=200), metadata={"description": "Free-text search (see each list)."}
    )
    owner_id = Id(metadata={"description": "Only records owned by this user."})


class AssociationsQuery(PageQuery):
    type = String(validate=OneOf(RECORD_TYPE_NAMES), metadata={"description": "Only this type."})


class _RecordOut(Schema):
    id = Id()
    owner_id = Id(allow_none=True)
    properties = _properties()
    created_at = DateTime()
    updated_at = DateTime()
    last_activity_at = DateTime(allow_none=True)


# --- contacts -----------------------------------------------------------------------------------


class ContactIn(Schema):
    emails = List(
        _email(),
        required=True,
        validate=Length(min=1, max=50),
        metadata={"description": "One or more addresses; the first is primary by default."},
    )
    primary_email = _email("Which of the addresses is primary.")
    first_name = String(validate=Length(max=100))
    last_name = String(validate=Length(max=100))
    job_title = String(validate=Length(max=200), allow_none=True)
    phone = String(validate=Length(max=50), allow_none=True)
    lifecycle_stage = String(validate=OneOf(LIFECYCLE_STAGES))
    is_marketing = Boolean()
    primary_company_id = Id(allow_none=True)
    owner_id = Id(allow_none=True, metadata={"description": "Defaults to the caller."})
    properties = _properties()


class ContactPatch(ContactIn):
    emails = List(
        _email(),
        validate=Length(min=1, max=50),
        metadata={"description": "Replaces every address."},
    )
    add_emails = List(_email(), validate=Length(max=50))
    remove_emails = List(_email(), validate=Length(max=50))


class ContactEmailOut(Schema):
    email = String()
    is_primary = Boolean()


class ContactOut(_RecordOut):
    first_name = String()
    last_name = String()
    display_name = String()
    job_title = String(allow_none=True)
    phone = String(allow_none=True)
    lifecycle_stage = String()
    is_marketing = Boolean()
    primary_company_id = Id(allow_none=True)
    primary_email = String(allow_none=True)
    emails = List(Nested(ContactEmailOut))


# --- companies ----------------------------------------------------------------------------------


class CompanyIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    industry = String(validate=Length(max=100), allow_none=True)
    domains = List(
        String(validate=Length(max=253)),
        validate=Length(max=50),
        metadata={"description": "Web/mail domains, stored lower-case, unique in the org."},
    )
    owner_id = Id(allow_none=True, metadata={"description": "Defaults to the caller."})
    properties = _properties()


class CompanyDomainOut(Schema):
    domain = String()


class CompanyOut(_RecordOut):
    name = String()
    industry = String(allow_none=True)
    domains = Pluck(CompanyDomainOut, "domain", many=True)


# --- deals and tickets ----------------------------------------------------------------------------


class DealIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    stage = String(validate=Length(min=1, max=60))
    amount = Decimal(places=2, as_string=True, allow_none=True)
    currency = String(validate=Regexp(r"^[A-Za-z]{3}$"), metadata={"example": "EUR"})
    close_date = Date(allow_none=True)
    is_closed = Boolean()
    owner_id = Id(allow_none=True, metadata={"description": "Defaults to the caller."})
    properties = _properties()


class DealOut(_RecordOut):
    name = String()
    stage = String()
    amount = Decimal(
        places=2,
        as_string=True,
        allow_none=True,
        metadata={"type": "string", "format": "decimal", "example": "1200.50"},
    )
    currency = String()
    close_date = Date(allow_none=True)
    is_closed = Boolean()


class TicketIn(Schema):
    subject = String(required=True, validate=Length(min=1, max=300))
    description = String(validate=Length(max=100_000), allow_none=True)
    status = String(validate=Length(min=1, max=40))
    priority = String(validate=OneOf(TICKET_PRIORITIES))
    is_closed = Boolean()
    owner_id = Id(allow_none=True, metadata={"description": "Defaults to the caller."})
    properties = _properties()


class TicketOut(_RecordOut):
    subject = String()
    description = String(allow_none=True)
    status = String()
    priority = String()
    is_closed = Boolean()


class ContactPage(Schema):
    items = List(Nested(ContactOut))
    next_cursor = String(allow_none=True)


class CompanyPage(Schema):
    items = List(Nested(CompanyOut))
    next_cursor = String(allow_none=True)


class DealPage(Schema):
    items = List(Nested(DealOut))
    next_cursor = String(allow_none=True)


class TicketPage(Schema):
    items = List(Nested(TicketOut))
    next_cursor = String(allow_none=True)


# --- custom object types and records -----------------------------------------------------------


class PropertyDef(Schema):
    name = String(required=True, validate=Regexp(_SLUG))
    label = String(validate=Length(max=100))
    type = String(required=True, validate=OneOf(PROPERTY_TYPES))
    required = Boolean()
    options = List(String(validate=Length(min=1, max=200)), allow_none=True)


class CustomTypeIn(Schema):
    name = String(required=True, validate=Regexp(_SLUG), metadata={"example": "vehicle"})
    label = String(validate=Length(max=100))
    plural_label = String(validate=Length(max=100))
    property_schema = List(Nested(PropertyDef), validate=Length(max=100))
    display_property = String(allow_none=True)


class CustomTypeOut(Schema):
    id = Id()
    name = String()
    label = String()
    plural_label = String()
    property_schema = List(Nested(PropertyDef))
    display_property = String(allow_none=True)
    created_at = DateTime()


class CustomTypeList(Schema):
    items = List(Nested(CustomTypeOut))


class CustomRecordIn(Schema):
    properties = Dict(
        keys=String(),
        values=Raw(allow_none=True),
        load_default=dict,
        metadata={"description": "Values checked against the type's property_schema."},
    )
    owner_id = Id(allow_none=True, metadata={"description": "Defaults to the caller."})


class CustomRecordPatch(Schema):
    properties = Dict(
        keys=String(),
        values=Raw(allow_none=True),
        metadata={"description": "Merged into the stored values; null removes a value."},
    )
    owner_id = Id(allow_none=True)


class CustomRecordOut(_RecordOut):
    type_id = Id()
    display_name = Method("_display_name", metadata={"type": "string"})

    def _display_name(self, record) -> str:
        return display_name("custom", record)


class CustomRecordPage(Schema):
    items = List(Nested(CustomRecordOut))
    next_cursor = String(allow_none=True)


# --- associations -------------------------------------------------------------------------------


class RecordRef(Schema):
    type = String(required=True, validate=OneOf(RECORD_TYPE_NAMES))
    id = Id(required=True)


class AssociationIn(Schema):
    a = Nested(RecordRef, required=True)
    b = Nested(RecordRef, required=True)


class AssociationOut(Schema):
    id = Id()
    a = Nested(RecordRef)
    b = Nested(RecordRef)
    created_at = DateTime()
    created_by_id = Id(allow_none=True)


class AssociatedRecordOut(Schema):
    association_id = Id()
    type = String()
    id = Id()
    display_name = String()
    custom_type_id = Id(allow_none=True)
    created_at = DateTime()


class AssociatedPage(Schema):
    items = List(Nested(AssociatedRecordOut))
    next_cursor = String(allow_none=True)
