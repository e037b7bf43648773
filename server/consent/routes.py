"""Sidebar consent API (GDPR-1..5, issue 5 items 3 and 7): thin routes over gate and service."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range

from ..auth.guard import auth_required, current_user
from ..fields import Id
from ..records.pagination import DEFAULT_LIMIT, MAX_LIMIT
from . import client_sends, gate, service, timeline  # noqa: F401  (register the "consent" source, the email.logged subscriber)
from .models import BASIS_TYPES, PURPOSES, SUBSCRIPTION_STATUSES, SURFACES

bp = APIBlueprint("consent", __name__)

_SURFACE = String(load_default="api", validate=OneOf(SURFACES))


class OriginIn(Schema):
    type = String(allow_none=True, validate=OneOf(["ticket", "record"]))
    id = Id(allow_none=True)


class CheckIn(Schema):
    recipients = List(String(validate=Length(1, 320)), required=True, validate=Length(1, 500))
    purpose = String(required=True, validate=OneOf(PURPOSES))
    origin = Nested(OriginIn, load_default=None, allow_none=True)


class DecisionOut(Schema):
    status = String(metadata={"description": "allowed | needs_basis | refused"})
    contact_id = Integer(allow_none=True)
    options = List(String(), metadata={"description": "subscription and/or one_time"})
    transactional_only = Boolean()
    reason = String(allow_none=True)
    one_time_basis_id = Integer(allow_none=True)


class CheckOut(Schema):
    recipients = Dict(keys=String(), values=Nested(DecisionOut))


class BasisIn(Schema):
    basis = String(required=True, validate=OneOf(BASIS_TYPES))
    explanation = String(load_default="", validate=Length(max=2000))
    surface = _SURFACE


class BasisOut(Schema):
    id = Integer()
    contact_id = Integer()
    basis = String()
    explanation = String()
    surface = String()
    granted_by_id = Integer(allow_none=True)
    granted_at = DateTime()
    withdrawn_at = DateTime(allow_none=True)
    withdrawn_by_id = Integer(allow_none=True)


class WithdrawQuery(Schema):
    surface = _SURFACE


class SubscriptionIn(Schema):
    type = String(load_default="one_to_one", validate=Length(1, 100))
    status = String(required=True, validate=OneOf(SUBSCRIPTION_STATUSES))
    surface = _SURFACE


class SubscriptionOut(Schema):
    contact_id = Integer()
    type_id = Integer()
    status = String()
    updated_at = DateTime()


class OneTimeIn(Schema):
    reason = String(required=True, validate=Length(service.MIN_REASON_LENGTH, 2000))
    purpose = String(required=True, validate=OneOf(PURPOSES))
    surface = _SURFACE


class OneTimeOut(Schema):
    id = Integer()
    contact_id = Integer()
    reason = String()
    purpose = String()
    surface = String()
    created_by_id = Integer(allow_none=True)
    created_at = DateTime()
    used_by_outbox_id = Integer(allow_none=True)
    used_at = DateTime(allow_none=True)


class OptOutIn(Schema):
    reason = String(load_default=None, allow_none=True, validate=Length(max=2000))
    surface = _SURFACE


class OptOutOut(Schema):
    contact_id = Integer()
    opted_out = Boolean()


class HistoryQuery(Schema):
    cursor = String(validate=Length(max=200))
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))


class AuditOut(Schema):
    id = Integer()
    at = DateTime()
    actor_id = Integer(allow_none=True)
    action = String()
    basis = String(allow_none=True)
    reason = String(allow_none=True)
    surface = String(allow_none=True)
    details = Raw()


class HistoryPage(Schema):
    items = List(Nested(AuditOut))
    next_cursor = String(allow_none=True)


@bp.post("/api/consent/check")
@bp.input(CheckIn)
@bp.output(CheckOut)
@bp.doc(summary="Check recipients against the consent gate (GDPR-1..4)")
@auth_required()
def check(json_data: dict):
    decisions = gate.check_recipients(
        current_user().org_id, json_data["recipients"], json_data["purpose"], json_data["origin"]
    )
    return {"recipients": {a: d.as_dict() for a, d in decisions.items()}}


@bp.post("/api/contacts/<int:contact_id>/legal-basis")
@bp.input(BasisIn)
@bp.output(BasisOut, status_code=201)
@bp.doc(summary="Record a legal basis for the contact (GDPR-5)")
@auth_required()
def grant(contact_id: int, json_data: dict):
    user = current_user()
    return service.grant_basis(user.org_id, user.id, contact_id, **json_data)


@bp.delete("/api/contacts/<int:contact_id>/legal-basis/<int:basis_id>")
@bp.input(WithdrawQuery, location="query")
@bp.output(BasisOut)
@bp.doc(summary="Withdraw a legal basis (kept in the history)")
@auth_required()
def withdraw(contact_id: int, basis_id: int, query_data: dict):
    user = current_user()
    return service.withdraw_basis(user.org_id, user.id, contact_id, basis_id, **query_data)


@bp.post("/api/contacts/<int:contact_id>/subscriptions")
@bp.input(SubscriptionIn)
@bp.output(SubscriptionOut)
@bp.doc(summary="Set the contact's status for a subscription type (GDPR-2)")
@auth_required()
def subscription(contact_id: int, json_data: dict):
    user = current_user()
    return service.set_subscription(
        user.org_id, user.id, contact_id, json_data["type"], json_data["status"],
        json_data["surface"],
    )  # fmt: skip


@bp.post("/api/contacts/<int:contact_id>/one-time-basis")
@bp.input(OneTimeIn)
@bp.output(OneTimeOut, status_code=201)
@bp.doc(summary="Give a one-time legal basis, valid for one message (GDPR-2, GDPR-3)")
@auth_required()
def one_time(contact_id: int, json_data: dict):
    user = current_user()
    return service.give_one_time_basis(user.org_id, user.id, contact_id, **json_data)


@bp.post("/api/contacts/<int:contact_id>/opt-out")
@bp.input(OptOutIn)
@bp.output(OptOutOut)
@bp.doc(summary="Opt the contact out of all email (GDPR-3)")
@auth_required()
def opt_out(contact_id: int, json_data: dict):
    user = current_user()
    state = service.set_opt_out(user.org_id, user.id, contact_id, True, **json_data)
    return {"contact_id": contact_id, "opted_out": state}


@bp.delete("/api/contacts/<int:contact_id>/opt-out")
@bp.input(OptOutIn, location="query")
@bp.output(OptOutOut)
@bp.doc(summary="Opt the contact back in to email")
@auth_required()
def opt_in(contact_id: int, query_data: dict):
    user = current_user()
    state = service.set_opt_out(user.org_id, user.id, contact_id, False, **query_data)
    return {"contact_id": contact_id, "opted_out": state}


@bp.get("/api/contacts/<int:contact_id>/consent-history")
@bp.input(HistoryQuery, location="query")
@bp.output(HistoryPage)
@bp.doc(summary="The contact's consent history, newest first (GDPR-5)")
@auth_required()
def history(contact_id: int, query_data: dict):
    page = service.consent_history(current_user().org_id, contact_id, **query_data)
    return {"items": page.items, "next_cursor": page.next_cursor}
