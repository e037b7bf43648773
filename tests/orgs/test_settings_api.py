"""Settings over HTTP: who may change what, validation, locks, audit (ADM-1, ADM-2, ADM-4)."""

from factories import ApiClient, make_org, make_user

from server.extensions import db
from server.orgs.models import SettingsAudit


def _setup(client):
    org = make_org()
    boss = ApiClient(client, make_user(org, role="super_admin", email="boss@acme.com"))
    admin = ApiClient(client, make_user(org, role="admin"))
    rep = ApiClient(client, make_user(org, role="rep"))
    return org, boss, admin, rep


def test_super_admin_sets_org_defaults_and_everyone_sees_them_marked(client):
    _, boss, admin, _ = _setup(client)
    changes = {
        "apply_default_log": True,
        "log_by_default": False,
        "never_log_addresses": ["CEO@Acme.com", "ceo@acme.com"],
        "never_log_domains": ["@Partner.IO"],
        "edition": "enterprise",
        "org_address": "Sales@Acme.com",
        "data_privacy": True,
        "over_quota_action": "split",
        "extra_daily_quota": 300,
    }
    response = boss.patch("/api/org/settings", json=changes)
    assert response.status_code == 200, response.json
    settings = admin.get("/api/org/settings").json["settings"]
    assert settings["never_log_addresses"]["value"] == ["ceo@acme.com"]
    assert settings["never_log_domains"]["value"] == ["partner.io"]
    assert settings["org_address"]["value"] == "sales@acme.com"
    assert settings["edition"] == {
        "value": "enterprise",
        "default": "standard",
        "is_default": False,
        "scope": "org",
    }
    assert settings["allow_tracking"]["is_default"] is True
    assert settings["log_by_default"]["scope"] == "both"
    assert boss.get("/api/org").json["edition"] == "enterprise"  # mirrored on the org


def test_rep_and_admin_cannot_change_org_settings(client):
    _, _, admin, rep = _setup(client)
    for caller in (rep, admin):
        response = caller.patch("/api/org/settings", json={"data_privacy": True})
        assert response.status_code == 403
        assert response.json["error"]["code"] == "forbidden"
    assert rep.get("/api/org/settings").status_code == 403
    assert db.session.query(SettingsAudit).count() == 0


def test_validation_errors_name_the_setting(client):
    _, boss, _, rep = _setup(client)
    cases = [
        ({"no_such_setting": True}, "no_such_setting"),
        ({"data_privacy": "yes"}, "data_privacy"),
        ({"never_log_addresses": ["not-an-address"]}, "never_log_addresses"),
        ({"never_log_domains": ["bad domain"]}, "never_log_domains"),
        ({"default_association_types": ["contact", "lead"]}, "default_association_types"),
        ({"edition": "platinum"}, "edition"),
        ({"extra_daily_quota": -1}, "extra_daily_quota"),
    ]
    for body, field in cases:
        response = boss.patch("/api/org/settings", json=body)
        assert response.status_code == 422, body
        assert response.json["error"]["field"] == field, response.json
    response = rep.patch("/api/me/settings", json={"data_privacy": False})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "data_privacy"
    assert db.session.query(SettingsAudit).count() == 0


def test_a_bad_key_refuses_the_whole_change(client):
    _, boss, _, _ = _setup(client)
    response = boss.patch(
        "/api/org/settings", json={"data_privacy": True, "never_log_domains": ["bad domain"]}
    )
    assert response.status_code == 422
    assert boss.get("/api/org/settings").json["settings"]["data_privacy"]["value"] is False


def test_user_sets_own_default_until_the_org_applies_one(client):
    _, boss, _, rep = _setup(client)
    response = rep.patch("/api/me/settings", json={"track_by_default": False})
    assert response.status_code == 200
    assert response.json["settings"]["track_by_default"] == {"value": False, "locked": False}
    boss.patch("/api/org/settings", json={"apply_default_track": True, "track_by_default": True})
    mine = rep.get("/api/me/settings").json
    assert mine["settings"]["track_by_default"] == {"value": True, "locked": True}
    refused = rep.patch("/api/me/settings", json={"track_by_default": False})
    assert refused.status_code == 403
    assert refused.json["error"]["field"] == "track_by_default"
    assert "organization applies its default" in refused.json["error"]["message"]
    boss.patch("/api/org/settings", json={"apply_default_track": False})
    mine = rep.get("/api/me/settings").json["settings"]
    assert mine["track_by_default"] == {"value": False, "locked": False}  # own default back


def test_user_never_log_lists_are_their_own(client):
    _, boss, _, rep = _setup(client)
    boss.patch("/api/org/settings", json={"never_log_domains": ["acme.com"]})
    rep.patch("/api/me/settings", json={"user_never_log_domains": ["Family.org"]})
    mine = rep.get("/api/me/settings").json["settings"]
    assert mine["never_log_domains"] == {"value": ["acme.com"], "locked": True}
    assert mine["user_never_log_domains"] == {"value": ["family.org"], "locked": False}
    assert boss.get("/api/me/settings").json["settings"]["user_never_log_domains"]["value"] == []


def test_every_change_is_audited_old_to_new_and_unchanged_keys_are_not(client):
    _, boss, admin, rep = _setup(client)
    boss.patch("/api/org/settings", json={"data_privacy": True, "allow_tracking": True})
    boss.patch("/api/org/settings", json={"data_privacy": False})
    rep.patch("/api/me/settings", json={"log_by_default": False})
    rep.patch("/api/me/settings", json={"log_by_default": False})  # no change, no row
    page = admin.get("/api/org/settings/audit").json
    rows = [(r["scope"], r["key"], r["old_value"], r["new_value"]) for r in page["items"]]
    assert rows == [
        ("user", "log_by_default", True, False),
        ("org", "data_privacy", True, False),
        ("org", "data_privacy", False, True),
    ]
    newest = page["items"][0]
    assert newest["actor_id"] == rep.user.id and newest["target_user_id"] == rep.user.id
    assert page["items"][1]["actor_id"] == boss.user.id
    assert page["items"][1]["target_user_id"] is None
    assert newest["changed_at"] and page["next_cursor"] is None


def test_audit_pages_by_cursor_and_stays_in_the_org(client):
    _, boss, _, _ = _setup(client)
    other_boss = ApiClient(client, make_user(make_org(), role="super_admin"))
    other_boss.patch("/api/org/settings", json={"data_privacy": True})
    for value in (False, True) * 3:  # six changes
        boss.patch("/api/org/settings", json={"create_contacts_for_unknown": value})
    first = boss.get("/api/org/settings/audit?limit=4").json
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = boss.get(f"/api/org/settings/audit?limit=4&cursor={first['next_cursor']}").json
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    keys = {r["key"] for r in first["items"] + rest["items"]}
    assert keys == {"create_contacts_for_unknown"}


def test_me_settings_says_whether_the_caller_may_bulk_send(client):
    _, boss, admin, rep = _setup(client)
    assert admin.get("/api/me/settings").json["can_bulk_send"] is True
    assert rep.get("/api/me/settings").json["can_bulk_send"] is False
    boss.patch("/api/org/settings", json={"reps_may_bulk_send": True})
    assert rep.get("/api/me/settings").json["can_bulk_send"] is True
