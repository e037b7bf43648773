"""HTTP routes of the records API (REC-1..3, UI-4): parse, call the service, serialize.

The four standard types share one route factory (`_register_standard`) with per-type schemas, so
the OpenAPI document describes each type precisely. Custom object types and associations follow.
A route returning a single record is registered before the list embedding it, so the OpenAPI
document names each schema once (APIFlask otherwise adds a duplicate "...Out1").
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema

from ..auth.guard import auth_required, current_user
from . import associations as assoc
from . import custom_types, service
from .models import Association
from .schemas import (
    AssociatedPage,
    AssociationIn,
    AssociationOut,
    AssociationsQuery,
    CompanyIn,
    CompanyOut,
    CompanyPage,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    CustomRecordIn,
    CustomRecordOut,
    CustomRecordPage,
    CustomRecordPatch,
    CustomTypeIn,
    CustomTypeList,
    CustomTypeOut,
    DealIn,
    DealOut,
    DealPage,
    ListQuery,
    TicketIn,
    TicketOut,
    TicketPage,
)

bp = APIBlueprint("records", __name__)

_SEARCH = {
    "contact": "`q` matches a part of the name or the start of any email address; a domain "
    "(`acme.com`, also `@acme.co` while typing) the contacts whose address or primary company's "
    "domain starts with it; several words (`Smith Ann`, `Smith, Ann`) the contacts whose first or "
    "last name starts with each word, in any order.",
    "company": "`q` matches a part of the name or the start of a domain.",
    "deal": "`q` matches a part of the name.",
    "ticket": "`q` matches a part of the subject.",
}


def _page_args(query: dict) -> dict:
    return {"cursor": query.get("cursor"), "limit": query.get("limit")}


def _register_standard(
    kind: str,
    plural: str,
    id_param: str,
    schemas: tuple[type[Schema], Schema, type[Schema], type[Schema]],
) -> None:
    """CRUD, search and association routes of one standard record type."""
    in_schema, patch_schema, out_schema, page_schema = schemas
    base, item = f"/api/{plural}", f"/api/{plural}/<int:{id_param}>"
    tag = plural.capitalize()

    @bp.post(base, endpoint=f"create_{kind}")
    @bp.input(in_schema)
    @bp.output(out_schema, status_code=201)
    @bp.doc(tags=[tag], summary=f"Create a {kind}")
    @auth_required()
    def create_view(json_data: dict):
        return service.create_record(current_user(), kind, json_data)

    @bp.get(item, endpoint=f"get_{kind}")
    @bp.output(out_schema)
    @bp.doc(tags=[tag], summary=f"Get a {kind}")
    @auth_required()
    def get_view(**ids: int):
        return service.get_record(current_user().org_id, kind, ids[id_param])

    @bp.patch(item, endpoint=f"update_{kind}")
    @bp.input(patch_schema)
    @bp.output(out_schema)
    @bp.doc(tags=[tag], summary=f"Change a {kind}")
    @auth_required()
    def update_view(json_data: dict, **ids: int):
        return service.update_record(current_user(), kind, ids[id_param], json_data)

    @bp.delete(item, endpoint=f"delete_{kind}")
    @bp.output({}, status_code=204)
    @bp.doc(tags=[tag], summary=f"Delete a {kind} and its associations")
    @auth_required()
    def delete_view(**ids: int):
        service.delete_record(current_user(), kind, ids[id_param])
        return ""

    @bp.get(base, endpoint=f"list_{plural}")
    @bp.input(ListQuery, location="query")
    @bp.output(page_schema)
    @bp.doc(tags=[tag], summary=f"List or search {plural}", description=_SEARCH[kind])
    @auth_required()
    def list_view(query_data: dict):
        return service.list_records(current_user().org_id, kind, **query_data)

    @bp.get(f"{item}/associations", endpoint=f"{kind}_associations")
    @bp.input(AssociationsQuery, location="query")
    @bp.output(AssociatedPage)
    @bp.doc(tags=[tag, "Associations"], summary=f"Records associated with a {kind}")
    @auth_required()
    def associations_view(query_data: dict, **ids: int):
        return assoc.list_associations(
            current_user().org_id, kind, ids[id_param], query_data.get("type"),
            **_page_args(query_data),
        )  # fmt: skip


for _kind, _plural, _schemas in (
    ("contact", "contacts", (ContactIn, ContactPatch(partial=True), ContactOut, ContactPage)),
    ("company", "companies", (CompanyIn, CompanyIn(partial=True), CompanyOut, CompanyPage)),
    ("deal", "deals", (DealIn, DealIn(partial=True), DealOut, DealPage)),
    ("ticket", "tickets", (TicketIn, TicketIn(partial=True), TicketOut, TicketPage)),
):
    _register_standard(_kind, _plural, f"{_kind}_id", _schemas)


# --- custom object types ----------------------------------------------------------------------


@bp.post("/api/custom-types")
@bp.input(CustomTypeIn)
@bp.output(CustomTypeOut, status_code=201)
@bp.doc(tags=["Custom objects"], summary="Define a custom object type (admins)")
@auth_required("admin")
def create_custom_type(json_data: dict):
    return custom_types.create_custom_type(current_user(), json_data)


@bp.get("/api/custom-types")
@bp.output(CustomTypeList)
@bp.doc(tags=["Custom objects"], summary="List the org's custom object types")
@auth_required()
def list_custom_types():
    return {"items": custom_types.list_custom_types(current_user().org_id)}


@bp.get("/api/custom-types/<int:type_id>")
@bp.output(CustomTypeOut)
@bp.doc(tags=["Custom objects"], summary="Get a custom object type")
@auth_required()
def get_custom_type(type_id: int):
    return custom_types.get_custom_type(current_user().org_id, type_id)


@bp.patch("/api/custom-types/<int:type_id>")
@bp.input(CustomTypeIn(partial=True))
@bp.output(CustomTypeOut)
@bp.doc(tags=["Custom objects"], summary="Change a custom object type (admins)")
@auth_required("admin")
def update_custom_type(type_id: int, json_data: dict):
    return custom_types.update_custom_type(current_user(), type_id, json_data)


@bp.delete("/api/custom-types/<int:type_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["Custom objects"], summary="Delete a type with its records (admins)")
@auth_required("admin")
def delete_custom_type(type_id: int):
    custom_types.delete_custom_type(current_user(), type_id)
    return ""


@bp.post("/api/custom-types/<int:type_id>/records")
@bp.input(CustomRecordIn)
@bp.output(CustomRecordOut, status_code=201)
@bp.doc(tags=["Custom objects"], summary="Create a record of a custom type")
@auth_required()
def create_custom_record(type_id: int, json_data: dict):
    return custom_types.create_custom_record(current_user(), type_id, json_data)


@bp.get("/api/custom-types/<int:type_id>/records")
@bp.input(ListQuery, location="query")
@bp.output(CustomRecordPage)
@bp.doc(
    tags=["Custom objects"],
    summary="List or search records of a custom type",
    description="`q` matches a part of the type's display property.",
)
@auth_required()
def list_custom_records(type_id: int, query_data: dict):
    return custom_types.list_custom_records(current_user().org_id, type_id, **query_data)


@bp.get("/api/custom-types/<int:type_id>/records/<int:record_id>")
@bp.output(CustomRecordOut)
@bp.doc(tags=["Custom objects"], summary="Get a record of a custom type")
@auth_required()
def get_custom_record(type_id: int, record_id: int):
    return custom_types.get_custom_record(current_user().org_id, type_id, record_id)


@bp.patch("/api/custom-types/<int:type_id>/records/<int:record_id>")
@bp.input(CustomRecordPatch)
@bp.output(CustomRecordOut)
@bp.doc(
    tags=["Custom objects"],
    summary="Change a record of a custom type",
    description="`properties` are merged into the stored ones; null removes a value.",
)
@auth_required()
def update_custom_record(type_id: int, record_id: int, json_data: dict):
    return custom_types.update_custom_record(current_user(), type_id, record_id, json_data)


@bp.delete("/api/custom-types/<int:type_id>/records/<int:record_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["Custom objects"], summary="Delete a record of a custom type")
@auth_required()
def delete_custom_record(type_id: int, record_id: int):
    custom_types.delete_custom_record(current_user(), type_id, record_id)
    return ""


@bp.get("/api/custom-types/<int:type_id>/records/<int:record_id>/associations")
@bp.input(AssociationsQuery, location="query")
@bp.output(AssociatedPage)
@bp.doc(tags=["Custom objects", "Associations"], summary="Records associated with a record")
@auth_required()
def custom_record_associations(type_id: int, record_id: int, query_data: dict):
    user = current_user()
    record = custom_types.get_custom_record(user.org_id, type_id, record_id)
    return assoc.list_associations(
        user.org_id, "custom", record.id, query_data.get("type"), **_page_args(query_data)
    )


# --- associations -----------------------------------------------------------------------------


def _association_out(row: Association) -> dict:
    return {
        "id": row.id,
        "a": {"type": row.a_type, "id": row.a_id},
        "b": {"type": row.b_type, "id": row.b_id},
        "created_at": row.created_at,
        "created_by_id": row.created_by_id,
    }


@bp.post("/api/associations")
@bp.input(AssociationIn)
@bp.output(AssociationOut, status_code=201)
@bp.doc(
    tags=["Associations"],
    summary="Associate two records",
    description="201 with a new association; 200 with the existing one when the pair exists. "
    'A custom record is {"type": "custom", "id": <record id>}.',
    responses={200: "The pair was already associated; the existing association."},
)
@auth_required()
def create_association(json_data: dict):
    a, b = json_data["a"], json_data["b"]
    row, created = assoc.create_association(current_user(), a["type"], a["id"], b["type"], b["id"])
    return _association_out(row), 201 if created else 200


@bp.delete("/api/associations/<int:association_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["Associations"], summary="Remove an association")
@auth_required()
def delete_association(association_id: int):
    assoc.delete_association(current_user(), association_id)
    return ""
