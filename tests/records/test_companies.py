"""Companies over HTTP (REC-1): domains lower-case and unique per org, search, update, delete."""

from __future__ import annotations

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

from server.extensions import db
from server.records import service
from server.records.models import Association, CompanyDomain, Contact


def _rep(client):
    org = make_org()
    return org, ApiClient(client, make_user(org))


def test_create_company_with_lower_case_domains(client):
    _, rep = _rep(client)
    response = rep.post(
        "/api/companies",
        json={"name": "Acme", "industry": "Tools", "domains": ["Acme.COM", "acme.com.", "acme.de"]},
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["domains"] == ["acme.com", "acme.de"]
    assert body["name"] == "Acme" and body["industry"] == "Tools"
    assert body["owner_id"] == rep.user.id


def test_domain_of_another_company_in_the_org_is_409(client):
    org, rep = _rep(client)
    acme = make_company(org, domains=["acme.com"])
    response = rep.post("/api/companies", json={"name": "Copy", "domains": ["ACME.com"]})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["field"] == "domains" and error["company_id"] == acme.id
    assert "acme.com" in error["message"]
    # another org may use it
    _, stranger = _rep(client)
    assert (
        stranger.post("/api/companies", json={"name": "Other", "domains": ["acme.com"]}).status_code
        == 201
    )


def test_invalid_domains_and_missing_name_are_422(client):
    _, rep = _rep(client)
    for bad in ["not a domain", "https://acme.com/", "acme", "-acme.com"]:
        response = rep.post("/api/companies", json={"name": "X", "domains": [bad]})
        assert response.status_code == 422 and response.json["error"]["field"] == "domains", bad
    response = rep.post("/api/companies", json={"domains": ["ok.com"]})
    assert response.status_code == 422 and response.json["error"]["field"] == "name"
    response = rep.post("/api/companies", json={"name": "   "})
    assert response.status_code == 422 and response.json["error"]["field"] == "name"


def test_patch_replaces_domains_and_keeps_the_rest(client):
    org, rep = _rep(client)
    company = make_company(org, name="Acme", domains=["acme.com", "old.com"], industry="Tools")
    body = rep.patch(f"/api/companies/{company.id}", json={"domains": ["acme.com", "new.com"]}).json
    assert body["domains"] == ["acme.com", "new.com"] and body["industry"] == "Tools"
    assert sorted(db.session.scalars(select(CompanyDomain.domain))) == ["acme.com", "new.com"]
    body = rep.patch(
        f"/api/companies/{company.id}", json={"industry": None, "name": "Acme Ltd"}
    ).json
    assert body["industry"] is None and body["name"] == "Acme Ltd"
    response = rep.patch(f"/api/companies/{company.id}", json={"name": ""})
    assert response.status_code == 422 and response.json["error"]["field"] == "name"


def test_search_by_part_of_name_or_start_of_domain(client):
    org, rep = _rep(client)
    acme = make_company(org, name="Acme Tools", domains=["acme-tools.com"])
    make_company(org, name="Globex", domains=["globex.com"])

    def names(q):
        return [c["name"] for c in rep.get("/api/companies", query_string={"q": q}).json["items"]]

    assert names("tools") == [acme.name]
    assert names("ACME-") == [acme.name]
    assert names("glob") == ["Globex"]
    assert names("tools.com") == []


def test_delete_company_clears_primary_company_and_associations(client):
    org, rep = _rep(client)
    company = make_company(org)
    contact = make_contact(org, company=company)
    associate(org, company, make_deal(org))
    assert rep.delete(f"/api/companies/{company.id}").status_code == 204
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).primary_company_id is None
    assert db.session.scalar(select(func.count()).select_from(Association)) == 0
    assert db.session.scalar(select(func.count()).select_from(CompanyDomain)) == 0
    assert rep.get(f"/api/companies/{company.id}").status_code == 404


def test_company_service_functions(app):
    org = make_org()
    user = make_user(org)
    company = service.create_company(user, {"name": "Svc", "domains": ["svc.example.com"]})
    service.update_company(user, company.id, {"industry": "Services"})
    assert service.get_company(org.id, company.id).industry == "Services"
    assert [c.id for c in service.list_records(org.id, "company", q="svc.").items] == [company.id]
    service.delete_company(user, company.id)
    assert service.list_records(org.id, "company").items == []
