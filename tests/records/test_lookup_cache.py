"""The sidebar look-up's shortcuts stay correct (Foundation #2 item 5, REC-3, ADM-2): the API
token is checked inside the look-up's own statement (a revoked token or a deactivated user is
refused on the very next request), the effective settings served from memory follow every change
and lock at once (they are keyed by the org's settings version), two orgs' callers never get each
other's answers, and a token's last use is written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from server.auth.models import ApiToken
from server.clock import utcnow
from server.extensions import db
from server.orgs.settings import set_org_settings, set_user_settings
from tests.factories import ApiClient, make_contact, make_org, make_user


def _lookup(api, emails):
    return api.post("/api/lookup", json={"emails": emails})


def test_a_revoked_token_is_refused_on_the_next_request(client, app):
    org = make_org()
    rep = make_user(org)
    api = ApiClient(client, rep)
    make_contact(org, ["ann@acme.com"])
    assert _lookup(api, ["ann@acme.com"]).status_code == 200
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == rep.id))
    assert api.delete(f"/api/tokens/{token_id}").status_code in (200, 204)
    refused = _lookup(api, ["ann@acme.com"])
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"


def test_a_deactivated_users_token_is_refused_on_the_next_request(client, app):
    org = make_org()
    rep = make_user(org)
    api = ApiClient(client, rep)
    assert _lookup(api, ["x@y.org"]).status_code == 200
    rep.is_active = False
    db.session.commit()
    assert _lookup(api, ["x@y.org"]).status_code == 401


def test_an_unknown_token_is_refused(client, app):
    response = client.post("/api/lookup", json={"emails": ["a@b.org"]},
                           headers={"Authorization": "Bearer lia_not-a-token"})  # fmt: skip
    assert response.status_code == 401
    assert response.json["error"]["message"] == "The API token is unknown or revoked."


def test_an_org_lock_is_visible_on_the_next_request(client, app):
    """ADM-2: the org applies its log default to everyone; the rep's own default stops counting."""
    org = make_org()
    boss, rep = make_user(org, role="super_admin"), make_user(org)
    api = ApiClient(client, rep)
    set_user_settings(rep, {"log_by_default": False})
    before = _lookup(api, ["a@b.org"]).json["settings"]
    assert before["log_by_default"] == {"value": False, "locked": False}
    assert ApiClient(client, boss).patch("/api/org/settings", json={
        "apply_default_log": True, "log_by_default": True}).status_code == 200  # fmt: skip
    after = _lookup(api, ["a@b.org"]).json["settings"]
    assert after["log_by_default"] == {"value": True, "locked": True}
    set_org_settings(None, {"allow_tracking": False}, org_id=org.id)
    assert _lookup(api, ["a@b.org"]).json["settings"]["track_by_default"] == {
        "value": False, "locked": True}  # fmt: skip


def test_a_personal_setting_and_an_org_column_are_visible_on_the_next_request(client, app):
    org = make_org()
    rep = make_user(org)
    api = ApiClient(client, rep)
    assert _lookup(api, ["a@b.org"]).json["settings"]["track_by_default"]["value"] is True
    assert api.patch("/api/me/settings", json={"track_by_default": False}).status_code == 200
    assert _lookup(api, ["a@b.org"]).json["settings"]["track_by_default"] == {
        "value": False, "locked": False}  # fmt: skip
    set_org_settings(None, {"org_address": "crm@acme.com"}, org_id=org.id)
    assert _lookup(api, ["a@b.org"]).json["settings"]["org_address"]["value"] == "crm@acme.com"


def test_a_write_of_stored_settings_outside_the_service_changes_the_version_too(app):
    """The version changes on any flushed settings row, not only through set_*_settings."""
    from server.orgs.models import Organization, OrgSetting

    org = make_org()
    version = org.settings_version
    db.session.add(OrgSetting(org_id=org.id, key="data_privacy", value=True))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Organization, org.id).settings_version != version


def test_two_orgs_callers_never_get_each_others_answers(client, app):
    one, two = make_org(), make_org()
    set_org_settings(None, {"data_privacy": True}, org_id=one.id)
    ann_one = make_contact(one, ["ann@acme.com"])
    ann_two = make_contact(two, ["ann@acme.com"])
    api_one, api_two = ApiClient(client, make_user(one)), ApiClient(client, make_user(two))
    for _ in range(2):
        for api, ann, private in ((api_one, ann_one, True), (api_two, ann_two, False)):
            body = _lookup(api, ["ann@acme.com"]).json
            assert body["results"][0]["contact"]["id"] == ann.id
            assert body["settings"]["data_privacy"]["value"] is private


def test_a_tokens_last_use_is_written_at_most_once_a_minute(client, app, count_queries):
    org = make_org()
    api = ApiClient(client, make_user(org))
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == api.user.id))
    assert token.last_used_at is None
    _lookup(api, ["a@b.org"])
    db.session.expire_all()
    first = token.last_used_at
    assert first is not None
    count_queries.clear()
    _lookup(api, ["a@b.org"])
    assert not [s for s in count_queries if s.lstrip().upper().startswith("UPDATE")]
    db.session.expire_all()
    assert token.last_used_at == first
    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        _lookup(api, ["a@b.org"])
        assert api.get("/api/tokens").status_code == 200
    db.session.expire_all()
    assert token.last_used_at > first


def test_the_compiled_statement_stays_short_enough_for_the_drivers_cache(app):
    """psycopg re-parses SQL longer than 4096 characters on every call (a benchmark cost)."""
    from server.records.lookup import _Prepared

    assert len(_Prepared(db.engine.dialect).token_sql) <= 4096


def test_a_signed_in_browser_gets_the_same_answer_as_the_token(client, app):
    """The web session goes through the guard and the same statement, keyed by the user."""
    org = make_org()
    rep = make_user(org)
    ann = make_contact(org, ["ann@acme.com"])
    by_token = _lookup(ApiClient(client, rep), ["ann@acme.com", "bad"]).json
    with client.session_transaction() as cookie:
        cookie["user_id"] = rep.id
        cookie["csrf"] = "the-session-csrf-token"
    response = client.post("/api/lookup", json={"emails": ["ann@acme.com", "bad"]},
                           headers={"X-CSRF-Token": "the-session-csrf-token"})  # fmt: skip
    assert response.status_code == 200
    assert response.json == by_token and by_token["results"][0]["contact"]["id"] == ann.id
