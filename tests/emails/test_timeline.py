"""A record's timeline (REC-6, LOG-9): sources merged newest first, cursor pages, a company with
its contacts' emails, pinned first, deleted hidden, another org's record 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.emails.service import log_email
from server.emails.timeline_sources import TIMELINE_SOURCES, TimelineEntry, register_timeline_source
from tests.factories import ApiClient, make_company, make_contact, make_deal, make_org, make_user

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def world():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    company = make_company(org, domains=["customer.test"])
    bob = make_contact(org, "bob@customer.test", company=company)
    carol = make_contact(org, "carol@customer.test", company=company)
    return org, alice, company, bob, carol


def logged(user, to: list[str], n: int, at: datetime, associations=None, subject=None):
    email = {
        "message_id": f"<m{n}@acme.test>",
        "subject": subject or f"Mail {n}",
        "from": {"email": user.email, "name": ""},
        "to": [{"email": a, "name": ""} for a in to],
        "sent_at": at,
        "text": f"Body {n}",
    }
    return log_email(user, structured=email, associations=associations).email


def page(api, path: str, **query):
    response = api.get(path, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def test_contact_timeline_newest_first(app, client):
    org, alice, company, bob, carol = world()
    for n in range(3):
        logged(alice, ["bob@customer.test"], n, T0 + timedelta(hours=n))
    body = page(ApiClient(client, alice), f"/api/records/contact/{bob.id}/timeline")
    assert [i["data"]["subject"] for i in body["items"]] == ["Mail 2", "Mail 1", "Mail 0"]
    assert body["next_cursor"] is None
    assert all(i["kind"] == "email" and not i["pinned"] for i in body["items"])


def test_company_timeline_includes_its_contacts_emails_once_each(app, client):
    org, alice, company, bob, carol = world()
    logged(alice, ["bob@customer.test"], 1, T0)
    logged(alice, ["carol@customer.test"], 2, T0 + timedelta(minutes=1))
    # associated with the company and both contacts: still one entry
    logged(alice, ["bob@customer.test", "carol@customer.test"], 3, T0 + timedelta(minutes=2))
    other = make_contact(org, "dan@elsewhere.test")
    logged(alice, ["dan@elsewhere.test"], 4, T0 + timedelta(minutes=3))
    body = page(ApiClient(client, alice), f"/api/records/company/{company.id}/timeline")
    assert [i["data"]["subject"] for i in body["items"]] == ["Mail 3", "Mail 2", "Mail 1"]
    # a contact associated (not primary) with the company counts too
    dan_only = logged(alice, ["dan@elsewhere.test"], 5, T0 + timedelta(minutes=4),
                      associations=[{"type": "contact", "id": other.id}])  # fmt: skip
    from tests.factories import associate

    associate(org, company, other)
    body = page(ApiClient(client, alice), f"/api/records/company/{company.id}/timeline")
    assert body["items"][0]["data"]["id"] == dan_only.id


def test_pagination_over_several_pages_with_ties_in_time(app, client, count_queries):
    org, alice, company, bob, carol = world()
    ids = [logged(alice, ["bob@customer.test"], n, T0 + timedelta(minutes=n // 3)).id
           for n in range(11)]  # fmt: skip
    api = ApiClient(client, alice)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        count_queries.clear()
        body = page(api, f"/api/records/company/{company.id}/timeline", limit=3,
                    **({"cursor": cursor} if cursor else {}))  # fmt: skip
        assert len(count_queries) <= 12, count_queries  # bounded, whatever the page size
        seen += [i["data"]["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    expected = sorted(ids, key=lambda i: ((i - ids[0]) // 3, i), reverse=True)
    assert seen == expected  # newest first, ties by id, none repeated or skipped


def test_query_count_does_not_grow_with_the_page(app, client, count_queries):
    org, alice, company, bob, carol = world()
    for n in range(30):
        logged(alice, ["bob@customer.test"], n, T0 + timedelta(minutes=n))
    api = ApiClient(client, alice)
    count_queries.clear()
    page(api, f"/api/records/company/{company.id}/timeline", limit=2)
    small = len(count_queries)
    count_queries.clear()
    page(api, f"/api/records/company/{company.id}/timeline", limit=30)
    assert len(count_queries) <= small  # (the first call also notes the token as used)


def test_other_sources_are_merged_in_time_order(app, client):
    org, alice, company, bob, carol = world()
    logged(alice, ["bob@customer.test"], 1, T0)
    logged(alice, ["bob@customer.test"], 2, T0 + timedelta(hours=2))
    calls = []

    def notes(org_id, records, before, limit):
        calls.append(records)
        entries = [
            TimelineEntry("note", T0 + timedelta(hours=h), f"note:{h}", {"text": f"note {h}"})
            for h in (1, 3)
        ]
        entries = [e for e in entries if before is None or (e.at, e.key) < before]
        return sorted(entries, key=lambda e: (e.at, e.key), reverse=True)[:limit]

    register_timeline_source(notes)
    try:
        api = ApiClient(client, alice)
        first = page(api, f"/api/records/contact/{bob.id}/timeline", limit=2)
        second = page(api, f"/api/records/contact/{bob.id}/timeline", limit=2,
                      cursor=first["next_cursor"])  # fmt: skip
    finally:
        TIMELINE_SOURCES.remove(notes)
    kinds = [(i["kind"], i["data"].get("subject") or i["data"].get("text"))
             for i in first["items"] + second["items"]]  # fmt: skip
    assert kinds == [("note", "note 3"), ("email", "Mail 2"), ("note", "note 1"),
                     ("email", "Mail 1")]  # fmt: skip
    assert second["next_cursor"] is None
    assert calls[0] == [("contact", bob.id)]


def test_pinned_first_on_the_first_page_only_and_deleted_hidden(app, client):
    org, alice, company, bob, carol = world()
    old = logged(alice, ["bob@customer.test"], 1, T0)
    logged(alice, ["bob@customer.test"], 2, T0 + timedelta(hours=1))
    gone = logged(alice, ["bob@customer.test"], 3, T0 + timedelta(hours=2))
    api = ApiClient(client, alice)
    assert api.post(f"/api/emails/{old.id}/pin").status_code == 200
    assert api.delete(f"/api/emails/{gone.id}").status_code == 204
    first = page(api, f"/api/records/contact/{bob.id}/timeline", limit=1)
    assert [(i["data"]["id"], i["pinned"]) for i in first["items"]] == [
        (old.id, True),
        (gone.id - 1, False),
    ]
    assert first["next_cursor"] is None  # the pinned one is not repeated in the dated stream
    assert api.delete(f"/api/emails/{old.id}/pin").status_code == 200
    again = page(api, f"/api/records/contact/{bob.id}/timeline")
    assert [i["data"]["id"] for i in again["items"]] == [gone.id - 1, old.id]


def test_another_orgs_record_is_404_and_unknown_type_too(app, client):
    org, alice, company, bob, carol = world()
    theirs = make_contact(make_org(), "x@other.test")
    api = ApiClient(client, alice)
    assert api.get(f"/api/records/contact/{theirs.id}/timeline").status_code == 404
    assert api.get(f"/api/records/planet/{bob.id}/timeline").status_code == 404
    deal = make_deal(org)
    assert page(api, f"/api/records/deal/{deal.id}/timeline")["items"] == []


@pytest.mark.parametrize("cursor", ["nope", "W10", "WyIyMDI2LTAxLTAxIiwgIngiXQ", "e30"])
def test_a_bad_cursor_is_a_400_on_cursor(app, client, cursor):
    org, alice, company, bob, carol = world()
    response = ApiClient(client, alice).get(
        f"/api/records/contact/{bob.id}/timeline", query_string={"cursor": cursor}
    )
    assert response.status_code == 400
    assert response.json["error"]["field"] == "cursor"


def test_a_custom_record_has_a_timeline_too(app, client):
    from server.extensions import db
    from server.records.models import CustomObjectType, CustomRecord

    org, alice, company, bob, carol = world()
    kind = CustomObjectType(org_id=org.id, name="vehicle", label="Vehicle",
                            plural_label="Vehicles", property_schema=[])  # fmt: skip
    db.session.add(kind)
    db.session.flush()
    car = CustomRecord(org_id=org.id, type_id=kind.id, properties={})
    db.session.add(car)
    db.session.commit()
    logged(alice, ["bob@customer.test"], 1, T0, associations=[{"type": "custom", "id": car.id}])
    body = page(ApiClient(client, alice), f"/api/records/custom/{car.id}/timeline")
    assert [i["data"]["subject"] for i in body["items"]] == ["Mail 1"]
