"""Saved views (REC-4): named criteria over one record type, private to their owner or shared
with the whole org; running one lists the matching records newest first, a page at a time.

A private view is visible to its owner only (anyone else gets 404); a shared view to every user of
the org; only its owner or an admin changes or deletes a shared view. Criteria are validated on
write and again on every run (a custom type's schema may have changed since).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..errors import Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .criteria import MODELS, Group, fields_for, normalized, parse_criteria
from .criteria_sql import compile_criteria
from .models import Company, Contact, CustomObjectType, CustomRecord, SavedView
from .pagination import Page, paginate

MAX_NAME = 200


# --- criteria over a record type ---------------------------------------------------------------


def resolve_type(org_id: int, record_type: Any, custom_type_id: Any) -> CustomObjectType | None:
    """The custom object type a record type needs (None for the standard types); 422/404 when
    the pair is wrong or the type is not the org's."""
    if record_type not in MODELS:
        known = ", ".join(MODELS)
        raise ValidationFailed(f"record_type must be one of {known}.", field="record_type")
    if record_type != "custom":
        if custom_type_id is not None:
            raise ValidationFailed(
                "custom_type_id is only for record_type custom.", field="custom_type_id"
            )
        return None
    if custom_type_id is None:
        raise ValidationFailed("record_type custom needs a custom_type_id.", field="custom_type_id")
    custom_type = db.session.scalar(
        select(CustomObjectType).where(
            CustomObjectType.id == custom_type_id, CustomObjectType.org_id == org_id
        )
    )
    if custom_type is None:
        raise NotFound(f"No custom type {custom_type_id} in your organization.",
                       field="custom_type_id")  # fmt: skip
    return custom_type


def parse_for(record_type: str, custom_type: CustomObjectType | None, criteria: Any) -> Group:
    """Validate criteria against the fields of the record type; 422 with the exact path."""
    return parse_criteria(criteria, fields_for(record_type, custom_type))


def matching_filter(
    user: User, record_type: str, custom_type: CustomObjectType | None, tree: Group
) -> list:
    """WHERE clauses selecting the org's records of the type that match `tree`."""
    model = MODELS[record_type]
    clauses = [
        model.org_id == user.org_id,
        compile_criteria(tree, record_type, user.org_id, user.id),
    ]
    if custom_type is not None:
        clauses.insert(1, CustomRecord.type_id == custom_type.id)
    return clauses


def _page(
    user: User, record_type: str, custom_type: CustomObjectType | None, tree: Group,
    cursor: str | None, limit: int | None,
) -> Page:  # fmt: skip
    model = MODELS[record_type]
    stmt = select(model).where(*matching_filter(user, record_type, custom_type, tree))
    if record_type == "contact":
        stmt = stmt.options(selectinload(Contact.emails))
    elif record_type == "company":
        stmt = stmt.options(selectinload(Company.domains))
    return paginate(stmt, [model.id], cursor, limit)


def _count(user: User, record_type: str, custom_type: CustomObjectType | None, tree: Group) -> int:
    model = MODELS[record_type]
    where = matching_filter(user, record_type, custom_type, tree)
    return db.session.scalar(select(func.count(model.id)).where(*where)) or 0


def search(
    user: User,
    record_type: str,
    criteria: Any,
    custom_type_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page:
    """Ad-hoc search: the records matching criteria that are not saved, newest first."""
    custom_type = resolve_type(user.org_id, record_type, custom_type_id)
    tree = parse_for(record_type, custom_type, criteria)
    return _page(user, record_type, custom_type, tree, cursor, limit)


# --- views --------------------------------------------------------------------------------------


def _visible(user: User):
    return SavedView.org_id == user.org_id, or_(
        SavedView.is_shared.is_(True), SavedView.owner_id == user.id
    )


def can_edit(user: User, view: SavedView) -> bool:
    """The owner edits their view; an admin also edits the org's shared views."""
    return view.owner_id == user.id or (view.is_shared and user.has_role("admin"))


def list_views(user: User, record_type: str | None = None) -> list[SavedView]:
    """The views the user sees (their own and the org's shared ones), by name."""
    stmt = select(SavedView).where(*_visible(user))
    if record_type is not None:
        if record_type not in MODELS:
            raise ValidationFailed(f"record_type must be one of {', '.join(MODELS)}.",
                                   field="record_type")  # fmt: skip
        stmt = stmt.where(SavedView.record_type == record_type)
    return list(db.session.scalars(stmt.order_by(func.lower(SavedView.name), SavedView.id)))


def get_view(user: User, view_id: int) -> SavedView:
    """A view the user may see; 404 for another's private view or another org's view."""
    view = db.session.scalar(select(SavedView).where(SavedView.id == view_id, *_visible(user)))
    if view is None:
        raise NotFound(f"No view {view_id}.", field="view_id")
    return view


def _clean_name(name: Any) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME:
        raise ValidationFailed(f"name must be 1 to {MAX_NAME} characters.", field="name")
    return text


def _clean_shared(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed("is_shared must be true or false.", field="is_shared")
    return value


def create_view(user: User, data: dict) -> SavedView:
    """Save a view owned by the user; criteria are validated and stored normalized."""
    record_type = data.get("record_type")
    custom_type = resolve_type(user.org_id, record_type, data.get("custom_type_id"))
    tree = parse_for(record_type, custom_type, data.get("criteria"))
    view = SavedView(
        org_id=user.org_id,
        owner_id=user.id,
        name=_clean_name(data.get("name")),
        record_type=record_type,
        custom_type_id=custom_type.id if custom_type else None,
        criteria=normalized(tree),
        is_shared=_clean_shared(data.get("is_shared", False)),
    )
    db.session.add(view)
    db.session.commit()
    return view


def update_view(user: User, view_id: int, data: dict) -> SavedView:
    """Change a view's name, criteria or sharing (owner, or an admin for a shared view)."""
    view = get_view(user, view_id)
    if not can_edit(user, view):
        raise Forbidden("Only the view's owner or an admin can change a shared view.")
    if "name" in data:
        view.name = _clean_name(data["name"])
    if "criteria" in data:
        custom_type = resolve_type(user.org_id, view.record_type, view.custom_type_id)
        view.criteria = normalized(parse_for(view.record_type, custom_type, data["criteria"]))
    if "is_shared" in data:
        view.is_shared = _clean_shared(data["is_shared"])
    db.session.commit()
    return view


def delete_view(user: User, view_id: int) -> None:
    """Delete a view (owner, or an admin for a shared view)."""
    view = get_view(user, view_id)
    if not can_edit(user, view):
        raise Forbidden("Only the view's owner or an admin can delete a shared view.")
    db.session.delete(view)
    db.session.commit()


def _prepared(user: User, view_id: int) -> tuple[SavedView, CustomObjectType | None, Group]:
    view = get_view(user, view_id)
    custom_type = resolve_type(user.org_id, view.record_type, view.custom_type_id)
    return view, custom_type, parse_for(view.record_type, custom_type, view.criteria)


def run_view(
    user: User, view_id: int, cursor: str | None = None, limit: int | None = None
) -> tuple[SavedView, Page]:
    """The view and one page of its matching records, newest first."""
    view, custom_type, tree = _prepared(user, view_id)
    return view, _page(user, view.record_type, custom_type, tree, cursor, limit)


def count_view(user: User, view_id: int) -> tuple[SavedView, int]:
    """The view and the number of records it matches."""
    view, custom_type, tree = _prepared(user, view_id)
    return view, _count(user, view.record_type, custom_type, tree)
