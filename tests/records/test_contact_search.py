"""Contact search by domain and by "Last First" names (REC-1, REC-3): `q` also finds contacts
whose address or primary company's domain starts with a domain-like query, and contacts whose
first and last names start with the words of the query in either order."""

from __future__ import annotations

import pytest
from factories import ApiClient, make_company, make_contact, make_org, make_user

from server.extensions import db
from server.records import service


@pytest.fixture
def people(client):
    """An org with contacts at acme.com (by address or by company), elsewhere, and namesakes."""
    org = make_org()
    rep = ApiClient(client, make_user(org))
    acme = make_company(org, name="Acme Corporation", domains=["acme.com"])
    acme_io = make_company(org, name="Acme IO", domains=["acme.io"])
    ann = make_contact(org, emails=["ann.smith@acme.com"], first_name="Ann", last_name="Smith")
    # a private address, but her primary company is Acme: found by the company's domain
    bea = make_contact(
        org, emails=["bea@home.example"], company=acme, first_name="Bea", last_name="Jones"
    )
    cid = make_contact(
        org, emails=["cid@acme.io"], company=acme_io, first_name="Cid", last_name="Annan"
    )
    # names that share parts: only the right pairing of words finds each
    anne = make_contact(org, emails=["as@other.example"], first_name="Anne", last_name="Smithers")
    sam = make_contact(org, emails=["sam@other.example"], first_name="Sam", last_name="Ann")
    # another org's contact at acme.com is never found
    make_contact(make_org(), emails=["x@acme.com"], first_name="Ann", last_name="Smith")
    db.session.commit()

    def ids(q: str) -> list[int]:
        answer = rep.get("/api/contacts", query_string={"q": q})
        assert answer.status_code == 200, answer.json
        return [c["id"] for c in answer.json["items"]]

    return {"ids": ids, "org": org, "ann": ann, "bea": bea, "cid": cid, "anne": anne, "sam": sam}


def test_a_domain_finds_contacts_by_address_or_primary_company(people):
    """REC-3: "acme.com" finds the contact with an acme.com address and the one whose primary
    company has that domain; not acme.io, not another org's contact."""
    ids, ann, bea = people["ids"], people["ann"], people["bea"]
    assert ids("acme.com") == [bea.id, ann.id]
    assert ids("ACME.COM") == [bea.id, ann.id]  # any case
    assert ids("@acme.com") == ids("https://www.acme.com/") == [bea.id, ann.id]


def test_the_start_of_a_domain_finds_every_domain_it_begins(people):
    """REC-3: while typing, "acme." finds acme.com and acme.io people; "acme.co" only acme.com."""
    ids = people["ids"]
    assert ids("acme.") == [people["cid"].id, people["bea"].id, people["ann"].id]
    assert ids("acme.co") == [people["bea"].id, people["ann"].id]
    assert ids("acme.i") == [people["cid"].id]


def test_a_domain_that_nobody_has_finds_nothing(people):
    """REC-3: no address and no company at acme.org: an empty page, not acme.com's people; the
    middle of a domain is no start of one; LIKE wildcards in a domain are plain text."""
    ids = people["ids"]
    assert ids("acme.org") == []
    assert ids("cme.com") == []
    assert ids("acm_.com") == [] and ids("acme.c%") == []


def test_last_first_finds_the_contact(people):
    """REC-1: "Smith Ann", "smith, ann" and "Smith,Ann" find Ann Smith (and only the contacts
    whose names start with both words), as does "Ann Smith" still."""
    ids, ann, anne = people["ids"], people["ann"], people["anne"]
    assert ids("Smith Ann") == [anne.id, ann.id]  # Anne Smithers starts with both words too
    assert ids("smith, ann") == ids("Smith,Ann") == ids("  SMITH   ANN ") == [anne.id, ann.id]
    assert ids("Smithers Ann") == [anne.id]
    assert ids("Smith Anne") == [anne.id]
    assert ids("Ann Smith") == [anne.id, ann.id]  # first-then-last as before


def test_each_word_must_start_the_first_or_the_last_name(people):
    """REC-1: a word that starts neither name rules the contact out; the middle of a name does
    not count; "Ann Sam" finds Sam Ann, both orders; "Smith," alone matches the last name."""
    ids = people["ids"]
    assert ids("Smith Bea") == []
    assert ids("mith Ann") == []  # the middle of a name is no start of it
    assert ids("Jones Bob") == []
    assert ids("Ann Sam") == ids("Sam Ann") == [people["sam"].id]
    assert ids("Jones,") == [people["bea"].id]


def test_search_is_one_statement(people, count_queries):
    """REC-1: a search runs one SELECT over contacts (the addresses are loaded beside it)."""
    for q in ("acme.com", "Smith, Ann", "ann"):
        count_queries.clear()
        assert service.list_records(people["org"].id, "contact", q=q).items
        assert len([s for s in count_queries if "FROM contacts" in s]) == 1, count_queries
