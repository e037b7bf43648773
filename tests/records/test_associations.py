"""Associations between any two records of one org (REC-2): canonical storage, idempotent
create, listing from either side with a type filter, delete, and the one-query helper."""

from __future__ import annotations

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
from sqlalchemy import select

from server.extensions import db
from server.records.associations import associated_ids, create_association, list_associations
from server.records.models import Association, CustomObjectType, CustomRecord


def _rep(client):
    org = make_org()
    return org, ApiClient(client, make_user(org))


def _custom_record(org, label="Vehicle") -> CustomRecord:
    object_type = CustomObjectType(
        org_id=org.id,
        name=label.lower(),
        label=label,
        plural_label=f"{label}s",
        property_schema=[{"name": "plate", "label": "Plate", "type": "text", "required": False}],
        display_property="plate",
    )
    db.session.add(object_type)
    db.session.flush()
    record = CustomRecord(org_id=org.id, type_id=object_type.id, properties={"plate": "AB-1"})
    db.session.add(record)
    db.session.commit()
    return record


def _link(rep, a, b):
    return rep.post("/api/associations", json={"a": a, "b": b})


def test_create_stores_the_pair_once_in_canonical_order(client):
    org, rep = _rep(client)
    contact, deal = make_contact(org), make_deal(org)
    response = _link(rep, {"type": "deal", "id": deal.id}, {"type": "contact", "id": contact.id})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["a"] == {"type": "contact", "id": contact.id}
    assert body["b"] == {"type": "deal", "id": deal.id}
    assert body["created_at"] and body["created_by_id"] == rep.user.id
    # the same pair again, in either order: 200 with the existing association
    again = _link(rep, {"type": "contact", "id": contact.id}, {"type": "deal", "id": deal.id})
    assert again.status_code == 200 and again.json["id"] == body["id"]
    assert len(db.session.scalars(select(Association)).all()) == 1


def test_any_types_including_custom_and_same_type(client):
    org, rep = _rep(client)
    contact, other, company = make_contact(org), make_contact(org), make_company(org)
    ticket, record = make_ticket(org), _custom_record(org)
    pairs = [
        ({"type": "custom", "id": record.id}, {"type": "company", "id": company.id}),
        ({"type": "contact", "id": other.id}, {"type": "contact", "id": contact.id}),
        ({"type": "ticket", "id": ticket.id}, {"type": "contact", "id": contact.id}),
        ({"type": "custom", "id": record.id}, {"type": "contact", "id": contact.id}),
    ]
    for a, b in pairs:
        assert _link(rep, a, b).status_code == 201
    items = rep.get(f"/api/contacts/{contact.id}/associations").json["items"]
    assert [(i["type"], i["id"]) for i in items] == [
        ("custom", record.id),
        ("ticket", ticket.id),
        ("contact", other.id),
    ]
    assert items[0]["display_name"] == "AB-1" and items[0]["custom_type_id"] == record.type_id
    # from the other side of the same-type pair, and from the custom record
    items = rep.get(f"/api/contacts/{other.id}/associations").json["items"]
    assert [(i["type"], i["id"]) for i in items] == [("contact", contact.id)]
    url = f"/api/custom-types/{record.type_id}/records/{record.id}/associations"
    items = rep.get(url, query_string={"type": "company"}).json["items"]
    assert [(i["type"], i["id"], i["display_name"]) for i in items] == [
        ("company", company.id, company.name)
    ]


def test_list_filters_by_type_and_pages(client):
    org, rep = _rep(client)
    company = make_company(org)
    contacts = [make_contact(org, company=company) for _ in range(5)]
    associate(org, company, make_deal(org))
    url = f"/api/companies/{company.id}/associations"
    first = rep.get(url, query_string={"type": "contact", "limit": 3}).json
    second = rep.get(
        url, query_string={"type": "contact", "limit": 3, "cursor": first["next_cursor"]}
    ).json
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert ids == [c.id for c in reversed(contacts)] and second["next_cursor"] is None
    deals = rep.get(url, query_string={"type": "deal"}).json["items"]
    assert [i["type"] for i in deals] == ["deal"]
    response = rep.get(url, query_string={"type": "planet"})
    assert response.status_code == 422 and response.json["error"]["field"] == "type"


def test_records_of_another_org_are_404_and_self_association_422(client):
    org, rep = _rep(client)
    mine = make_contact(org)
    foreign = make_deal(make_org())
    response = _link(rep, {"type": "contact", "id": mine.id}, {"type": "deal", "id": foreign.id})
    assert response.status_code == 404 and response.json["error"]["field"] == "b"
    response = _link(rep, {"type": "deal", "id": foreign.id}, {"type": "contact", "id": mine.id})
    assert response.status_code == 404 and response.json["error"]["field"] == "a"
    response = _link(rep, {"type": "contact", "id": mine.id}, {"type": "contact", "id": mine.id})
    assert response.status_code == 422
    response = _link(rep, {"type": "planet", "id": 1}, {"type": "contact", "id": mine.id})
    assert response.status_code == 422 and response.json["error"]["field"] == "a.type"
    assert db.session.scalars(select(Association)).all() == []


def test_delete_association(client):
    org, rep = _rep(client)
    row = associate(org, make_contact(org), make_deal(org))
    foreign = associate(other := make_org(), make_contact(other), make_deal(other))
    assert rep.delete(f"/api/associations/{foreign.id}").status_code == 404
    assert rep.delete(f"/api/associations/{row.id}").status_code == 204
    assert rep.delete(f"/api/associations/{row.id}").status_code == 404
    assert db.session.scalars(select(Association.id)).all() == [foreign.id]


def test_associated_ids_in_one_query_from_either_side(app, count_queries):
    org = make_org()
    c1, c2, c3 = make_contact(org), make_contact(org), make_contact(org)
    d1, d2 = make_deal(org), make_deal(org)
    company = make_company(org)
    for left, right in [(c1, d1), (c1, d2), (c2, d2), (c1, c2), (c3, c1), (company, c3)]:
        associate(org, left, right)
    other = make_org()
    associate(other, make_contact(other), make_deal(other))
    # plain ids, so that reading them is no query
    org_id, company_id = org.id, company.id
    c1, c2, c3, d1, d2 = (record.id for record in (c1, c2, c3, d1, d2))
    count_queries.clear()
    assert associated_ids(org_id, "contact", [c1, c2, c3], "deal") == {
        c1: [d1, d2],
        c2: [d2],
        c3: [],
    }
    assert len(count_queries) == 1
    count_queries.clear()
    assert associated_ids(org_id, "deal", [d2], "contact") == {d2: [c1, c2]}
    assert associated_ids(org_id, "contact", [c1, c3], "contact") == {c1: [c2, c3], c3: [c1]}
    assert associated_ids(org_id, "contact", [c3], "company") == {c3: [company_id]}
    assert len(count_queries) == 3
    assert associated_ids(org_id, "contact", [], "deal") == {}


def test_service_functions(app):
    org = make_org()
    user = make_user(org)
    contact, ticket = make_contact(org), make_ticket(org)
    row, created = create_association(user, "ticket", ticket.id, "contact", contact.id)
    assert created and (row.a_type, row.b_type) == ("contact", "ticket")
    again, created = create_association(user, "contact", contact.id, "ticket", ticket.id)
    assert not created and again.id == row.id
    page = list_associations(org.id, "ticket", ticket.id)
    assert [(i.type, i.id, i.display_name) for i in page.items] == [
        ("contact", contact.id, contact.display_name)
    ]
