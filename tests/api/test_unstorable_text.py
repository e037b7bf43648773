"""Text no database can store (a NUL character, an unpaired surrogate) gets a 422 naming the
field, never a 500 from the driver, on every input location (UI-4; found by the OpenAPI fuzz test
on PostgreSQL: POST /api/consent/check with a NUL in an address)."""

from __future__ import annotations

import json

import pytest
from factories import ApiClient, make_contact, make_org, make_user

from server.extensions import db
from server.records.models import Contact

REFUSED = "Text may not contain NUL characters or unpaired surrogates."


@pytest.fixture
def rep(client) -> ApiClient:
    org = make_org()
    user = make_user(org)
    make_contact(org, emails=["ann@example.org"], first_name="Ann")
    db.session.commit()
    return ApiClient(client, user)


def _contact(rep: ApiClient, first_name: str, address: str):
    return _post_json(rep, "/api/contacts", {"first_name": first_name, "emails": [address]})


def _post_json(rep: ApiClient, url: str, body: dict):
    # json.dumps escapes both as \u0000 / \ud800, as any client library would send them
    return rep.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipients": ["a\x00b@example.org"], "purpose": "commercial"}, "recipients.0"),
        ({"recipients": ["ok@example.org", "\ud800"], "purpose": "commercial"}, "recipients.1"),
        ({"recipients": ["ok@example.org"], "purpose": "commercial\x00"}, "purpose"),
    ],
)
def test_json_bodies(rep, body, field):
    answer = _post_json(rep, "/api/consent/check", body)
    assert answer.status_code == 422
    assert answer.json["error"] == {"code": "validation_failed", "field": field, "message": REFUSED}


def test_a_record_is_not_half_written(rep):
    answer = _contact(rep, "Bo\x00b", "bo@example.org")
    assert answer.status_code == 422 and answer.json["error"]["field"] == "first_name"
    assert db.session.query(Contact).filter_by(first_name="Bob").count() == 0
    assert db.session.query(Contact).count() == 1


def test_query_parameters(rep):
    answer = rep.get("/api/contacts", query_string={"q": "an\x00n"})
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "q"


def test_a_surrogate_pair_is_one_character_and_welcome(rep):
    answer = _contact(rep, "Zoë \ud83d\ude00", "z@example.org")
    assert answer.status_code == 201, answer.json
    assert answer.json["first_name"] == "Zoë 😀"
    found = rep.get("/api/contacts", query_string={"q": "Zoë"}).json["items"]
    assert [c["first_name"] for c in found] == ["Zoë 😀"]


def test_an_escaped_backslash_is_plain_text(rep):
    # the JSON text "\\u0000" is a backslash followed by "u0000": six ordinary characters
    answer = _contact(rep, "\\u0000", "b@example.org")
    assert answer.status_code == 201, answer.json
    assert answer.json["first_name"] == "\\u0000"


def test_compose_text_for_tracking_may_hold_nul_but_not_a_lone_surrogate(rep):
    """/api/tracking/prepare takes compose text as the mail client gives it and strips NULs
    itself (TRK-1); an unpaired surrogate is refused there too."""
    body = {"text": "Hi\x00", "recipients": ["ann@example.org"], "subject": "a\x00b"}
    assert _post_json(rep, "/api/tracking/prepare", body).status_code == 200
    answer = _post_json(rep, "/api/tracking/prepare", {**body, "subject": "a\udc00"})
    assert answer.status_code == 422 and answer.json["error"]["field"] == "subject"


def test_paths_outside_the_api_keep_their_own_answers(client):
    """The pixel always answers its GIF (TRK-1) and an unsubscribe link a page (GDPR-7), NUL or
    not: only the JSON API answers this 422."""
    pixel = client.get("/t/o/anything", query_string={"x": "a\x00b"})
    assert pixel.status_code == 200 and pixel.mimetype == "image/gif"
    assert client.get("/u/%00").status_code == 404


def test_a_url_encoded_form_with_nul_names_the_field(rep):
    answer = rep.post(
        "/api/consent/check",
        data="recipients=a%00b%40example.org",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422 and answer.json["error"]["field"] == "recipients"
