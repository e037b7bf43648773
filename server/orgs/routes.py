"""HTTP for the org, its users and settings: parse, call the service, serialize."""

from __future__ import annotations

from apiflask import APIBlueprint

from ..auth.guard import auth_required, current_user
from . import service, settings
from .models import User
from .schemas import (
    AuditPageOut,
    AuditQuery,
    EffectiveSettingsOut,
    OrgOut,
    OrgPatch,
    OrgSettingsOut,
    OrgSettingsPatch,
    UserCreate,
    UserOut,
    UserPageOut,
    UserPatch,
    UserSettingsPatch,
    UsersQuery,
)

bp = APIBlueprint("orgs", __name__, tag="Organization")


def _org_out(org) -> dict:
    return {
        "id": org.id,
        "name": org.name,
        "edition": org.edition,
        "time_zone": org.time_zone,
        "org_address": org.org_address,
        "tenant_ids": sorted(t.tenant_id for t in org.tenants),
        "domains": sorted(d.domain for d in org.domains),
        "created_at": org.created_at,
    }


def _user_out(user: User, reps_may_bulk_send: bool) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "time_zone": user.time_zone,
        "is_active": user.is_active,
        "can_bulk_send": service.can_bulk_send(user, reps_may_bulk_send),
        "created_at": user.created_at,
        "last_seen_at": user.last_seen_at,
    }


def _reps_may_bulk_send(org_id: int) -> bool:
    return bool(settings.org_setting(org_id, "reps_may_bulk_send"))


@bp.get("/api/org")
@bp.output(OrgOut)
@bp.doc(summary="The caller's organization")
@auth_required()
def get_org():
    return _org_out(service.get_org(current_user().org_id))


@bp.patch("/api/org")
@bp.input(OrgPatch, arg_name="body")
@bp.output(OrgOut)
@bp.doc(summary="Change the organization (super-admin)")
@auth_required("super_admin")
def patch_org(body: dict):
    return _org_out(service.update_org(current_user(), body))


def _org_settings_out(org_id: int) -> dict:
    values = settings.org_settings(org_id)
    out = {}
    for key in settings.ORG_KEYS:
        declared = settings.SETTINGS[key]
        out[key] = {
            "value": values[key],
            "default": declared.default,
            "is_default": values[key] == declared.default,
            "scope": declared.scope,
        }
    return {"settings": out}


@bp.get("/api/org/settings")
@bp.output(OrgSettingsOut)
@bp.doc(summary="Every organization setting with its declared default")
@auth_required("admin")
def get_org_settings():
    return _org_settings_out(current_user().org_id)


@bp.patch("/api/org/settings")
@bp.input(OrgSettingsPatch, arg_name="body")
@bp.output(OrgSettingsOut)
@bp.doc(summary="Change organization settings (super-admin; every change audited, ADM-4)")
@auth_required("super_admin")
def patch_org_settings(body: dict):
    settings.set_org_settings(current_user(), body)
    return _org_settings_out(current_user().org_id)


@bp.get("/api/org/settings/audit")
@bp.input(AuditQuery, location="query", arg_name="query")
@bp.output(AuditPageOut)
@bp.doc(summary="Settings changes, newest first: who, when, old → new (ADM-4)")
@auth_required("admin")
def get_settings_audit(query: dict):
    rows, next_cursor = settings.settings_audit(
        current_user().org_id, query["cursor"], query["limit"]
    )
    return {"items": rows, "next_cursor": next_cursor}


@bp.get("/api/me/settings")
@bp.output(EffectiveSettingsOut)
@bp.doc(summary="The caller's settings in force and which the org locks (ADM-2)")
@auth_required()
def get_my_settings():
    user = current_user()
    return {
        "settings": settings.effective_settings(user),
        "can_bulk_send": service.can_bulk_send(user),
    }


@bp.patch("/api/me/settings")
@bp.input(UserSettingsPatch, arg_name="body")
@bp.output(EffectiveSettingsOut)
@bp.doc(summary="Change the caller's personal defaults (a key the org locks is refused, 403)")
@auth_required()
def patch_my_settings(body: dict):
    user = current_user()
    effective = settings.set_user_settings(user, body)
    return {"settings": effective, "can_bulk_send": service.can_bulk_send(user)}


@bp.get("/api/users")
@bp.input(UsersQuery, location="query", arg_name="query")
@bp.output(UserPageOut)
@bp.doc(summary="Users of the caller's organization")
@auth_required()
def list_users(query: dict):
    org_id = current_user().org_id
    users, next_cursor = service.list_users(org_id, query["cursor"], query["limit"])
    reps = _reps_may_bulk_send(org_id)
    return {"items": [_user_out(u, reps) for u in users], "next_cursor": next_cursor}


@bp.post("/api/users")
@bp.input(UserCreate, arg_name="body")
@bp.output(UserOut, status_code=201)
@bp.doc(summary="Add a user (admin)")
@auth_required("admin")
def create_user(body: dict):
    actor = current_user()
    user = service.create_user(actor, actor.org_id, **body)
    return _user_out(user, _reps_may_bulk_send(actor.org_id))


@bp.get("/api/users/<int:user_id>")
@bp.output(UserOut)
@bp.doc(summary="One user of the caller's organization")
@auth_required()
def get_user(user_id: int):
    org_id = current_user().org_id
    return _user_out(service.get_user(org_id, user_id), _reps_may_bulk_send(org_id))


@bp.patch("/api/users/<int:user_id>")
@bp.input(UserPatch, arg_name="body")
@bp.output(UserOut)
@bp.doc(
    summary="Change a user: name, time zone (self or admin), active (admin), role (super-admin)"
)
@auth_required()
def patch_user(user_id: int, body: dict):
    actor = current_user()
    user = service.update_user(actor, actor.org_id, user_id, body)
    return _user_out(user, _reps_may_bulk_send(actor.org_id))
