"""Contacts over HTTP and through the service (REC-1, REC-3): several addresses with one primary,
case-insensitive uniqueness per org, validation, search, cursor pagination, delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_user,
)
from sqlalchemy import func, select

from server.clock import utcnow
from server.errors import BadRequest
from server.extensions import db
from server.records import service
from server.records.models import Association, Contact, ContactEmail
from server.records.pagination import encode_cursor, paginate


def _rep(client, org=None):
    org = org or make_org()
    return org, ApiClient(client, make_user(org))


def test_create_contact_with_several_addresses_first_is_primary(client):
    org, rep = _rep(client)
    response = rep.post(
        "/api/contacts",
        json={
            "emails": ["Ann.Lee@Example.com", "ann@home.example.org"],
            "first_name": "Ann",
            "last_name": "Lee",
            "lifecycle_stage": "lead",
            "is_marketing": False,
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["primary_email"] == "Ann.Lee@Example.com"
    assert body["emails"] == [
        {"email": "Ann.Lee@Example.com", "is_primary": True},
        {"email": "ann@home.example.org", "is_primary": False},
    ]
    assert body["owner_id"] == rep.user.id  # the owner defaults to the caller
    assert body["lifecycle_stage"] == "lead" and body["is_marketing"] is False
    assert body["display_name"] == "Ann Lee"
    stored = db.session.scalars(select(ContactEmail.email_normalized)).all()
    assert sorted(stored) == ["ann.lee@example.com", "ann@home.example.org"]


def test_primary_email_can_be_any_of_the_addresses(client):
    _, rep = _rep(client)
    body = rep.post(
        "/api/contacts",
        json={"emails": ["a@example.com", "b@example.com"], "primary_email": "B@example.com"},
    ).json
    assert body["primary_email"] == "b@example.com"
    bad = rep.post(
        "/api/contacts", json={"emails": ["a@example.com"], "primary_email": "z@example.com"}
    )
    assert bad.status_code == 422 and bad.json["error"]["field"] == "primary_email"


def test_address_taken_in_the_org_ignoring_case_is_409_naming_address_and_contact(client):
    org, rep = _rep(client)
    existing = make_contact(org, emails=["bob@example.com"])
    response = rep.post("/api/contacts", json={"emails": ["new@example.com", "BOB@Example.COM"]})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["field"] == "emails"
    assert error["contact_id"] == existing.id and error["email"] == "bob@example.com"
    assert "bob@example.com" in error["message"] and str(existing.id) in error["message"]
    # nothing half-created
    assert db.session.scalar(select(func.count()).select_from(ContactEmail)) == 1


def test_the_same_address_may_exist_in_another_org(client):
    make_contact(make_org(), emails=["shared@example.com"])
    _, rep = _rep(client)
    assert rep.post("/api/contacts", json={"emails": ["Shared@example.com"]}).status_code == 201


def test_addresses_are_validated_without_dns(client):
    _, rep = _rep(client)
    for bad in ["not-an-address", "a@b", "two@@example.com", " "]:
        response = rep.post("/api/contacts", json={"emails": [bad]})
        assert response.status_code == 422, bad
        assert response.json["error"]["field"].startswith("emails"), bad
    assert rep.post("/api/contacts", json={"emails": []}).json["error"]["field"] == "emails"
    assert rep.post("/api/contacts", json={"first_name": "X"}).json["error"]["field"] == "emails"


def test_lifecycle_stage_owner_and_company_are_checked(client):
    org, rep = _rep(client)
    other = make_org()
    stranger, foreign_company = make_user(other), make_company(other)
    cases = [
        ({"lifecycle_stage": "hot"}, "lifecycle_stage"),
        ({"owner_id": stranger.id}, "owner_id"),
        ({"primary_company_id": foreign_company.id}, "primary_company_id"),
    ]
    for extra, field in cases:
        response = rep.post("/api/contacts", json={"emails": ["x@example.com"], **extra})
        assert response.status_code == 422 and response.json["error"]["field"] == field
    colleague = make_user(org)
    body = rep.post(
        "/api/contacts", json={"emails": ["x@example.com"], "owner_id": colleague.id}
    ).json
    assert body["owner_id"] == colleague.id


def test_primary_company_is_also_associated(client):
    org, rep = _rep(client)
    company = make_company(org)
    body = rep.post(
        "/api/contacts", json={"emails": ["c@example.com"], "primary_company_id": company.id}
    ).json
    assert body["primary_company_id"] == company.id
    row = db.session.scalar(select(Association))
    assert (row.a_type, row.a_id, row.b_type, row.b_id) == (
        "company",
        company.id,
        "contact",
        body["id"],
    )
    # setting it again does not duplicate the association
    rep.patch(f"/api/contacts/{body['id']}", json={"primary_company_id": company.id})
    assert db.session.scalar(select(func.count()).select_from(Association)) == 1


def test_patch_adds_removes_and_switches_primary_address(client):
    org, rep = _rep(client)
    contact = make_contact(org, emails=["one@example.com", "two@example.com"])
    url = f"/api/contacts/{contact.id}"
    body = rep.patch(
        url, json={"add_emails": ["Three@example.com"], "primary_email": "three@example.com"}
    ).json
    assert body["primary_email"] == "Three@example.com"
    assert [e["email"] for e in body["emails"]][1:] == ["one@example.com", "two@example.com"]
    body = rep.patch(url, json={"remove_emails": ["THREE@example.com"]}).json
    assert len(body["emails"]) == 2 and body["primary_email"] in {
        "one@example.com",
        "two@example.com",
    }
    assert sum(e["is_primary"] for e in body["emails"]) == 1
    # replacing the list keeps an address whose case changes, and its row
    row_id = db.session.scalar(
        select(ContactEmail.id).where(ContactEmail.email == "two@example.com")
    )
    body = rep.patch(url, json={"emails": ["TWO@example.com"]}).json
    assert body["emails"] == [{"email": "TWO@example.com", "is_primary": True}]
    assert db.session.scalar(select(ContactEmail.id)) == row_id


def test_the_last_address_cannot_be_removed_and_unknown_ones_are_refused(client):
    org, rep = _rep(client)
    contact = make_contact(org, emails=["only@example.com"])
    url = f"/api/contacts/{contact.id}"
    response = rep.patch(url, json={"remove_emails": ["only@example.com"]})
    assert response.status_code == 422 and response.json["error"]["field"] == "emails"
    response = rep.patch(url, json={"remove_emails": ["nobody@example.com"]})
    assert response.status_code == 422 and response.json["error"]["field"] == "remove_emails"


def test_adding_an_address_of_another_contact_is_409(client):
    org, rep = _rep(client)
    first = make_contact(org, emails=["first@example.com"])
    second = make_contact(org, emails=["second@example.com"])
    response = rep.patch(f"/api/contacts/{second.id}", json={"add_emails": ["FIRST@example.com"]})
    assert response.status_code == 409 and response.json["error"]["contact_id"] == first.id


def test_a_refused_change_leaves_nothing_behind(client):
    org, rep = _rep(client)
    make_contact(org, emails=["taken@example.com"])
    contact = make_contact(org, emails=["mine@example.com"], first_name="Before")
    url = f"/api/contacts/{contact.id}"
    response = rep.patch(url, json={"first_name": "After", "add_emails": ["taken@example.com"]})
    assert response.status_code == 409
    response = rep.patch(url, json={"first_name": "After", "owner_id": 999999})
    assert response.status_code == 422
    assert rep.get(url).json["first_name"] == "Before"
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).first_name == "Before"


def test_update_touches_updated_at_even_when_only_addresses_change(client):
    org, rep = _rep(client)
    contact = make_contact(org, emails=["t@example.com"])
    before = contact.updated_at
    with time_machine.travel(utcnow() + timedelta(hours=1)):
        body = rep.patch(f"/api/contacts/{contact.id}", json={"add_emails": ["u@example.com"]}).json
    db.session.expire_all()
    assert db.session.get(type(contact), contact.id).updated_at > before
    assert body["updated_at"] != body["created_at"]


def test_search_by_part_of_name_or_start_of_any_address(client):
    org, rep = _rep(client)
    ann = make_contact(
        org,
        emails=["ann@acme.example.com", "Boss@Work.example.com"],
        first_name="Ann",
        last_name="Lee",
    )
    make_contact(org, emails=["zed@example.com"], first_name="Zed", last_name="100%")

    def ids(q):
        return [c["id"] for c in rep.get("/api/contacts", query_string={"q": q}).json["items"]]

    assert ids("ann lee") == [ann.id]
    assert ids("LEE") == [ann.id]
    assert ids("boss@w") == [ann.id]  # a second address, any case
    assert ids("ork.example") == []  # addresses match from the start only
    assert ids("work.example") == [ann.id]  # or from the start of their domain (a domain query)
    assert len(ids("0%")) == 1 and ids("%") == ids("0%")  # LIKE wildcards are plain text


def test_list_pages_with_an_opaque_cursor_and_filters_by_owner(client):
    org, rep = _rep(client)
    other_owner = make_user(org)
    made = [make_contact(org, owner=rep.user if i % 2 else other_owner).id for i in range(7)]
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = rep.get("/api/contacts", query_string=query).json
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)
    mine = rep.get("/api/contacts", query_string={"owner_id": rep.user.id}).json["items"]
    assert {c["id"] for c in mine} == set(made[1::2])


def test_bad_cursor_is_400_and_bad_limit_is_422(client):
    _, rep = _rep(client)
    for cursor in ["%%%", "bm90IGpzb24", "WyJ4Il0x", "WyJ4Il0", "WzEuNV0", "WzEsMl0", "e30"]:
        response = rep.get("/api/contacts", query_string={"cursor": cursor})
        assert response.status_code == 400 and response.json["error"]["field"] == "cursor"
    for limit in (0, 201):
        response = rep.get("/api/contacts", query_string={"limit": limit})
        assert response.status_code == 422 and response.json["error"]["field"] == "limit"


def test_pages_can_be_keyed_by_time_then_id(app):
    org = make_org()
    with time_machine.travel(utcnow(), tick=False):  # equal times: the id breaks the tie
        made = [make_contact(org).id for _ in range(3)]
    later = make_contact(org).id
    stmt = select(Contact).where(Contact.org_id == org.id)
    key = [Contact.created_at, Contact.id]
    seen, cursor = [], None
    while True:
        page = paginate(stmt, key, cursor, limit=2)
        seen += [c.id for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [later, *reversed(made)]
    bad = encode_cursor(["not a time", 1])
    with pytest.raises(BadRequest):
        paginate(stmt, key, bad)


def test_list_runs_a_fixed_number_of_queries(client, count_queries):
    org, rep = _rep(client)
    for i in range(3):
        make_contact(org, emails=[f"a{i}@example.com", f"b{i}@example.com"])
    rep.get("/api/contacts")  # the token's first use is noted once
    count_queries.clear()
    rep.get("/api/contacts")
    few = len(count_queries)
    for i in range(10):
        make_contact(org, emails=[f"more{i}@example.com", f"extra{i}@example.com"])
    count_queries.clear()
    assert len(rep.get("/api/contacts").json["items"]) == 13
    assert len(count_queries) == few


def test_delete_removes_addresses_and_associations(client):
    org, rep = _rep(client)
    contact = make_contact(org, emails=["gone@example.com"], company=make_company(org))
    associate(org, contact, make_deal(org))
    assert rep.delete(f"/api/contacts/{contact.id}").status_code == 204
    assert rep.get(f"/api/contacts/{contact.id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Association)) == 0
    assert db.session.scalar(select(func.count()).select_from(ContactEmail)) == 0
    # the address is free again
    assert rep.post("/api/contacts", json={"emails": ["gone@example.com"]}).status_code == 201


def test_another_orgs_contact_is_not_found(client):
    _, rep = _rep(client)
    foreign = make_contact(make_org())
    for method in ("get", "patch", "delete"):
        response = getattr(rep, method)(f"/api/contacts/{foreign.id}", json={})
        assert response.status_code == 404 and response.json["error"]["field"] == "contact_id"


def test_requests_without_credentials_are_401(client):
    assert client.get("/api/contacts").status_code == 401


def test_service_functions_take_plain_values(app):
    org = make_org()
    user = make_user(org)
    contact = service.create_contact(user, {"emails": ["svc@example.com"], "first_name": "Svc"})
    assert service.get_contact(org.id, contact.id).primary_email == "svc@example.com"
    service.add_contact_email(user, contact.id, "svc2@example.com", primary=True)
    assert service.get_contact(org.id, contact.id).primary_email == "svc2@example.com"
    service.remove_contact_email(user, contact.id, "svc2@example.com")
    page = service.list_records(org.id, "contact", q="svc")
    assert [c.id for c in page.items] == [contact.id] and page.next_cursor is None
    service.delete_contact(user, contact.id)
    assert service.list_records(org.id, "contact").items == []
