"""Tenant isolation (Foundation #2, item 8): on every API route with a path parameter, an id of
another org answers 404 — for every method, as a super-admin (so no role check hides a leak).

The test enumerates the app's URL map, so a route added later is covered without anyone
remembering to. A path parameter it does not know fails the test: add a maker of an object of an
org for it to EXTRA_MAKERS (or, if it names no object, a value to NON_ID_PARAMS). Request bodies
and required query parameters are generated from the OpenAPI document, so validation does not
answer before the route looks the id up; a route whose generated body is refused gets its own
entry in BODIES.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)

from server.auth.models import ApiToken
from server.auth.tokens import create_api_token
from server.extensions import db
from server.records.models import CustomObjectType, CustomRecord, SavedView

BASE_PARAMS = (
    "contact_id", "company_id", "deal_id", "ticket_id", "type_id", "record_id", "view_id",
    "token_id", "user_id", "association_id",
)  # fmt: skip
# path parameters that name no object of an org, and the value to put in them
NON_ID_PARAMS = {"record_type": "custom"}  # record_id is a custom record's id
# hand-written bodies for routes whose generated body does not pass validation: (method, rule)
BODIES: dict[tuple[str, str], dict] = {}
_SKIP_METHODS = {"HEAD", "OPTIONS"}


def _import_job(org, user, label: str) -> Any:
    from server.records.import_models import ImportJob

    return ImportJob(org_id=org.id, created_by_id=user.id, record_type="contact")


def _mailbox(org, user, label: str) -> Any:
    from server.mail.mailbox_models import ConnectedMailbox

    return ConnectedMailbox(
        org_id=org.id,
        user_id=user.id,
        provider="microsoft",
        account_id=f"{label}-account",
        address=f"{label}@example.com",
    )


def _dead_letter(org, user, label: str) -> Any:
    from server.mail.inbound_models import DeadLetter

    return DeadLetter(org_id=org.id, source="http", size=1, reason="test", raw=b"x")


def _legal_basis(org, user, label: str) -> Any:
    from server.consent.models import LegalBasis

    contact = make_contact(org)
    return LegalBasis(org_id=org.id, contact_id=contact.id, basis="consent", surface="api")


def _email(org, user, label: str) -> Any:
    from server.emails.models import LoggedEmail

    return LoggedEmail(org_id=org.id, message_key=f"mid:{label}@x", thread_key=f"mid:{label}@x",
                       direction="out", source="api", logged_by_id=user.id)  # fmt: skip


def _tracked_email(org, user, label: str) -> Any:
    from server.tracking.models import TrackedEmail

    return TrackedEmail(org_id=org.id, user_id=user.id, subject=label, recipient=f"{label}@x.org")


def _subscription_type(org, user, label: str) -> Any:
    from server.consent.models import SubscriptionType

    return SubscriptionType(org_id=org.id, name=f"{label}-news", label="News")


def _attachment(org, user, label: str) -> Any:
    from server.emails.models import LoggedEmailAttachment

    email = _email(org, user, f"{label}-with-file")
    db.session.add(email)
    db.session.flush()
    return LoggedEmailAttachment(org_id=org.id, email_id=email.id, position=0, filename="a.txt")


def _notification(org, user, label: str) -> Any:
    from server.notifications.models import Notification

    return Notification(org_id=org.id, user_id=user.id, kind="tracking.open", title=label)


def _template(org, user, label: str) -> Any:
    from server.bulk.models import EmailTemplate

    name = f"{label} intro"
    return EmailTemplate(org_id=org.id, owner_id=user.id, name=name, name_key=name, html="x",
                         shared=True)  # fmt: skip


# path parameters whose objects live outside the records tables: made only when a route uses them
EXTRA_MAKERS = {"import_id": _import_job, "mailbox_id": _mailbox, "dead_letter_id": _dead_letter,
                "basis_id": _legal_basis, "email_id": _email}  # fmt: skip
EXTRA_MAKERS["attachment_id"] = _attachment
EXTRA_MAKERS["subscription_type_id"] = _subscription_type
EXTRA_MAKERS["tracked_email_id"] = _tracked_email
EXTRA_MAKERS["notification_id"] = _notification
EXTRA_MAKERS["template_id"] = _template


def _make_world(org, label: str, extra: set[str]) -> dict[str, Any]:
    """One object of each kind in `org`; returns path parameter name -> the object."""
    admin = make_user(org, role="super_admin")
    colleague = make_user(org)
    contact, company = make_contact(org), make_company(org, domains=[f"{label}.example.com"])
    deal, ticket = make_deal(org), make_ticket(org)
    custom_type = CustomObjectType(
        org_id=org.id,
        name="vehicle",
        label="Vehicle",
        plural_label="Vehicles",
        property_schema=[{"name": "plate", "label": "Plate", "type": "text", "required": False}],
        display_property="plate",
    )
    db.session.add(custom_type)
    db.session.flush()
    record = CustomRecord(org_id=org.id, type_id=custom_type.id, properties={"plate": label})
    view = SavedView(
        org_id=org.id,
        owner_id=admin.id,
        name=f"{label} view",
        record_type="contact",
        criteria={"and": []},
        is_shared=True,
    )
    db.session.add_all([record, view])
    world = {}
    for name in sorted(extra):
        try:
            world[name] = EXTRA_MAKERS[name](org, colleague, label)
        except ImportError as exc:
            pytest.fail(f"a route takes {name} but its model is missing ({exc}); "
                        f"add an id of another org for {name}")  # fmt: skip
    db.session.add_all(world.values())
    db.session.commit()
    token, _ = create_api_token(colleague, "other token")
    return {
        **world,
        "admin": admin,
        "contact_id": contact,
        "company_id": company,
        "deal_id": deal,
        "ticket_id": ticket,
        "type_id": custom_type,
        "record_id": record,
        "view_id": view,
        "token_id": token,
        "user_id": colleague,
        "association_id": associate(org, contact, deal),
    }


# --- request bodies from the OpenAPI document ---------------------------------------------------


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("allOf", "oneOf", "anyOf"):
        if key in schema:
            return _resolve(schema[key][0], spec)
    return schema


def _example(schema: dict, spec: dict) -> Any:
    """The smallest value the schema accepts (required properties only)."""
    schema = _resolve(schema, spec)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return next(v for v in schema["enum"] if v is not None)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _example(props.get(name, {}), spec) for name in schema.get("required", [])}
    if kind == "array":
        return [_example(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    by_format = {"email": "someone@example.com", "date": "2030-01-02"}
    if schema.get("format") == "date-time":
        return "2030-01-02T03:04:05+00:00"
    return by_format.get(schema.get("format"), "abc" * max(1, schema.get("minLength", 1)))


def _request_parts(spec: dict, path: str, method: str) -> tuple[dict | None, dict]:
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    body = None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _example(content["application/json"]["schema"], spec)
    query = {
        p["name"]: _example(p.get("schema", {}), spec)
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    return body, query


# --- the test -----------------------------------------------------------------------------------


def _variants(params: list[str], own: dict, other: dict) -> list[dict[str, int]]:
    """Every id of the other org at once, then each one alone among the caller's own ids."""
    ids = [p for p in params if p not in NON_ID_PARAMS]
    fixed = {p: NON_ID_PARAMS[p] for p in params if p in NON_ID_PARAMS}
    variants = [{**fixed, **{p: other[p].id for p in ids}}]
    if len(ids) > 1:
        for foreign in ids:
            variants.append({**fixed, **{p: (other if p == foreign else own)[p].id for p in ids}})
    return variants


