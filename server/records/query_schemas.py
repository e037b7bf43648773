"""Request and response schemas of saved views, ad-hoc search (REC-4) and the sidebar look-up.

Criteria travel as a JSON object and are checked by server/records/criteria.py, which names the
exact place of a fault (e.g. `criteria.and[1].op`); the schema here documents their shape.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range

from ..fields import Id
from .criteria import ALL_OPS, MAX_CONDITIONS, MAX_DEPTH, MODELS
from .pagination import DEFAULT_LIMIT, MAX_LIMIT

MAX_LOOKUP = 50

_CRITERIA_DOC = {
    "description": (
        'A group {"and": [...]} or {"or": [...]} of conditions {"field", "op", "value"} and '
        f"nested groups (at most {MAX_DEPTH} deep, {MAX_CONDITIONS} conditions). Operators: "
        f"{', '.join(ALL_OPS)}; each applies to suitable field kinds. owner_id also takes "
        '"me". An empty root group matches every record.'
    ),
    "example": {
        "and": [
            {"field": "lifecycle_stage", "op": "in", "value": ["lead", "customer"]},
            {
                "or": [
                    {"field": "email", "op": "contains", "value": "@acme.com"},
                    {"field": "created_at", "op": "within_last_days", "value": 30},
                ]
            },
        ]
    },  # fmt: skip
}


def _criteria(**kw) -> Dict:
    return Dict(keys=String(), values=Raw(), metadata=_CRITERIA_DOC, **kw)


# --- saved views ---------------------------------------------------------------------------------


class ViewsQuery(Schema):
    record_type = String(validate=OneOf(tuple(MODELS)), metadata={"description": "Only this type."})


class ViewIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    record_type = String(required=True, validate=OneOf(tuple(MODELS)))
    custom_type_id = Id(
        allow_none=True, metadata={"description": "The custom object type (record_type custom)."}
    )
    criteria = _criteria(required=True)
    is_shared = Boolean(
        load_default=False, metadata={"description": "Shared with the whole organization."}
    )


class ViewPatch(Schema):
    name = String(validate=Length(min=1, max=200))
    criteria = _criteria()
    is_shared = Boolean()


class ViewOut(Schema):
    id = Id()
    name = String()
    record_type = String()
    custom_type_id = Id(allow_none=True)
    criteria = _criteria()
    is_shared = Boolean()
    owner_id = Id()
    can_edit = Boolean(metadata={"description": "Whether the caller may change or delete it."})
    created_at = DateTime()
    updated_at = DateTime()


class ViewList(Schema):
    items = List(Nested(ViewOut))


class RecordsPageQuery(Schema):
    cursor = String(metadata={"description": "next_cursor of the previous page"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class RecordsPage(Schema):
    items = List(
        Dict(),
        metadata={
            "description": "Matching records, newest first, each in its type's shape "
            "(ContactOut, CompanyOut, DealOut, TicketOut or CustomRecordOut)."
        },
    )
    next_cursor = String(allow_none=True)


class CountOut(Schema):
    count = Integer()


class SearchIn(Schema):
    criteria = _criteria(required=True)
    custom_type_id = Id(
        allow_none=True, metadata={"description": "The custom object type (record type custom)."}
    )


# --- sidebar look-up -----------------------------------------------------------------------------


class LookupIn(Schema):
    emails = List(
        String(validate=Length(max=1000)),
        required=True,
        validate=Length(min=1, max=MAX_LOOKUP),
        metadata={"description": f"1 to {MAX_LOOKUP} addresses; duplicates are folded."},
    )


class _Person(Schema):
    id = Id()
    name = String()
    email = String()


class _ContactEmail(Schema):
    email = String()
    is_primary = Boolean()


class LookupContact(Schema):
    id = Id()
    name = String()
    first_name = String()
    last_name = String()
    primary_email = String(allow_none=True)
    emails = List(Nested(_ContactEmail))
    lifecycle_stage = String()
    is_marketing = Boolean()


class LookupCompany(Schema):
    id = Id()
    name = String()
    domains = List(String())


class LookupDeal(Schema):
    id = Id()
    name = String()
    stage = String()
    amount = String(allow_none=True, metadata={"description": "Decimal as a string"})
    currency = String()
    close_date = String(allow_none=True, metadata={"format": "date"})
    last_activity_at = String(allow_none=True, metadata={"format": "date-time"})


class LookupTicket(Schema):
    id = Id()
    subject = String()
    status = String()
    priority = String()
    last_activity_at = String(allow_none=True, metadata={"format": "date-time"})


class LookupResult(Schema):
    email = String(metadata={"description": "The address as asked (trimmed)."})
    error = String(allow_none=True, metadata={"description": "Why the address is not valid."})
    contact = Nested(LookupContact, allow_none=True)
    owner = Nested(_Person, allow_none=True)
    company = Nested(LookupCompany, allow_none=True)
    deals = List(Nested(LookupDeal), metadata={"description": "First three open deals."})
    tickets = List(Nested(LookupTicket), metadata={"description": "First three open tickets."})


class _Setting(Schema):
    value = Raw(allow_none=True)
    locked = Boolean()


class LookupOut(Schema):
    results = List(Nested(LookupResult), metadata={"description": "One per distinct address."})
    settings = Dict(
        keys=String(),
        values=Nested(_Setting),
        metadata={"description": "The caller's effective settings: key → {value, locked}."},
    )
