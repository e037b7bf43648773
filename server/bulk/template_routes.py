"""Email templates over HTTP (BULK-2, ONE-1): list, create, get, change, delete, render.

The single-template routes come before the list embedding TemplateOut, so the OpenAPI
document names the schema once."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Email, Integer, List, Nested, String
from apiflask.validators import Length, Range

from ..auth.guard import auth_required, current_user
from ..fields import Id
from ..records.pagination import MAX_LIMIT
from . import templates
from .merge_fields import FILTERS, MERGE_FIELDS

bp = APIBlueprint("email_templates", __name__)

MAX_BODY = 2_000_000
FIELDS_DOC = (
    "Subject, HTML and text are Jinja templates rendered per recipient in a sandbox. Merge "
    "fields: " + "; ".join(f"`{k}` ({v})" for k, v in MERGE_FIELDS.items()) + ". A field "
    'without a value is undefined, so `{{ first_name | default("there") }}` falls back. '
    "Filters, comparisons and `{% if %}` are allowed; loops, calls and attributes are not. A "
    "template that does not compile is a 422 naming the field (`subject`, `html`, `text`) and "
    "the line."
)


class TemplateIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    subject = String(load_default="", validate=Length(max=998))
    html = String(load_default="", validate=Length(max=MAX_BODY))
    text = String(
        allow_none=True,
        load_default=None,
        validate=Length(max=MAX_BODY),
        metadata={"description": "absent: derived from the HTML when rendered"},
    )
    shared = Boolean(load_default=False, metadata={"description": "seen by the whole org"})


class TemplatePatch(Schema):
    name = String(validate=Length(1, 200))
    subject = String(validate=Length(max=998))
    html = String(validate=Length(max=MAX_BODY))
    text = String(allow_none=True, validate=Length(max=MAX_BODY))
    shared = Boolean()


class TemplateOut(Schema):
    id = Id()
    name = String()
    subject = String()
    html = String()
    text = String(allow_none=True)
    shared = Boolean()
    owner_id = Id(allow_none=True)
    can_edit = Boolean(metadata={"description": "you may change or delete it"})
    created_at = DateTime()
    updated_at = DateTime()


class TemplatePage(Schema):
    items = List(Nested(TemplateOut))
    next_cursor = String(allow_none=True)


class TemplateQuery(Schema):
    q = String(load_default=None, validate=Length(max=200),
               metadata={"description": "a part of the name"})  # fmt: skip
    cursor = String(load_default=None, validate=Length(max=1000))
    limit = Integer(load_default=None, validate=Range(1, MAX_LIMIT))


class RenderIn(Schema):
    to = Email(
        load_default=None,
        allow_none=True,
        metadata={"description": "the recipient's address (its contact's fields)"},
    )
    contact_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "or the contact (its primary address)"},
    )


class RenderedOut(Schema):
    subject = String()
    html = String(allow_none=True)
    text = String(allow_none=True)


class MergeFieldOut(Schema):
    name = String()
    description = String()


class MergeFieldsOut(Schema):
    fields = List(Nested(MergeFieldOut))
    filters = List(String())


def _out(template) -> dict:
    user = current_user()
    return {
        "id": template.id, "name": template.name, "subject": template.subject,
        "html": template.html, "text": template.text, "shared": template.shared,
        "owner_id": template.owner_id, "can_edit": templates.can_edit(user, template),
        "created_at": template.created_at, "updated_at": template.updated_at,
    }  # fmt: skip


@bp.get("/api/templates/merge-fields")
@bp.output(MergeFieldsOut)
@bp.doc(tags=["Templates"], summary="The merge fields and filters a template may use",
        description=FIELDS_DOC)  # fmt: skip
@auth_required()
def merge_fields():
    return {
        "fields": [{"name": k, "description": v} for k, v in MERGE_FIELDS.items()],
        "filters": sorted(FILTERS),
    }


@bp.post("/api/templates")
@bp.input(TemplateIn)
@bp.output(TemplateOut, status_code=201)
@bp.doc(tags=["Templates"], summary="Create a template", description=FIELDS_DOC)
@auth_required()
def create_template(json_data: dict):
    return _out(templates.create_template(current_user(), json_data))


@bp.get("/api/templates/<int:template_id>")
@bp.output(TemplateOut)
@bp.doc(tags=["Templates"], summary="Get a template")
@auth_required()
def get_template(template_id: int):
    return _out(templates.get_template(current_user(), template_id))


@bp.get("/api/templates")
@bp.input(TemplateQuery, location="query")
@bp.output(TemplatePage)
@bp.doc(tags=["Templates"], summary="Your templates and the org's shared ones, by name",
        description=FIELDS_DOC)  # fmt: skip
@auth_required()
def list_templates(query_data: dict):
    page = templates.list_templates(current_user(), **query_data)
    return {"items": [_out(t) for t in page["items"]], "next_cursor": page["next_cursor"]}


@bp.patch("/api/templates/<int:template_id>")
@bp.input(TemplatePatch)
@bp.output(TemplateOut)
@bp.doc(tags=["Templates"], summary="Change a template (its owner; a shared one: or an admin)",
        description=FIELDS_DOC)  # fmt: skip
@auth_required()
def update_template(template_id: int, json_data: dict):
    return _out(templates.update_template(current_user(), template_id, json_data))


@bp.delete("/api/templates/<int:template_id>")
@bp.output({}, status_code=204)
@bp.doc(tags=["Templates"], summary="Delete a template (its owner; a shared one: or an admin)")
@auth_required()
def delete_template(template_id: int):
    templates.delete_template(current_user(), template_id)
    return ""


@bp.post("/api/templates/<int:template_id>/render")
@bp.input(RenderIn)
@bp.output(RenderedOut)
@bp.doc(
    tags=["Templates"],
    summary="Render a template for a recipient",
    description="With the contact of `to` (or `contact_id`); an address not in the CRM, or "
    "none, leaves the contact's fields empty so that fallbacks apply. The text part is derived "
    "from the HTML when the template has none.",
)
@auth_required()
def render_template(template_id: int, json_data: dict):
    return templates.render_for(
        current_user(), template_id, json_data.get("to"), json_data.get("contact_id")
    )