def _still_there(world: dict) -> list[str]:
    """The objects of `world` that are gone (or, for a token, revoked)."""
    db.session.expire_all()
    missing = [name for name, obj in world.items() if db.session.get(type(obj), obj.id) is None]
    token = db.session.get(ApiToken, world["token_id"].id)
    if token is not None and token.revoked_at is not None:
        missing.append("token_id (revoked)")
    return missing


def _id_rules(app, api: bool) -> list:
    """Rules with path parameters: under /api/ all of them; elsewhere those taking an `..._id`."""
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.rule.startswith("/api/") != api:
            continue
        if api or any(name.endswith("_id") for name in rule.arguments):
            rules.append(rule)
    return rules


def _check(app, client, rules: list) -> list[str]:
    """Call every rule's methods with ids of another org; the answers that are not 404."""
    used = {a for r in rules for a in r.arguments}
    unknown = sorted(used - set(BASE_PARAMS) - set(EXTRA_MAKERS) - set(NON_ID_PARAMS))
    assert not unknown, "".join(f"add an id of another org for {name}\n" for name in unknown)
    extra = used & set(EXTRA_MAKERS)
    own = _make_world(make_org(name="Mine"), "mine", extra)
    other = _make_world(make_org(name="Theirs"), "theirs", extra)
    caller = ApiClient(client, own["admin"])
    spec = app.spec
    failures = []
    for rule in rules:
        params = sorted(rule.arguments)
        if all(p in NON_ID_PARAMS for p in params):
            continue  # nothing of an org in the path
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - _SKIP_METHODS):
            body, query = _request_parts(spec, path, method)
            body = BODIES.get((method, rule.rule), body)
            for values in _variants(params, own, other):
                url = path.format(**values)
                kwargs: dict[str, Any] = {"query_string": query}
                if body is not None:
                    kwargs["json"] = body
                response = caller._call(method, url, **kwargs)
                if response.status_code != 404:
                    text = response.get_data(True)[:300]
                    failures.append(f"{method} {url} -> {response.status_code} {text}")
    gone = _still_there(other)
    assert not gone, f"another org's objects changed: {gone}"
    return failures


def test_ids_of_another_org_are_404_on_every_api_route(app, client):
    rules = _id_rules(app, api=True)
    assert len(rules) >= 20
    failures = _check(app, client, rules)
    assert not failures, "ids of another org must be 404:\n" + "\n".join(failures)


def test_pages_with_ids_of_another_org_are_404(app, client):
    rules = _id_rules(app, api=False)
    failures = _check(app, client, rules)
    assert not failures, "ids of another org must be 404:\n" + "\n".join(failures)
