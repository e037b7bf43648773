"""Custom object types and their records (REC-1): the property schema is validated, values are
checked on every write and a failure names "properties.<name>"; search, pagination, delete."""

from __future__ import annotations

import pytest
from factories import ApiClient, associate, make_contact, make_org, make_user
from sqlalchemy import func, select

from server.extensions import db
from server.records import custom_types
from server.records.models import Association, CustomRecord

VEHICLE = {
    "name": "vehicle",
    "label": "Vehicle",
    "property_schema": [
        {"name": "plate", "label": "Plate", "type": "text", "required": True},
        {"name": "seats", "type": "number"},
        {"name": "bought_on", "type": "date"},
        {"name": "serviced_at", "type": "datetime"},
        {"name": "electric", "type": "bool"},
        {"name": "fuel", "type": "enum", "options": ["petrol", "diesel", "none"]},
        {"name": "keeper_email", "type": "email"},
    ],
}


@pytest.fixture
def admin(client):
    return ApiClient(client, make_user(make_org(), role="admin"))


def _vehicle_type(admin) -> dict:
    response = admin.post("/api/custom-types", json=VEHICLE)
    assert response.status_code == 201, response.json
    return response.json


def test_admin_defines_a_type_with_defaults(admin):
    body = _vehicle_type(admin)
    assert body["name"] == "vehicle" and body["plural_label"] == "Vehicles"
    assert body["display_property"] == "plate"
    assert body["property_schema"][1] == {
        "name": "seats",
        "label": "Seats",
        "type": "number",
        "required": False,
        "options": None,
    }
    listed = admin.get("/api/custom-types").json["items"]
    assert [t["id"] for t in listed] == [body["id"]]


def test_reps_cannot_define_types(client, admin):
    rep = ApiClient(client, make_user(admin.user.org, role="rep"))
    assert rep.post("/api/custom-types", json=VEHICLE).status_code == 403
    type_id = _vehicle_type(admin)["id"]
    assert rep.patch(f"/api/custom-types/{type_id}", json={"label": "Car"}).status_code == 403
    assert rep.delete(f"/api/custom-types/{type_id}").status_code == 403
    assert rep.get(f"/api/custom-types/{type_id}").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Vehicle!"}, "name"),
        ({"name": "contact"}, "name"),
        ({"property_schema": [{"name": "x", "type": "color"}]}, "property_schema.0.type"),
        ({"property_schema": [{"name": "x", "type": "enum"}]}, "property_schema.0.options"),
        (
            {"property_schema": [{"name": "x", "type": "enum", "options": ["a", "a"]}]},
            "property_schema.0.options",
        ),
        (
            {"property_schema": [{"name": "x", "type": "text", "options": ["a"]}]},
            "property_schema.0.options",
        ),
        (
            {"property_schema": [{"name": "x", "type": "text"}, {"name": "x", "type": "bool"}]},
            "property_schema.1.name",
        ),
        ({"property_schema": [{"name": "Bad Name", "type": "text"}]}, "property_schema.0.name"),
        ({"display_property": "nope"}, "display_property"),
    ],
)
def test_property_schema_is_validated(admin, change, field):
    response = admin.post("/api/custom-types", json={**VEHICLE, **change})
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field


def test_type_names_are_unique_in_the_org(admin, client):
    _vehicle_type(admin)
    response = admin.post("/api/custom-types", json=VEHICLE)
    assert response.status_code == 409 and response.json["error"]["field"] == "name"
    other = ApiClient(client, make_user(make_org(), role="admin"))
    assert other.post("/api/custom-types", json=VEHICLE).status_code == 201


def test_valid_values_are_stored_normalized(admin):
    type_id = _vehicle_type(admin)["id"]
    response = admin.post(
        f"/api/custom-types/{type_id}/records",
        json={
            "properties": {
                "plate": "AB-123",
                "seats": 5,
                "bought_on": "2024-02-29",
                "serviced_at": "2025-06-01T10:00:00+02:00",
                "electric": False,
                "fuel": "none",
                "keeper_email": "Keeper@Example.com",
            }
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["display_name"] == "AB-123" and body["type_id"] == type_id
    assert body["properties"]["serviced_at"] == "2025-06-01T08:00:00+00:00"
    assert body["properties"]["electric"] is False and body["owner_id"] == admin.user.id


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"plate": 123}, "properties.plate"),
        ({"plate": "X", "seats": "5"}, "properties.seats"),
        ({"plate": "X", "seats": True}, "properties.seats"),
        ({"plate": "X", "electric": "yes"}, "properties.electric"),
        ({"plate": "X", "fuel": "coal"}, "properties.fuel"),
        ({"plate": "X", "keeper_email": "not-an-email"}, "properties.keeper_email"),
        ({"plate": "X", "bought_on": "2024-02-30"}, "properties.bought_on"),
        ({"plate": "X", "bought_on": "20240201"}, "properties.bought_on"),
        ({"plate": "X", "serviced_at": "2025-06-01T10:00:00"}, "properties.serviced_at"),
        ({"plate": "X", "serviced_at": "soon"}, "properties.serviced_at"),
        ({"plate": "X", "colour": "red"}, "properties.colour"),
        ({"seats": 2}, "properties.plate"),
        ({"plate": ""}, "properties.plate"),
    ],
)
def test_wrong_values_are_422_naming_the_property(admin, values, field):
    type_id = _vehicle_type(admin)["id"]
    response = admin.post(f"/api/custom-types/{type_id}/records", json={"properties": values})
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field
    assert db.session.scalar(select(func.count()).select_from(CustomRecord)) == 0


