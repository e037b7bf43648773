"""The sidebar look-up (REC-3, LOG-4, Foundation #2 item 5): contacts with owner, company, first
three open deals and tickets for up to 50 addresses, in a fixed number of SQL statements."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.clock import utcnow
from server.extensions import db
from server.records.models import Association, Contact, ContactEmail, Deal, Ticket
from tests.factories import (
    ApiClient,
    associate,
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)

# One statement answers it all: the API token's check, the caller's org settings version, the
# contacts with owners, companies and addresses, the deals, tickets and company domains. The
# effective settings come from memory while the org's settings version is unchanged.
QUERIES_WITH_MATCHES = 1
QUERIES_WITHOUT_MATCHES = 1


@pytest.fixture
def org(app):
    return make_org()


@pytest.fixture
def rep(org):
    return make_user(org, name="Rita Rep")


@pytest.fixture
def api(client, rep):
    return ApiClient(client, rep)


def lookup(api, emails):
    response = api.post("/api/lookup", json={"emails": emails})
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def ann(org):
    """Ann: owned, with a company, two addresses, deals and tickets open and closed."""
    owner = make_user(org, name="Olga Owner", email="olga@liaison.test")
    acme = make_company(org, "Acme", domains=["acme.com", "acme.io"])
    contact = make_contact(org, ["Ann@Acme.com", "ann.private@mail.org"], owner=owner,
                           company=acme, first_name="Ann", last_name="Archer",
                           lifecycle_stage="customer", is_marketing=False)  # fmt: skip
    now = utcnow()
    deals = {}
    for key, days, closed in [("d_old", 10, False), ("d_null1", None, False),
                              ("d_new", 1, False), ("d_null2", None, False),
                              ("d_mid", 5, False), ("d_closed", 0, True)]:  # fmt: skip
        active = None if days is None else now - timedelta(days=days)
        deals[key] = make_deal(org, key, last_activity_at=active, is_closed=closed,
                               amount=1234.5 if key == "d_new" else None)  # fmt: skip
        associate(org, contact, deals[key])
    tickets = {}
    for key, days, closed in [("t_null1", None, False), ("t_a", 1, False),
                              ("t_null2", None, False), ("t_b", 2, False),
                              ("t_closed", 0, True)]:  # fmt: skip
        active = None if days is None else now - timedelta(days=days)
        tickets[key] = make_ticket(org, key, last_activity_at=active, is_closed=closed,
                                   priority="high")  # fmt: skip
        associate(org, contact, tickets[key])
    unrelated = make_deal(org, "not Ann's", last_activity_at=now)
    associate(org, make_contact(org, ["else@x.org"]), unrelated)
    return {"contact": contact, "owner": owner, "company": acme, "deals": deals,
            "tickets": tickets}  # fmt: skip


def test_contact_owner_company_and_top_three_open_records(api, ann):
    body = lookup(api, ["ann@ACME.com"])
    (result,) = body["results"]
    d, t = ann["deals"], ann["tickets"]
    assert result["email"] == "ann@ACME.com" and result["error"] is None
    assert result["contact"] == {
        "id": ann["contact"].id, "name": "Ann Archer", "first_name": "Ann", "last_name": "Archer",
        "primary_email": "Ann@Acme.com",
        "emails": [{"email": "Ann@Acme.com", "is_primary": True},
                   {"email": "ann.private@mail.org", "is_primary": False}],
        "lifecycle_stage": "customer", "is_marketing": False,
    }  # fmt: skip
    assert result["owner"] == {"id": ann["owner"].id, "name": "Olga Owner",
                               "email": "olga@liaison.test"}  # fmt: skip
    assert result["company"] == {"id": ann["company"].id, "name": "Acme",
                                 "domains": ["acme.com", "acme.io"]}  # fmt: skip
    # open only; last activity first; never-active last, newest of them first
    assert [x["id"] for x in result["deals"]] == [d["d_new"].id, d["d_mid"].id, d["d_old"].id]
    assert [x["id"] for x in result["tickets"]] == [t["t_a"].id, t["t_b"].id, t["t_null2"].id]
    first = result["deals"][0]
    assert first["name"] == "d_new" and first["amount"] == "1234.50" and first["currency"] == "EUR"
    assert first["last_activity_at"].startswith(str(utcnow().year)[:2])
    assert result["tickets"][0] == {
        "id": t["t_a"].id, "subject": "t_a", "status": "new", "priority": "high",
        "last_activity_at": result["tickets"][0]["last_activity_at"],
    }  # fmt: skip
    assert body["settings"]["log_by_default"] == {"value": True, "locked": False}
    assert body["settings"]["data_privacy"]["locked"] is True


def test_never_active_records_fill_up_to_three_newest_first(org, api, ann):
    d = ann["deals"]
    for key in ("d_new", "d_mid"):
        d[key].is_closed = True
    db.session.commit()
    result = lookup(api, ["ann@acme.com"])["results"][0]
    assert [x["id"] for x in result["deals"]] == [d["d_old"].id, d["d_null2"].id, d["d_null1"].id]


def test_addresses_fold_unknowns_are_null_and_invalid_ones_reported(org, api, ann):
    bob = make_contact(org, ["bob@beta.io"], first_name="", last_name="")
    asked = [" ANN.private@mail.org", "bob@beta.io", "ann.private@mail.org", "nobody@x.org",
             "not an address", "", "Bob@Beta.IO", "ann@acme.com"]  # fmt: skip
    results = lookup(api, asked)["results"]
    assert [r["email"] for r in results] == [
        "ANN.private@mail.org", "bob@beta.io", "nobody@x.org", "not an address", "",
        "ann@acme.com"]  # fmt: skip
    ann_private, bob_result, nobody, invalid, empty, ann_work = results
    assert ann_private["contact"]["id"] == ann_work["contact"]["id"] == ann["contact"].id
    assert len(ann_private["deals"]) == len(ann_work["deals"]) == 3
    assert ann_work["contact"]["emails"] == ann_private["contact"]["emails"]
    assert len(ann_work["contact"]["emails"]) == 2
    assert bob_result["contact"]["id"] == bob.id and bob_result["contact"]["name"] == "bob@beta.io"
    assert bob_result["owner"] is None and bob_result["company"] is None
    assert bob_result["deals"] == [] and bob_result["tickets"] == []
    assert nobody == {"email": "nobody@x.org", "error": None, "contact": None, "owner": None,
                      "company": None, "deals": [], "tickets": []}  # fmt: skip
    assert invalid["error"] and invalid["contact"] is None
    assert empty["error"] and empty["contact"] is None


def test_other_organizations_contacts_are_invisible(client, org, api, ann):
    stranger_org = make_org()
    stranger = make_contact(stranger_org, ["ann@acme.com", "only@stranger.org"])
    deal = make_deal(stranger_org, "theirs")
    associate(stranger_org, stranger, deal)
    results = lookup(api, ["ann@acme.com", "only@stranger.org"])["results"]
    assert results[0]["contact"]["id"] == ann["contact"].id
    assert ann["deals"]["d_new"].id in [x["id"] for x in results[0]["deals"]]
    assert deal.id not in [x["id"] for x in results[0]["deals"]]
    assert results[1]["contact"] is None
    theirs = ApiClient(client, make_user(stranger_org))
    assert lookup(theirs, ["ann@acme.com"])["results"][0]["contact"]["id"] == stranger.id


def test_more_than_fifty_addresses_is_refused(api):
    response = api.post("/api/lookup", json={"emails": [f"a{i}@x.org" for i in range(51)]})
    assert response.status_code == 422 and response.json["error"]["field"] == "emails"
    assert api.post("/api/lookup", json={"emails": []}).json["error"]["field"] == "emails"
    assert api.post("/api/lookup", json={}).json["error"]["field"] == "emails"
    assert len(lookup(api, [f"a{i}@x.org" for i in range(50)])["results"]) == 50


def test_lookup_needs_a_signed_in_user(client):
    assert client.post("/api/lookup", json={"emails": ["a@x.org"]}).status_code == 401


def _many_contacts(org, owner, count):
    """`count` contacts, each with a company, two open deals, a closed one and an open ticket."""
    companies = [make_company(org, f"Co {i}", domains=[f"co{i}.com"]) for i in range(5)]
    now = utcnow()
    contacts = []
    for i in range(count):
        contact = Contact(org_id=org.id, owner_id=owner.id, first_name=f"P{i}",
                          primary_company_id=companies[i % 5].id)  # fmt: skip
        address = f"p{i}@x.org"
        contact.emails.append(ContactEmail(org_id=org.id, email=address,
                                           email_normalized=address, is_primary=True))  # fmt: skip
        contacts.append(contact)
    records = [Deal(org_id=org.id, name=f"D{i}", last_activity_at=now, is_closed=i % 3 == 2)
               for i in range(3 * count)]  # fmt: skip
    records += [Ticket(org_id=org.id, subject=f"T{i}") for i in range(count)]
    db.session.add_all(contacts + records)
    db.session.flush()
    links = [Association(org_id=org.id, a_type="contact", a_id=contacts[i // 3].id,
                         b_type="deal", b_id=records[i].id) for i in range(3 * count)]  # fmt: skip
    links += [Association(org_id=org.id, a_type="contact", a_id=contacts[i].id, b_type="ticket",
                          b_id=records[3 * count + i].id) for i in range(count)]  # fmt: skip
    db.session.add_all(links)
    db.session.commit()
    return [f"p{i}@x.org" for i in range(count)]


def test_query_count_is_the_same_for_one_and_fifty_addresses(org, rep, api, count_queries):
    addresses = _many_contacts(org, rep, 50)
    lookup(api, ["warm.up@x.org"])  # the first call also reads the settings and notes the token
    count_queries.clear()
    one = lookup(api, addresses[:1])
    queries_for_one = len(count_queries)
    count_queries.clear()
    fifty = lookup(api, addresses)
    queries_for_fifty = len(count_queries)
    assert queries_for_one == queries_for_fifty == QUERIES_WITH_MATCHES
    assert len(one["results"]) == 1 and len(fifty["results"]) == 50
    for result in fifty["results"]:
        assert result["contact"] and result["owner"]["id"] == rep.id
        assert len(result["company"]["domains"]) == 1
        assert len(result["deals"]) == 2 and len(result["tickets"]) == 1
    count_queries.clear()
    lookup(api, ["nobody@x.org", "nobody.else@x.org"])
    assert len(count_queries) == QUERIES_WITHOUT_MATCHES
