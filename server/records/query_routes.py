"""HTTP routes of saved views, ad-hoc search (REC-4) and the sidebar look-up (REC-3, LOG-4).

Thin: parse, call server/records/views.py or lookup.py, serialize. Matching records are returned
in the shape of their type's schema (server/records/schemas.py), a page at a time.
"""

from __future__ import annotations

from typing import Any

import orjson
from apiflask import APIBlueprint
from apiflask.schema_adapters.marshmallow import parser
from flask import current_app, request
from marshmallow.validate import Length

from ..auth.guard import auth_required, bearer_api_token, current_user
from . import views
from .lookup import lookup_emails, lookup_for_api_token
from .models import SavedView
from .pagination import Page
from .query_schemas import (
    MAX_LOOKUP,
    CountOut,
    LookupIn,
    LookupOut,
    RecordsPage,
    RecordsPageQuery,
    SearchIn,
    ViewIn,
    ViewList,
    ViewOut,
    ViewPatch,
    ViewsQuery,
)
from .schemas import CompanyOut, ContactOut, CustomRecordOut, DealOut, TicketOut

bp = APIBlueprint("records_query_routes", __name__)
# The longest address LookupIn takes (read from the schema so the look-up's fast check follows it)
MAX_ADDRESS_LENGTH = next(
    v.max for v in LookupIn().fields["emails"].inner.validators if isinstance(v, Length)
)

_VIEWS, _LOOKUP = ["Saved views"], ["Sidebar"]
_RECORD_SCHEMAS = {
    "contact": ContactOut(many=True),
    "company": CompanyOut(many=True),
    "deal": DealOut(many=True),
    "ticket": TicketOut(many=True),
    "custom": CustomRecordOut(many=True),
}


def _view_out(view: SavedView) -> dict[str, Any]:
    data = {name: getattr(view, name) for name in ViewOut._declared_fields if name != "can_edit"}
    data["can_edit"] = views.can_edit(current_user(), view)
    return data


def _records(record_type: str, page: Page) -> dict[str, Any]:
    return {"items": _RECORD_SCHEMAS[record_type].dump(page.items), "next_cursor": page.next_cursor}


@bp.post("/api/views")
@bp.input(ViewIn, arg_name="body")
@bp.output(ViewOut, status_code=201)
@bp.doc(summary="Save a view (criteria validated)", tags=_VIEWS)
@auth_required()
def create_view(body: dict):
    """Create a view owned by the caller."""
    return _view_out(views.create_view(current_user(), body))


@bp.get("/api/views")
@bp.input(ViewsQuery, location="query", arg_name="query")
@bp.output(ViewList)
@bp.doc(summary="Saved views the caller sees: their own and the shared ones", tags=_VIEWS)
@auth_required()
def list_views(query: dict):
    """List visible views, optionally of one record type."""
    found = views.list_views(current_user(), query.get("record_type"))
    return {"items": [_view_out(view) for view in found]}


@bp.get("/api/views/<int:view_id>")
@bp.output(ViewOut)
@bp.doc(summary="One saved view", tags=_VIEWS)
@auth_required()
def get_view(view_id: int):
    """A view the caller may see."""
    return _view_out(views.get_view(current_user(), view_id))


@bp.patch("/api/views/<int:view_id>")
@bp.input(ViewPatch, arg_name="body")
@bp.output(ViewOut)
@bp.doc(summary="Rename, change criteria or sharing (owner; admins for shared views)",
        tags=_VIEWS)  # fmt: skip
@auth_required()
def update_view(view_id: int, body: dict):
    """Change a view."""
    return _view_out(views.update_view(current_user(), view_id, body))


@bp.delete("/api/views/<int:view_id>")
@bp.output({}, status_code=204)
@bp.doc(summary="Delete a view (owner; admins for shared views)", tags=_VIEWS)
@auth_required()
def delete_view(view_id: int):
    """Delete a view."""
    views.delete_view(current_user(), view_id)
    return ""


@bp.get("/api/views/<int:view_id>/records")
@bp.input(RecordsPageQuery, location="query", arg_name="query")
@bp.output(RecordsPage)
@bp.doc(summary="Run a view: matching records, newest first, a page at a time", tags=_VIEWS)
@auth_required()
def run_view(view_id: int, query: dict):
    """One page of the view's records."""
    view, page = views.run_view(current_user(), view_id, query.get("cursor"), query.get("limit"))
    return _records(view.record_type, page)


@bp.get("/api/views/<int:view_id>/count")
@bp.output(CountOut)
@bp.doc(summary="How many records a view matches", tags=_VIEWS)
@auth_required()
def count_view(view_id: int):
    """The number of matching records."""
    _, count = views.count_view(current_user(), view_id)
    return {"count": count}


@bp.post("/api/search/<record_type>")
@bp.input(SearchIn, arg_name="body")
@bp.input(RecordsPageQuery, location="query", arg_name="query")
@bp.output(RecordsPage)
@bp.doc(summary="Search records with criteria, without saving a view", tags=_VIEWS)
@auth_required()
def search(record_type: str, body: dict, query: dict):
    """Ad-hoc search over contact, company, deal, ticket or custom records."""
    page = views.search(
        current_user(),
        record_type,
        body["criteria"],
        body.get("custom_type_id"),
        query.get("cursor"),
        query.get("limit"),
    )
    return _records(record_type, page)


@bp.post("/api/lookup")
@bp.input(LookupIn, arg_name="body", validation=False)  # checked below: same errors, faster
@bp.doc(
    summary="Sidebar look-up: contacts, owners, companies, open deals and tickets by address",
    description="Up to 50 addresses; one SQL statement whatever their number. "
    "Invalid addresses are reported per address; duplicates are folded.",
    tags=_LOOKUP,
    responses={200: {"description": "One result per distinct address, and the caller's "
                     "effective settings", "content": {"application/json": {"schema": LookupOut}}}},
)  # fmt: skip
@auth_required(api_token_checked_by_view=True)
def lookup(body: Any):
    """Answered as JSON bytes from plain dicts (documented by LookupOut); a well-formed body is
    taken as is, any other goes through LookupIn for the usual 422 with its field. A personal
    API token is checked inside the look-up's own statement (one round trip)."""
    emails = body.get("emails") if isinstance(body, dict) and len(body) == 1 else None
    if not (
        isinstance(emails, list)
        and 1 <= len(emails) <= MAX_LOOKUP
        and all(isinstance(e, str) and len(e) <= MAX_ADDRESS_LENGTH for e in emails)
    ):
        emails = parser.parse(LookupIn(), request, location="json")["emails"]
    token = bearer_api_token()
    if token is not None:
        answer = lookup_for_api_token(token, emails)
    else:
        answer = lookup_emails(current_user(), emails)
    return current_app.response_class(orjson.dumps(answer), mimetype="application/json")