def test_patch_merges_values_null_unsets_and_required_stays(admin):
    type_id = _vehicle_type(admin)["id"]
    url = f"/api/custom-types/{type_id}/records"
    record = admin.post(url, json={"properties": {"plate": "P1", "seats": 4}}).json
    body = admin.patch(
        f"{url}/{record['id']}", json={"properties": {"fuel": "diesel", "seats": None}}
    ).json
    assert body["properties"] == {"plate": "P1", "fuel": "diesel"}
    response = admin.patch(f"{url}/{record['id']}", json={"properties": {"plate": None}})
    assert response.status_code == 422 and response.json["error"]["field"] == "properties.plate"


def test_schema_change_drops_removed_property_on_next_write(admin):
    type_id = _vehicle_type(admin)["id"]
    url = f"/api/custom-types/{type_id}/records"
    record = admin.post(url, json={"properties": {"plate": "P1", "fuel": "none"}}).json
    schema = [p for p in VEHICLE["property_schema"] if p["name"] != "fuel"]
    body = admin.patch(f"/api/custom-types/{type_id}", json={"property_schema": schema}).json
    assert "fuel" not in [p["name"] for p in body["property_schema"]]
    body = admin.patch(f"{url}/{record['id']}", json={"properties": {"seats": 2}}).json
    assert body["properties"] == {"plate": "P1", "seats": 2}


def test_search_by_display_property_and_pages(admin):
    type_id = _vehicle_type(admin)["id"]
    url = f"/api/custom-types/{type_id}/records"
    for plate in ["AB-1", "AB-2", "CD-3", "ab-4"]:
        admin.post(url, json={"properties": {"plate": plate}})
    found = admin.get(url, query_string={"q": "ab-"}).json["items"]
    assert sorted(r["display_name"] for r in found) == ["AB-1", "AB-2", "ab-4"]
    first = admin.get(url, query_string={"limit": 3}).json
    second = admin.get(url, query_string={"limit": 3, "cursor": first["next_cursor"]}).json
    assert [r["display_name"] for r in first["items"] + second["items"]] == [
        "ab-4",
        "CD-3",
        "AB-2",
        "AB-1",
    ]
    assert second["next_cursor"] is None


def test_record_is_found_only_under_its_own_type(admin):
    vehicle = _vehicle_type(admin)["id"]
    boat = admin.post("/api/custom-types", json={**VEHICLE, "name": "boat"}).json["id"]
    record = admin.post(
        f"/api/custom-types/{vehicle}/records", json={"properties": {"plate": "V"}}
    ).json
    response = admin.get(f"/api/custom-types/{boat}/records/{record['id']}")
    assert response.status_code == 404 and response.json["error"]["field"] == "record_id"


def test_deleting_a_type_deletes_its_records_and_their_associations(admin):
    org = admin.user.org
    type_id = _vehicle_type(admin)["id"]
    record_id = admin.post(
        f"/api/custom-types/{type_id}/records", json={"properties": {"plate": "Z"}}
    ).json["id"]
    associate(org, make_contact(org), db.session.get(CustomRecord, record_id))
    assert admin.delete(f"/api/custom-types/{type_id}").status_code == 204
    assert admin.get(f"/api/custom-types/{type_id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CustomRecord)) == 0
    assert db.session.scalar(select(func.count()).select_from(Association)) == 0


def test_deleting_a_record_deletes_its_associations(admin):
    org = admin.user.org
    type_id = _vehicle_type(admin)["id"]
    url = f"/api/custom-types/{type_id}/records"
    record_id = admin.post(url, json={"properties": {"plate": "Z"}}).json["id"]
    associate(org, make_contact(org), db.session.get(CustomRecord, record_id))
    assert admin.delete(f"{url}/{record_id}").status_code == 204
    assert admin.get(f"{url}/{record_id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Association)) == 0


def test_custom_service_functions(app):
    org = make_org()
    user = make_user(org, role="super_admin")
    object_type = custom_types.create_custom_type(user, VEHICLE)
    record = custom_types.create_custom_record(
        user, object_type.id, {"properties": {"plate": "S1"}}
    )
    custom_types.update_custom_record(user, object_type.id, record.id, {"properties": {"seats": 7}})
    stored = custom_types.get_custom_record(org.id, object_type.id, record.id)
    assert stored.properties == {"plate": "S1", "seats": 7}
    page = custom_types.list_custom_records(org.id, object_type.id, q="s1")
    assert [r.id for r in page.items] == [record.id]
    custom_types.delete_custom_record(user, object_type.id, record.id)
    custom_types.delete_custom_type(user, object_type.id)
    assert custom_types.list_custom_types(org.id) == []
