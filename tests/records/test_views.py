"""Saved views and ad-hoc search over the API (REC-4): visibility, editing rights, running a view
a page at a time, counting, and criteria errors with their exact path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.clock import utcnow
from server.extensions import db
from server.records.models import CustomObjectType, CustomRecord, SavedView
from tests.factories import ApiClient, make_contact, make_deal, make_org, make_user

LEADS = {"and": [{"field": "lifecycle_stage", "op": "eq", "value": "lead"}]}


@pytest.fixture
def org(app):
    return make_org()


@pytest.fixture
def alice(org):
    return make_user(org, role="rep", name="Alice")


@pytest.fixture
def api(client, alice):
    return ApiClient(client, alice)


def _create(api, **fields):
    body = {"name": "Leads", "record_type": "contact", "criteria": LEADS, **fields}
    response = api.post("/api/views", json=body)
    assert response.status_code == 201, response.json
    return response.json


def test_create_stores_normalized_criteria_and_returns_the_view(api, alice):
    criteria = {"and": [{"field": "created_at", "op": "gte", "value": "2024-01-01T02:00:00+02:00"},
                        {"field": "email", "op": "is_not_empty", "value": None}]}  # fmt: skip
    view = _create(api, criteria=criteria, is_shared=True)
    assert view["owner_id"] == alice.id and view["is_shared"] and view["can_edit"]
    assert view["criteria"] == {"and": [
        {"field": "created_at", "op": "gte", "value": "2024-01-01T00:00:00+00:00"},
        {"field": "email", "op": "is_not_empty"},
    ]}  # fmt: skip
    assert api.get(f"/api/views/{view['id']}").json["name"] == "Leads"


def test_invalid_criteria_answer_422_with_the_exact_path(api):
    deal_field = {"and": [{"field": "amount", "op": "gt", "value": 1}]}
    name_is_a = {"field": "first_name", "op": "eq", "value": "a"}
    body = {"name": "x", "record_type": "contact", "criteria": {"or": [name_is_a, deal_field]}}
    response = api.post("/api/views", json=body)
    assert response.status_code == 422
    assert response.json["error"]["field"] == "criteria.or[1].and[0].field"
    body["criteria"] = {"and": [{"field": "first_name", "op": "gt", "value": "a"}]}
    assert api.post("/api/views", json=body).json["error"]["field"] == "criteria.and[0].op"
    body["record_type"] = "invoice"
    assert api.post("/api/views", json=body).json["error"]["field"] == "record_type"
    response = api.post("/api/views", json={"name": "x", "record_type": "contact"})
    assert response.status_code == 422 and response.json["error"]["field"] == "criteria"
    response = api.post("/api/views", json={"name": "x", "record_type": "custom", "criteria": {}})
    assert response.json["error"]["field"] == "custom_type_id"


def test_private_views_are_the_owners_alone(client, org, api, alice):
    private = _create(api, name="Mine")
    shared = _create(api, name="Team", is_shared=True)
    bob = ApiClient(client, make_user(org, role="rep"))
    admin = ApiClient(client, make_user(org, role="admin"))
    for other in (bob, admin):
        assert [v["id"] for v in other.get("/api/views").json["items"]] == [shared["id"]]
        assert other.get(f"/api/views/{private['id']}").status_code == 404
        assert other.get(f"/api/views/{private['id']}/records").status_code == 404
        assert other.get(f"/api/views/{private['id']}/count").status_code == 404
        assert other.patch(f"/api/views/{private['id']}", json={"name": "x"}).status_code == 404
        assert other.delete(f"/api/views/{private['id']}").status_code == 404
    assert [v["name"] for v in api.get("/api/views").json["items"]] == ["Mine", "Team"]


def test_only_owner_or_admin_change_a_shared_view(client, org, api):
    shared = _create(api, is_shared=True)
    url = f"/api/views/{shared['id']}"
    bob = ApiClient(client, make_user(org, role="rep"))
    assert bob.get(url).json["can_edit"] is False
    assert bob.patch(url, json={"name": "Bob's"}).status_code == 403
    assert bob.delete(url).status_code == 403
    admin = ApiClient(client, make_user(org, role="admin"))
    response = admin.patch(url, json={"name": "Renamed", "criteria": {"and": []}})
    assert response.status_code == 200 and response.json["name"] == "Renamed"
    assert response.json["criteria"] == {"and": []} and response.json["can_edit"]
    assert api.patch(url, json={"is_shared": False}).json["is_shared"] is False
    assert admin.get(url).status_code == 404  # private again: its owner's alone
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert db.session.get(SavedView, shared["id"]) is None


def test_patch_revalidates_criteria(api):
    view = _create(api)
    bad = {"criteria": {"and": [{"field": "lifecycle_stage", "op": "eq", "value": "king"}]}}
    response = api.patch(f"/api/views/{view['id']}", json=bad)
    assert (
        response.status_code == 422 and response.json["error"]["field"] == "criteria.and[0].value"
    )
    assert api.get(f"/api/views/{view['id']}").json["criteria"] == LEADS


def test_other_organizations_views_are_not_found(client, api):
    shared = _create(api, is_shared=True)
    stranger = ApiClient(client, make_user(make_org(), role="super_admin"))
    assert stranger.get("/api/views").json["items"] == []
    for method in ("get", "delete"):
        assert getattr(stranger, method)(f"/api/views/{shared['id']}").status_code == 404
    assert stranger.get(f"/api/views/{shared['id']}/records").status_code == 404


def test_list_filters_by_record_type(api):
    _create(api, name="People")
    _create(api, name="Big deals", record_type="deal",
            criteria={"and": [{"field": "amount", "op": "gt", "value": 1000}]})  # fmt: skip
    names = [v["name"] for v in api.get("/api/views?record_type=deal").json["items"]]
    assert names == ["Big deals"]
    assert api.get("/api/views?record_type=planet").status_code == 422


def test_run_pages_newest_first_and_count(org, api, alice):
    made = [make_contact(org, [f"lead{i}@x.org"], lifecycle_stage="lead", first_name=f"L{i}").id
            for i in range(5)]  # fmt: skip
    make_contact(org, ["cust@x.org"], lifecycle_stage="customer")
    make_contact(make_org(), ["lead@other.org"], lifecycle_stage="lead")
    view = _create(api)
    first = api.get(f"/api/views/{view['id']}/records?limit=2").json
    assert [r["id"] for r in first["items"]] == made[::-1][:2]
    assert first["items"][0]["emails"] == [{"email": "lead4@x.org", "is_primary": True}]
    assert first["items"][0]["display_name"] == "L4"
    seen = [r["id"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(f"/api/views/{view['id']}/records?limit=2&cursor={cursor}").json
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]
    assert api.get(f"/api/views/{view['id']}/count").json == {"count": 5}
    bad = api.get(f"/api/views/{view['id']}/records?cursor=!!nonsense")
    assert bad.status_code == 400 and bad.json["error"]["field"] == "cursor"
    assert api.get(f"/api/views/{view['id']}/records?limit=0").status_code == 422


def test_a_shared_view_on_me_shows_each_user_their_own(client, org, api, alice):
    bob_user = make_user(org)
    mine = make_contact(org, owner=alice).id
    bobs = make_contact(org, owner=bob_user).id
    mine_only = {"and": [{"field": "owner_id", "op": "eq", "value": "me"}]}
    view = _create(api, is_shared=True, criteria=mine_only)
    bob = ApiClient(client, bob_user)
    assert [r["id"] for r in api.get(f"/api/views/{view['id']}/records").json["items"]] == [mine]
    assert [r["id"] for r in bob.get(f"/api/views/{view['id']}/records").json["items"]] == [bobs]


def test_ad_hoc_search_without_saving(org, api):
    recent = make_deal(org, "Recent", created_at=utcnow() - timedelta(days=1))
    make_deal(org, "Old", created_at=utcnow() - timedelta(days=100))
    criteria = {"and": [{"field": "created_at", "op": "within_last_days", "value": 30}]}
    response = api.post("/api/search/deal", json={"criteria": criteria})
    assert response.status_code == 200
    assert [(r["id"], r["name"]) for r in response.json["items"]] == [(recent.id, "Recent")]
    assert response.json["next_cursor"] is None
    assert db.session.query(SavedView).count() == 0
    response = api.post("/api/search/planet", json={"criteria": criteria})
    assert response.status_code == 422 and response.json["error"]["field"] == "record_type"
    response = api.post("/api/search/deal", json={"criteria": criteria, "custom_type_id": 1})
    assert response.json["error"]["field"] == "custom_type_id"


def test_hostile_values_in_a_search_stay_data(org, api):
    make_contact(org, ["a@x.org"], first_name="Robert'); DROP TABLE contacts;--")
    make_contact(org, ["b@x.org"], first_name="Plain")
    hostile = "Robert'); DROP TABLE contacts;--"
    for op in ("eq", "contains", "starts_with"):
        criteria = {"or": [{"field": "first_name", "op": op, "value": hostile}]}
        items = api.post("/api/search/contact", json={"criteria": criteria}).json["items"]
        assert [r["first_name"] for r in items] == [hostile]
    criteria = {"and": [{"field": "first_name", "op": "contains", "value": "' OR ''='"}]}
    assert api.post("/api/search/contact", json={"criteria": criteria}).json["items"] == []


def test_views_and_search_over_a_custom_type(org, api):
    kind = CustomObjectType(org_id=org.id, name="vehicle", label="Vehicle", plural_label="Vehicles",
                            property_schema=[{"name": "seats", "type": "number"}])  # fmt: skip
    db.session.add(kind)
    db.session.commit()
    small, big = (
        CustomRecord(org_id=org.id, type_id=kind.id, properties={"seats": n}) for n in (2, 9)
    )
    db.session.add_all([small, big])
    db.session.commit()
    criteria = {"and": [{"field": "seats", "op": "gte", "value": 5}]}
    view = _create(api, record_type="custom", custom_type_id=kind.id, criteria=criteria)
    items = api.get(f"/api/views/{view['id']}/records").json["items"]
    assert [(r["id"], r["type_id"], r["properties"]) for r in items] == [
        (big.id, kind.id, {"seats": 9})
    ]
    body = {"criteria": criteria, "custom_type_id": kind.id}
    assert [r["id"] for r in api.post("/api/search/custom", json=body).json["items"]] == [big.id]
    other_type = CustomObjectType(org_id=make_org().id, name="boat", label="Boat",
                                  plural_label="Boats", property_schema=[])  # fmt: skip
    db.session.add(other_type)
    db.session.commit()
    body = {"criteria": {"and": []}, "custom_type_id": other_type.id}
    response = api.post("/api/search/custom", json=body)
    assert response.status_code == 404 and response.json["error"]["field"] == "custom_type_id"


def test_openapi_documents_views_search_and_lookup(client):
    spec = client.get("/api/openapi.json").json
    paths = ["/api/views", "/api/views/{view_id}", "/api/views/{view_id}/records",
             "/api/views/{view_id}/count", "/api/search/{record_type}", "/api/lookup"]  # fmt: skip
    for path in paths:
        assert path in spec["paths"], path
    lookup = spec["paths"]["/api/lookup"]["post"]
    assert lookup["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LookupOut"
    }
    assert "LookupIn" in spec["components"]["schemas"]
