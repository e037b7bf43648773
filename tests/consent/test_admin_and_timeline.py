"""Subscription types admin (list/create/rename/archive; the built-in one-to-one type stays) and
consent changes on the contact's timeline, paged by cursor (GDPR-2, GDPR-5, GDPR-7, REC-6)."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from server.clock import utcnow
from server.consent import service
from tests.factories import ApiClient, make_contact, make_org, make_user

URL = "/api/consent/subscription-types"


def test_subscription_types_admin(app, client):
    org = make_org()
    admin = ApiClient(client, make_user(org, role="admin"))
    rep = ApiClient(client, make_user(org))
    assert rep.get(URL).status_code == 403
    assert rep.post(URL, json={"name": "news"}).status_code == 403
    listed = admin.get(URL).json["items"]
    assert [(t["name"], t["is_one_to_one"]) for t in listed] == [("one_to_one", True)]
    built_in = listed[0]["id"]
    created = admin.post(URL, json={"name": "news", "label": "Newsletter"})
    assert created.status_code == 201, created.json
    assert admin.post(URL, json={"name": "news"}).status_code == 409
    assert admin.post(URL, json={"name": "one_to_one"}).json["error"]["field"] == "name"
    news = created.json["id"]
    renamed = admin.patch(f"{URL}/{news}", json={"name": "monthly", "label": "Monthly news"})
    assert renamed.status_code == 200 and renamed.json["name"] == "monthly"
    assert admin.patch(f"{URL}/{built_in}", json={"name": "other"}).status_code == 422
    assert admin.patch(f"{URL}/{built_in}", json={"label": "Personal email"}).status_code == 200
    assert admin.post(f"{URL}/{built_in}/archive").status_code == 409
    archived = admin.post(f"{URL}/{news}/archive")
    assert archived.status_code == 200 and archived.json["archived_at"]
    assert [t["name"] for t in admin.get(URL).json["items"]] == ["one_to_one"]
    every = admin.get(f"{URL}?include_archived=true").json["items"]
    assert [t["name"] for t in every] == ["one_to_one", "monthly"]
    other_admin = ApiClient(client, make_user(make_org(), role="admin"))
    assert other_admin.post(f"{URL}/{news}/archive").status_code == 404


def test_consent_changes_show_on_the_contact_timeline(app, client):
    org = make_org()
    rep = make_user(org)
    api = ApiClient(client, rep)
    contact = make_contact(org, "tim@example.org")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        service.grant_basis(org.id, rep.id, contact.id, "consent", "Asked at the fair", "web")
        service.set_subscription(org.id, rep.id, contact.id, "one_to_one", "subscribed", "api")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        service.set_opt_out(org.id, rep.id, contact.id, True, "outlook", "Asked to stop")
    url = f"/api/records/contact/{contact.id}/timeline"
    first = api.get(f"{url}?limit=2")
    assert first.status_code == 200, first.json
    consent = [e for e in first.json["items"] if e["kind"] == "consent"]
    assert [e["data"]["action"] for e in consent] == ["opted_out", "subscribed"]
    assert consent[0]["data"]["surface"] == "outlook"
    rest = api.get(f"{url}?limit=2&cursor={first.json['next_cursor']}").json["items"]
    assert [e["data"]["action"] for e in rest if e["kind"] == "consent"] == ["basis_granted"]
    other = make_contact(org, "else@example.org")
    assert not [e for e in api.get(f"/api/records/contact/{other.id}/timeline").json["items"]
                if e["kind"] == "consent"]  # fmt: skip
