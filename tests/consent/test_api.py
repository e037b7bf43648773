"""The sidebar consent API (issue 5 items 3 and 7): check, legal basis, subscriptions, one-time
basis, opt-out, and the consent history; each change records who, when and which surface."""

from __future__ import annotations

import inspect

from server.consent import gate, routes, service
from server.consent.models import ConsentAudit
from server.extensions import db
from server.orgs.settings import set_org_settings
from tests.factories import ApiClient, make_contact, make_org, make_user


def _setup(client, privacy=True):
    org = make_org()
    admin = make_user(org, role="super_admin")
    set_org_settings(admin, {"data_privacy": privacy})
    rep = make_user(org)
    return org, rep, ApiClient(client, rep)


def test_check_then_subscribe_then_allowed(app, client):
    org, rep, api = _setup(client)
    contact = make_contact(org, "ann@example.org")
    body = {
        "recipients": ["ann@example.org", "new@example.org"],
        "purpose": "commercial",
        "origin": {"type": "record", "id": contact.id},
    }
    res = api.post("/api/consent/check", json=body)
    assert res.status_code == 200, res.json
    got = res.json["recipients"]
    assert got["ann@example.org"]["status"] == "needs_basis"
    assert got["ann@example.org"]["options"] == ["subscription", "one_time"]
    assert got["new@example.org"] == {
        **got["new@example.org"],
        "status": "needs_basis",
        "contact_id": None,
    }
    res = api.post(
        f"/api/contacts/{contact.id}/subscriptions",
        json={"type": "one_to_one", "status": "subscribed", "surface": "outlook"},
    )
    assert res.status_code == 200, res.json
    res = api.post("/api/consent/check", json=body)
    assert res.json["recipients"]["ann@example.org"]["status"] == "allowed"


def test_legal_basis_grant_and_withdraw(app, client):
    org, rep, api = _setup(client)
    contact = make_contact(org, "bob@example.org")
    res = api.post(
        f"/api/contacts/{contact.id}/legal-basis",
        json={"basis": "contract", "explanation": "Order 42", "surface": "gmail"},
    )
    assert res.status_code == 201, res.json
    assert res.json["granted_by_id"] == rep.id and res.json["surface"] == "gmail"
    basis_id = res.json["id"]
    assert (
        gate.check_recipients(org.id, ["bob@example.org"], "commercial")["bob@example.org"].status
        == "allowed"
    )
    res = api.delete(f"/api/contacts/{contact.id}/legal-basis/{basis_id}?surface=web")
    assert res.status_code == 200 and res.json["withdrawn_by_id"] == rep.id
    assert api.delete(f"/api/contacts/{contact.id}/legal-basis/{basis_id}").status_code == 409
    bad = api.post(f"/api/contacts/{contact.id}/legal-basis", json={"basis": "whim"})
    assert bad.status_code == 422


def test_one_time_basis_rules(app, client):
    org, rep, api = _setup(client)
    contact = make_contact(org, "cy@example.org")
    url = f"/api/contacts/{contact.id}/one-time-basis"
    assert api.post(url, json={"reason": "short", "purpose": "commercial"}).status_code == 422
    assert (
        api.post(url, json={"reason": "Quote you asked for", "purpose": "commercial"}).status_code
        == 201
    )
    assert api.post(f"/api/contacts/{contact.id}/opt-out", json={"surface": "web"}).json == {
        "contact_id": contact.id,
        "opted_out": True,
    }
    res = api.post(url, json={"reason": "Our new spring offers", "purpose": "commercial"})
    assert res.status_code == 422 and res.json["error"]["field"] == "purpose"
    res = api.post(url, json={"reason": "Your invoice for May", "purpose": "transactional"})
    assert res.status_code == 201
    res = api.delete(f"/api/contacts/{contact.id}/opt-out?surface=web")
    assert res.json["opted_out"] is False


def test_other_orgs_contact_is_404(app, client):
    org, rep, api = _setup(client)
    other = make_contact(make_org(), "x@example.org")
    for url, body in [
        (f"/api/contacts/{other.id}/legal-basis", {"basis": "consent"}),
        (f"/api/contacts/{other.id}/subscriptions", {"status": "subscribed"}),
        (
            f"/api/contacts/{other.id}/one-time-basis",
            {"reason": "a long reason", "purpose": "transactional"},
        ),
        (f"/api/contacts/{other.id}/opt-out", {}),
    ]:
        assert api.post(url, json=body).status_code == 404, url
    assert api.get(f"/api/contacts/{other.id}/consent-history").status_code == 404


def test_history_is_newest_first_paginated_with_who_and_surface(app, client):
    org, rep, api = _setup(client)
    contact = make_contact(org, "dee@example.org")
    api.post(f"/api/contacts/{contact.id}/legal-basis", json={"basis": "consent", "surface": "web"})
    api.post(f"/api/contacts/{contact.id}/subscriptions", json={"status": "unsubscribed"})
    api.post(f"/api/contacts/{contact.id}/opt-out", json={"surface": "outlook", "reason": "asked"})
    api.post(
        f"/api/contacts/{contact.id}/one-time-basis",
        json={"reason": "Delivery note attached", "purpose": "transactional", "surface": "gmail"},
    )
    first = api.get(f"/api/contacts/{contact.id}/consent-history?limit=3")
    assert first.status_code == 200, first.json
    actions = [e["action"] for e in first.json["items"]]
    assert actions == ["one_time_basis_given", "opted_out", "unsubscribed"]
    assert all(e["actor_id"] == rep.id and e["at"] for e in first.json["items"])
    assert [e["surface"] for e in first.json["items"]] == ["gmail", "outlook", "api"]
    rest = api.get(
        f"/api/contacts/{contact.id}/consent-history?limit=3&cursor=" + first.json["next_cursor"]
    )
    assert [e["action"] for e in rest.json["items"]] == ["basis_granted"]
    assert rest.json["items"][0]["basis"] == "consent" and rest.json["next_cursor"] is None
    assert api.get(f"/api/contacts/{contact.id}/consent-history?cursor=zz").status_code == 400


def test_audit_is_append_only(app):
    """No code path updates or deletes audit rows, and every change adds one."""
    for module in (service, gate, routes):
        source = inspect.getsource(module)
        assert "update(ConsentAudit" not in source and "delete(ConsentAudit" not in source
    names = [n for n in dir(service) + dir(gate) if "audit" in n.lower()]
    assert not [n for n in names if any(w in n.lower() for w in ("delete", "update", "edit"))]
    org = make_org()
    user = make_user(org)
    contact = make_contact(org, "e@example.org")
    seen = []
    steps = [
        lambda: service.grant_basis(org.id, user.id, contact.id, "consent", "form", "api"),
        lambda: service.set_subscription(
            org.id, user.id, contact.id, "one_to_one", "subscribed", "web"
        ),
        lambda: service.set_opt_out(org.id, user.id, contact.id, True, "bulk"),
        lambda: service.set_opt_out(org.id, user.id, contact.id, False, "web"),
    ]
    for step in steps:
        before = {(r.id, r.action, r.surface) for r in db.session.query(ConsentAudit)}
        step()
        after = {(r.id, r.action, r.surface) for r in db.session.query(ConsentAudit)}
        assert before < after and len(after) == len(before) + 1
        seen.append(after)
