"""Admin consent API: subscription types (list/create/rename/archive) and data subject rights
(export, erase) of a contact (GDPR-2, GDPR-7, GDPR-8). Every route needs the admin role."""

from __future__ import annotations

import json

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, Raw, String
from apiflask.validators import Length
from flask import Response

from ..auth.guard import auth_required, current_user
from . import data_subject, subscription_types

bp = APIBlueprint("consent_admin", __name__, tag="Subscription types")
ADMIN = ("admin",)


class TypeOut(Schema):
    id = Integer()
    name = String()
    label = String()
    is_one_to_one = Boolean()
    created_at = DateTime()
    archived_at = DateTime(allow_none=True)


class TypeList(Schema):
    items = Raw(metadata={"description": "list of subscription types"})


class TypesQuery(Schema):
    include_archived = Boolean(load_default=False)


class TypeIn(Schema):
    name = String(required=True, validate=Length(1, 100))
    label = String(load_default="", validate=Length(max=200))


class TypePatch(Schema):
    name = String(validate=Length(1, 100))
    label = String(validate=Length(1, 200))


class EraseIn(Schema):
    confirm = String(required=True, validate=Length(max=320),
                     metadata={"description": "the contact's primary email, repeated"})  # fmt: skip


class EraseOut(Schema):
    erased = Boolean()
    contact_id = Integer()
    counts = Dict(keys=String(), values=Dict())


def _type(row) -> dict:
    return TypeOut().dump(row)


@bp.get("/api/consent/subscription-types")
@bp.input(TypesQuery, location="query")
@bp.output(TypeList)
@bp.doc(summary="The org's subscription types, the built-in one-to-one type first (admin)")
@auth_required(*ADMIN)
def list_types(query_data: dict):
    rows = subscription_types.list_types(current_user().org_id, query_data["include_archived"])
    return {"items": [_type(row) for row in rows]}


@bp.post("/api/consent/subscription-types")
@bp.input(TypeIn)
@bp.output(TypeOut, status_code=201)
@bp.doc(summary="Create a subscription type (admin)")
@auth_required(*ADMIN)
def create_type(json_data: dict):
    return subscription_types.create_subscription_type(
        current_user().org_id, json_data["name"], json_data["label"]
    )


@bp.patch("/api/consent/subscription-types/<int:subscription_type_id>")
@bp.input(TypePatch)
@bp.output(TypeOut)
@bp.doc(summary="Rename or relabel a subscription type (the one-to-one type keeps its name)")
@auth_required(*ADMIN)
def rename_type(subscription_type_id: int, json_data: dict):
    return subscription_types.rename_type(
        current_user().org_id, subscription_type_id, json_data.get("name"), json_data.get("label")
    )


@bp.post("/api/consent/subscription-types/<int:subscription_type_id>/archive")
@bp.output(TypeOut)
@bp.doc(summary="Archive a subscription type (never deleted; not the one-to-one type)")
@auth_required(*ADMIN)
def archive_type(subscription_type_id: int):
    return subscription_types.archive_type(current_user().org_id, subscription_type_id)


@bp.get("/api/contacts/<int:contact_id>/export")
@bp.doc(
    summary="Everything held about the contact, as a JSON download (admin, GDPR-8)",
    responses={200: {"description": "the export", "content": {"application/json": {}}}},
)
@auth_required(*ADMIN)
def export_contact(contact_id: int):
    user = current_user()
    data = data_subject.export_contact(user.org_id, contact_id, user.id, "api")
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'},
    )


@bp.post("/api/contacts/<int:contact_id>/erase")
@bp.input(EraseIn)
@bp.output(EraseOut)
@bp.doc(summary="Erase the contact everywhere, leaving an anonymized audit entry (admin, GDPR-8)")
@auth_required(*ADMIN)
def erase_contact(contact_id: int, json_data: dict):
    user = current_user()
    counts = data_subject.erase_contact(
        user.org_id, contact_id, user.id, "api", json_data["confirm"]
    )
    return {"erased": True, "contact_id": contact_id, "counts": counts}
