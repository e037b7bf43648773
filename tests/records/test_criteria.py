"""The criteria language (REC-4): every operator on every kind of field, on both databases;
validation errors name the exact path; hostile values stay data."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from server.clock import utcnow
from server.errors import ValidationFailed
from server.extensions import db
from server.records.criteria import MAX_CONDITIONS, fields_for, normalized, parse_criteria
from server.records.models import Contact, CustomObjectType, CustomRecord
from server.records.views import search
from tests.factories import (
    make_company,
    make_contact,
    make_deal,
    make_org,
    make_ticket,
    make_user,
)


def ids(user, record_type, criteria, custom_type_id=None):
    """The ids of the records matching `criteria` (one page is enough here)."""
    page = search(user, record_type, criteria, custom_type_id, limit=200)
    return {record.id for record in page.items}


def one(field, op, value=None):
    leaf = {"field": field, "op": op}
    if value is not None:
        leaf["value"] = value
    return {"and": [leaf]}


@pytest.fixture
def org(app):
    return make_org()


@pytest.fixture
def user(org):
    return make_user(org)


# --- contacts ------------------------------------------------------------------------------------


@pytest.fixture
def people(org, user):
    other_user = make_user(org)
    acme = make_company(org, "Acme", domains=["acme.com"])
    ann = make_contact(org, ["Ann@Acme.com", "ann.private@mail.org"], owner=user, company=acme,
                       first_name="Ann", last_name="Archer", job_title="CEO",
                       lifecycle_stage="customer", is_marketing=False)  # fmt: skip
    bob = make_contact(org, ["bob@beta.io"], owner=other_user, first_name="Bob",
                       last_name="Bolt", job_title="", lifecycle_stage="lead")  # fmt: skip
    nil = make_contact(org, [], first_name="", last_name="Nobody", lifecycle_stage="lead")
    pct = make_contact(org, ["p_c@x.org"], first_name="100%", last_name="Sure", job_title=None)
    return {"ann": ann.id, "bob": bob.id, "nil": nil.id, "pct": pct.id, "acme": acme.id,
            "other_user": other_user.id}  # fmt: skip


def test_text_operators_are_case_insensitive(user, people):
    p = people
    assert ids(user, "contact", one("first_name", "eq", "ANN")) == {p["ann"]}
    assert ids(user, "contact", one("first_name", "neq", "ann")) == {p["bob"], p["nil"], p["pct"]}
    assert ids(user, "contact", one("last_name", "contains", "OL")) == {p["bob"]}
    assert ids(user, "contact", one("last_name", "starts_with", "ar")) == {p["ann"]}
    assert ids(user, "contact", one("first_name", "in", ["bob", "Ann"])) == {p["ann"], p["bob"]}
    assert ids(user, "contact", one("first_name", "is_empty")) == {p["nil"]}
    assert ids(user, "contact", one("job_title", "is_empty")) == {p["bob"], p["nil"], p["pct"]}
    assert ids(user, "contact", one("job_title", "is_not_empty")) == {p["ann"]}


def test_like_wildcards_in_values_are_literal(user, people):
    assert ids(user, "contact", one("first_name", "contains", "%")) == {people["pct"]}
    assert ids(user, "contact", one("first_name", "starts_with", "1_0")) == set()
    assert ids(user, "contact", one("email", "starts_with", "p_")) == {people["pct"]}
    assert ids(user, "contact", one("email", "contains", "_")) == {people["pct"]}


def test_email_matches_any_address_of_the_contact(user, people):
    p = people
    assert ids(user, "contact", one("email", "eq", "ANN.PRIVATE@mail.org")) == {p["ann"]}
    assert ids(user, "contact", one("email", "contains", "@acme")) == {p["ann"]}
    assert ids(user, "contact", one("email", "starts_with", "bob@")) == {p["bob"]}
    assert ids(user, "contact", one("email", "in", ["x@y.z", "Bob@Beta.io"])) == {p["bob"]}
    assert ids(user, "contact", one("email", "neq", "ann@acme.com")) == {
        p["bob"],
        p["nil"],
        p["pct"],
    }
    assert ids(user, "contact", one("email", "is_empty")) == {p["nil"]}
    assert ids(user, "contact", one("email", "is_not_empty")) == {p["ann"], p["bob"], p["pct"]}


def test_enum_bool_and_reference_fields(user, people):
    p = people
    assert ids(user, "contact", one("lifecycle_stage", "eq", "customer")) == {p["ann"]}
    assert ids(user, "contact", one("lifecycle_stage", "neq", "lead")) == {p["ann"]}
    assert ids(user, "contact", one("lifecycle_stage", "in", ["customer", "lead"])) == {
        p["ann"], p["bob"], p["nil"], p["pct"]}  # fmt: skip
    assert ids(user, "contact", one("is_marketing", "eq", False)) == {p["ann"]}
    assert ids(user, "contact", one("is_marketing", "neq", False)) == {p["bob"], p["nil"], p["pct"]}
    assert ids(user, "contact", one("owner_id", "eq", "me")) == {p["ann"]}
    assert ids(user, "contact", one("owner_id", "eq", p["other_user"])) == {p["bob"]}
    assert ids(user, "contact", one("owner_id", "in", [user.id, p["other_user"]])) == {
        p["ann"], p["bob"]}  # fmt: skip
    assert ids(user, "contact", one("owner_id", "neq", "me")) == {p["bob"], p["nil"], p["pct"]}
    assert ids(user, "contact", one("owner_id", "is_empty")) == {p["nil"], p["pct"]}
    assert ids(user, "contact", one("primary_company_id", "eq", p["acme"])) == {p["ann"]}
    assert ids(user, "contact", one("primary_company_id", "is_not_empty")) == {p["ann"]}


def test_date_time_fields_take_times_days_and_relative_windows(org, user):
    now = utcnow()
    old = make_contact(org, created_at=now - timedelta(days=40), last_activity_at=None)
    recent = make_contact(org, created_at=now - timedelta(days=3), last_activity_at=now)
    day = (now - timedelta(days=3)).date().isoformat()
    assert ids(user, "contact", one("created_at", "within_last_days", 7)) == {recent.id}
    assert ids(user, "contact", one("created_at", "within_last_days", 41)) == {old.id, recent.id}
    assert ids(user, "contact", one("created_at", "eq", day)) == {recent.id}
    assert ids(user, "contact", one("created_at", "neq", day)) == {old.id}
    assert ids(user, "contact", one("created_at", "gt", day)) == set()
    assert ids(user, "contact", one("created_at", "gte", day)) == {recent.id}
    assert ids(user, "contact", one("created_at", "lt", day)) == {old.id}
    assert ids(user, "contact", one("created_at", "lte", day)) == {old.id, recent.id}
    moment = (now - timedelta(days=10)).isoformat()
    assert ids(user, "contact", one("created_at", "gt", moment)) == {recent.id}
    naive = (now - timedelta(days=10)).replace(tzinfo=None).isoformat()
    assert ids(user, "contact", one("created_at", "lt", naive)) == {old.id}
    assert ids(user, "contact", one("last_activity_at", "is_empty")) == {old.id}
    assert ids(user, "contact", one("updated_at", "is_not_empty")) == {old.id, recent.id}


def test_groups_nest_and_an_empty_root_matches_everything(user, people):
    p = people
    criteria = {"or": [
        {"and": [{"field": "lifecycle_stage", "op": "eq", "value": "lead"},
                 {"field": "email", "op": "is_not_empty"}]},
        {"field": "first_name", "op": "eq", "value": "ann"},
    ]}  # fmt: skip
    assert ids(user, "contact", criteria) == {p["ann"], p["bob"], p["pct"]}
    assert ids(user, "contact", {"and": []}) == {p["ann"], p["bob"], p["nil"], p["pct"]}
    assert ids(user, "contact", {"or": []}) == {p["ann"], p["bob"], p["nil"], p["pct"]}


def test_other_organizations_records_never_match(user, people):
    stranger_org = make_org()
    make_contact(stranger_org, ["ann@acme.com"], first_name="Ann")
    assert ids(user, "contact", one("first_name", "eq", "ann")) == {people["ann"]}
    assert ids(user, "contact", one("email", "eq", "ann@acme.com")) == {people["ann"]}


def test_hostile_values_stay_data(user, people):
    for value in ("x' OR '1'='1", "'; DROP TABLE contacts; --", "\\", '"'):
        assert ids(user, "contact", one("first_name", "eq", value)) == set()
        assert ids(user, "contact", one("email", "contains", value)) == set()
    assert db.session.query(Contact).count() == 4
    with pytest.raises(ValidationFailed) as err:
        ids(user, "contact", one("first_name = first_name OR 1", "eq", "x"))
    assert err.value.field == "criteria.and[0].field"


# --- companies, deals, tickets -------------------------------------------------------------------


def test_company_fields(org, user):
    acme = make_company(org, "Acme Corp", domains=["acme.com", "acme.io"], industry="Tools")
    beta = make_company(org, "Beta", domains=[], industry=None)
    assert ids(user, "company", one("name", "contains", "corp")) == {acme.id}
    assert ids(user, "company", one("domain", "eq", "ACME.IO")) == {acme.id}
    assert ids(user, "company", one("domain", "starts_with", "acme.")) == {acme.id}
    assert ids(user, "company", one("domain", "is_empty")) == {beta.id}
    assert ids(user, "company", one("industry", "is_empty")) == {beta.id}
    assert ids(user, "company", one("created_at", "within_last_days", 1)) == {acme.id, beta.id}


def test_deal_numbers_dates_and_booleans(org, user):
    today = utcnow().date()
    big = make_deal(org, "Big", amount=Decimal("5000.50"), close_date=today - timedelta(days=2),
                    stage="negotiation", currency="USD")  # fmt: skip
    small = make_deal(org, "Small", amount=Decimal("99.99"), close_date=date(2020, 1, 1),
                      is_closed=True)  # fmt: skip
    none = make_deal(org, "None", amount=None, close_date=None)
    assert ids(user, "deal", one("amount", "gt", 100)) == {big.id}
    assert ids(user, "deal", one("amount", "gte", "99.99")) == {big.id, small.id}
    assert ids(user, "deal", one("amount", "lt", 5000.5)) == {small.id}
    assert ids(user, "deal", one("amount", "lte", 5000.5)) == {big.id, small.id}
    assert ids(user, "deal", one("amount", "eq", 99.99)) == {small.id}
    assert ids(user, "deal", one("amount", "neq", 99.99)) == {big.id, none.id}
    assert ids(user, "deal", one("amount", "in", [99.99, 1])) == {small.id}
    assert ids(user, "deal", one("amount", "is_empty")) == {none.id}
    assert ids(user, "deal", one("close_date", "eq", "2020-01-01")) == {small.id}
    assert ids(user, "deal", one("close_date", "gt", "2020-01-01")) == {big.id}
    assert ids(user, "deal", one("close_date", "within_last_days", 7)) == {big.id}
    assert ids(user, "deal", one("close_date", "is_empty")) == {none.id}
    assert ids(user, "deal", one("is_closed", "eq", True)) == {small.id}
    assert ids(user, "deal", one("stage", "eq", "Negotiation")) == {big.id}
    assert ids(user, "deal", one("currency", "in", ["usd"])) == {big.id}


def test_ticket_fields(org, user):
    urgent = make_ticket(org, "Printer on fire", priority="urgent", status="open")
    low = make_ticket(org, "Coffee", priority="low", status="closed", is_closed=True)
    assert ids(user, "ticket", one("priority", "in", ["urgent", "high"])) == {urgent.id}
    assert ids(user, "ticket", one("subject", "contains", "FIRE")) == {urgent.id}
    assert ids(user, "ticket", one("status", "neq", "open")) == {low.id}
    assert ids(user, "ticket", one("is_closed", "eq", False)) == {urgent.id}


# --- custom object types: properties in the JSON column ----------------------------------------


@pytest.fixture
def vehicles(org):
    kind = CustomObjectType(org_id=org.id, name="vehicle", label="Vehicle", plural_label="Vehicles",
                            property_schema=[
                                {"name": "model", "type": "text"},
                                {"name": "seats", "type": "number"},
                                {"name": "bought", "type": "date"},
                                {"name": "serviced_at", "type": "datetime"},
                                {"name": "electric", "type": "bool"},
                                {"name": "colour", "type": "enum", "options": ["red", "blue"]},
                                {"name": "contact_email", "type": "email"},
                            ])  # fmt: skip
    db.session.add(kind)
    db.session.commit()
    now = utcnow()
    rows = {
        "van": {"model": "Transit Van", "seats": 3, "bought": "2021-05-01", "electric": False,
                "serviced_at": (now - timedelta(days=2)).isoformat(), "colour": "red",
                "contact_email": "Fleet@Acme.com"},
        "bus": {"model": "Bus", "seats": 52.5, "bought": "2019-12-31", "electric": True,
                "serviced_at": "2020-06-01T12:30:00+00:00", "colour": "blue"},
        "odd": {"model": "", "seats": "many", "electric": "yes", "bought": 7},
        "bare": {},
    }  # fmt: skip
    made = {}
    for key, props in rows.items():
        record = CustomRecord(org_id=org.id, type_id=kind.id, properties=props)
        db.session.add(record)
        db.session.commit()
        made[key] = record.id
    other = CustomObjectType(org_id=org.id, name="boat", label="Boat", plural_label="Boats",
                             property_schema=[{"name": "seats", "type": "number"}])  # fmt: skip
    db.session.add(other)
    db.session.commit()
    db.session.add(CustomRecord(org_id=org.id, type_id=other.id, properties={"seats": 3}))
    db.session.commit()
    return kind.id, made


def test_custom_properties_are_typed_by_the_schema(user, vehicles):
    type_id, v = vehicles

    def q(field, op, value=None):
        return ids(user, "custom", one(field, op, value), type_id)

    assert q("model", "contains", "van") == {v["van"]}
    assert q("model", "is_empty") == {v["odd"], v["bare"]}
    assert q("seats", "eq", 3) == {v["van"]}  # the boat with 3 seats is another type
    assert q("seats", "gt", 10) == {v["bus"]}
    assert q("seats", "lte", "52.5") == {v["van"], v["bus"]}
    assert q("seats", "in", [52.5]) == {v["bus"]}
    assert q("seats", "is_empty") == {v["odd"], v["bare"]}  # "many" is not a number
    assert q("bought", "lt", "2020-01-01") == {v["bus"]}
    assert q("bought", "eq", "2021-05-01") == {v["van"]}
    assert q("serviced_at", "within_last_days", 7) == {v["van"]}
    assert q("serviced_at", "eq", "2020-06-01") == {v["bus"]}
    assert q("serviced_at", "gt", "2020-06-01T12:00:00Z") == {v["van"], v["bus"]}
    assert q("serviced_at", "lt", "2020-06-01T15:00:00+02:00") == {v["bus"]}
    assert q("serviced_at", "is_empty") == {v["odd"], v["bare"]}
    assert q("electric", "eq", True) == {v["bus"]}
    assert q("electric", "neq", True) == {v["van"], v["odd"], v["bare"]}
    assert q("electric", "is_empty") == {v["odd"], v["bare"]}  # "yes" is not a boolean
    assert q("colour", "in", ["red"]) == {v["van"]}
    assert q("contact_email", "eq", "fleet@acme.COM") == {v["van"]}
    assert q("owner_id", "is_empty") == set(v.values())


def test_custom_fields_reject_values_of_the_wrong_type(user, vehicles):
    type_id, _ = vehicles
    cases = [
        (one("colour", "eq", "green"), "criteria.and[0].value"),
        (one("seats", "gt", "lots"), "criteria.and[0].value"),
        (one("electric", "eq", "yes"), "criteria.and[0].value"),
        (one("bought", "gt", "2021-05-01T10:00:00"), "criteria.and[0].value"),
        (one("model", "gt", "a"), "criteria.and[0].op"),
        (one("wheels", "eq", 4), "criteria.and[0].field"),
    ]
    for criteria, path in cases:
        with pytest.raises(ValidationFailed) as err:
            ids(user, "custom", criteria, type_id)
        assert err.value.field == path, criteria


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ([], "criteria"),
        ({"field": "first_name", "op": "eq", "value": "x"}, "criteria"),
        ({"and": [], "or": []}, "criteria"),
        ({"and": {}}, "criteria.and"),
        ({"and": [{"field": "first_name", "op": "eq", "value": "a"}, {"or": []}]},
         "criteria.and[1].or"),
        ({"and": [{"field": "first_name", "op": "eq", "value": "a"}, "x"]}, "criteria.and[1]"),
        ({"and": [{"field": "nope", "op": "eq", "value": "a"}]}, "criteria.and[0].field"),
        ({"and": [{"op": "eq", "value": "a"}]}, "criteria.and[0].field"),
        ({"and": [{"field": "first_name", "op": "like", "value": "a"}]}, "criteria.and[0].op"),
        ({"or": [{"field": "first_name", "op": "eq", "value": "a"},
                 {"field": "first_name", "op": "gt", "value": "a"}]}, "criteria.or[1].op"),
        ({"and": [{"field": "first_name", "op": "eq", "value": 5}]}, "criteria.and[0].value"),
        ({"and": [{"field": "first_name", "op": "eq", "value": "a", "x": 1}]}, "criteria.and[0].x"),
        ({"and": [{"field": "first_name", "op": "contains", "value": ""}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "first_name", "op": "in", "value": []}]}, "criteria.and[0].value"),
        ({"and": [{"field": "first_name", "op": "in", "value": ["a", "b", 3]}]},
         "criteria.and[0].value[2]"),
        ({"and": [{"field": "first_name", "op": "is_empty", "value": "a"}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "created_at", "op": "within_last_days", "value": True}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "created_at", "op": "within_last_days", "value": 0}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "created_at", "op": "gt", "value": "yesterday"}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "is_marketing", "op": "eq", "value": 1}]}, "criteria.and[0].value"),
        ({"and": [{"field": "is_marketing", "op": "contains", "value": "t"}]},
         "criteria.and[0].op"),
        ({"and": [{"field": "owner_id", "op": "eq", "value": "someone"}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "primary_company_id", "op": "eq", "value": "me"}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "lifecycle_stage", "op": "eq", "value": "king"}]},
         "criteria.and[0].value"),
        ({"and": [{"field": "lifecycle_stage", "op": "contains", "value": "le"}]},
         "criteria.and[0].op"),
    ],
)  # fmt: skip
def test_invalid_criteria_name_the_exact_path(app, criteria, path):
    with pytest.raises(ValidationFailed) as err:
        parse_criteria(criteria, fields_for("contact"))
    assert err.value.field == path
    assert err.value.message.startswith(path + ":")


def test_number_values_reject_booleans_and_infinities(app):
    for value in (True, "NaN", "inf", [1]):
        with pytest.raises(ValidationFailed) as err:
            parse_criteria(one("amount", "gt", value), fields_for("deal"))
        assert err.value.field == "criteria.and[0].value"


def test_depth_and_size_are_limited(app):
    leaf = {"field": "first_name", "op": "eq", "value": "a"}
    deep = leaf
    for _ in range(5):
        deep = {"and": [deep]}
    parse_criteria(deep, fields_for("contact"))  # five levels are fine
    with pytest.raises(ValidationFailed) as err:
        parse_criteria({"or": [deep]}, fields_for("contact"))
    assert err.value.field == "criteria.or[0].and[0].and[0].and[0].and[0]"
    parse_criteria({"or": [leaf] * MAX_CONDITIONS}, fields_for("contact"))
    with pytest.raises(ValidationFailed) as err:
        parse_criteria({"or": [leaf] * (MAX_CONDITIONS + 1)}, fields_for("contact"))
    assert err.value.field == f"criteria.or[{MAX_CONDITIONS}]"


def test_normalized_form_keeps_coerced_values(app):
    tree = parse_criteria(
        {"and": [{"field": "amount", "op": "gte", "value": "10.50"},
                 {"field": "close_date", "op": "lt", "value": "2024-02-01"},
                 {"field": "created_at", "op": "gt", "value": "2024-01-01T10:00:00+02:00"},
                 {"or": [{"field": "is_closed", "op": "is_empty", "value": None}]}]},
        fields_for("deal"),
    )  # fmt: skip
    assert normalized(tree) == {"and": [
        {"field": "amount", "op": "gte", "value": 10.5},
        {"field": "close_date", "op": "lt", "value": "2024-02-01"},
        {"field": "created_at", "op": "gt", "value": "2024-01-01T08:00:00+00:00"},
        {"or": [{"field": "is_closed", "op": "is_empty"}]},
    ]}  # fmt: skip
