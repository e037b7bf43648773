"""Deals and tickets over HTTP (REC-1): typed fields, validation, search, update, delete."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from factories import (
    ApiClient,
    associate,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)
from sqlalchemy import func, select

from server.clock import utcnow
from server.extensions import db
from server.records import service
from server.records.models import Association, Deal


def _rep(client):
    org = make_org()
    return org, ApiClient(client, make_user(org))


def test_create_deal_with_amount_currency_and_close_date(client):
    _, rep = _rep(client)
    response = rep.post(
        "/api/deals",
        json={
            "name": "Renewal",
            "stage": "contract_sent",
            "amount": "1200.5",
            "currency": "usd",
            "close_date": "2026-03-31",
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["amount"] == "1200.50" and body["currency"] == "USD"
    assert body["close_date"] == "2026-03-31" and body["is_closed"] is False
    assert body["stage"] == "contract_sent" and body["owner_id"] == rep.user.id
    assert rep.post("/api/deals", json={"name": "Plain", "amount": 99}).json["amount"] == "99.00"


def test_deal_fields_are_validated(client):
    _, rep = _rep(client)
    cases = [
        ({"amount": 1}, "name"),
        ({"name": "X", "currency": "EURO"}, "currency"),
        ({"name": "X", "close_date": "31/03/2026"}, "close_date"),
        ({"name": "X", "amount": "lots"}, "amount"),
        ({"name": "X", "amount": "1e15"}, "amount"),
        ({"name": "X", "is_closed": "maybe"}, "is_closed"),
        ({"name": "X", "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        response = rep.post("/api/deals", json=body)
        assert response.status_code == 422, body
        assert response.json["error"]["field"] == field, (body, response.json)


def test_patch_deal_closes_it_and_touches_updated_at(client):
    org, rep = _rep(client)
    deal = make_deal(org, name="Big")
    before = deal.updated_at
    with time_machine.travel(utcnow() + timedelta(minutes=5)):
        body = rep.patch(f"/api/deals/{deal.id}", json={"is_closed": True, "amount": None}).json
    assert body["is_closed"] is True and body["amount"] is None and body["name"] == "Big"
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).updated_at > before


def test_deal_search_and_owner_filter(client):
    org, rep = _rep(client)
    mine = make_deal(org, name="Acme renewal", owner=rep.user)
    make_deal(org, name="Acme upsell")
    make_deal(org, name="Globex")
    found = rep.get("/api/deals", query_string={"q": "ACME"}).json["items"]
    assert len(found) == 2
    found = rep.get("/api/deals", query_string={"q": "acme", "owner_id": rep.user.id}).json["items"]
    assert [d["id"] for d in found] == [mine.id]


def test_create_ticket_with_defaults_and_priority(client):
    _, rep = _rep(client)
    body = rep.post("/api/tickets", json={"subject": "Printer on fire"}).json
    assert body["status"] == "new" and body["priority"] == "medium" and body["is_closed"] is False
    body = rep.post(
        "/api/tickets",
        json={
            "subject": "Login",
            "description": "Cannot log in",
            "priority": "urgent",
            "status": "open",
        },
    ).json
    assert body["priority"] == "urgent" and body["description"] == "Cannot log in"
    for bad, field in [
        ({"subject": "X", "priority": "asap"}, "priority"),
        ({"status": "new"}, "subject"),
    ]:
        response = rep.post("/api/tickets", json=bad)
        assert response.status_code == 422 and response.json["error"]["field"] == field


def test_ticket_search_update_and_delete(client):
    org, rep = _rep(client)
    ticket = make_ticket(org, subject="Invoice missing")
    make_ticket(org, subject="Password reset")
    found = rep.get("/api/tickets", query_string={"q": "invoice"}).json["items"]
    assert [t["id"] for t in found] == [ticket.id]
    body = rep.patch(f"/api/tickets/{ticket.id}", json={"status": "closed", "is_closed": True}).json
    assert body["status"] == "closed" and body["is_closed"] is True
    associate(org, make_contact(org), ticket)
    assert rep.delete(f"/api/tickets/{ticket.id}").status_code == 204
    assert rep.get(f"/api/tickets/{ticket.id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Association)) == 0


def test_deal_delete_removes_associations(client):
    org, rep = _rep(client)
    deal = make_deal(org)
    associate(org, make_contact(org), deal)
    keep = associate(org, make_contact(org), make_ticket(org))
    assert rep.delete(f"/api/deals/{deal.id}").status_code == 204
    assert db.session.scalars(select(Association.id)).all() == [keep.id]


def test_deal_and_ticket_service_functions(app):
    org = make_org()
    user = make_user(org)
    deal = service.create_deal(
        user, {"name": "Svc deal", "amount": "10", "close_date": "2026-01-02"}
    )
    service.update_deal(user, deal.id, {"stage": "closed_won", "is_closed": True})
    assert service.get_deal(org.id, deal.id).stage == "closed_won"
    ticket = service.create_ticket(user, {"subject": "Svc ticket"})
    service.update_ticket(user, ticket.id, {"priority": "high"})
    assert service.get_ticket(org.id, ticket.id).priority == "high"
    service.delete_deal(user, deal.id)
    service.delete_ticket(user, ticket.id)
    assert service.list_records(org.id, "deal").items == []
    assert service.list_records(org.id, "ticket").items == []
