"""The organization and its users over HTTP: mappings, roles, activation (ADM-3)."""

from factories import ApiClient, make_org, make_user

from server.extensions import db
from server.orgs.service import can_bulk_send

TENANT = "8f14e45f-ceea-467f-a0e6-7d5b3b8c8a11"
OTHER_TENANT = "c9f0f895-fb98-4b91-8b6c-6f3b0c7d1e22"


def _org_with_staff(client):
    org = make_org(tenant_id=TENANT, domain="acme.com")
    boss = ApiClient(client, make_user(org, role="super_admin"))
    admin = ApiClient(client, make_user(org, role="admin"))
    rep = ApiClient(client, make_user(org, role="rep"))
    return org, boss, admin, rep


def test_members_read_the_org_and_super_admin_changes_it(client):
    _, boss, admin, rep = _org_with_staff(client)
    org = rep.get("/api/org").json
    assert org["tenant_ids"] == [TENANT] and org["domains"] == ["acme.com"]
    assert admin.patch("/api/org", json={"name": "Nope"}).status_code == 403
    response = boss.patch(
        "/api/org",
        json={
            "name": "Acme Ltd",
            "time_zone": "Europe/Paris",
            "org_address": "Hello@Acme.com",
            "tenant_ids": [OTHER_TENANT.upper()],
            "domains": ["acme.com", "Acme.co.uk"],
        },
    )
    assert response.status_code == 200, response.json
    org = response.json
    assert org["name"] == "Acme Ltd" and org["time_zone"] == "Europe/Paris"
    assert org["org_address"] == "hello@acme.com"
    assert org["tenant_ids"] == [OTHER_TENANT] and org["domains"] == ["acme.co.uk", "acme.com"]
    audit = boss.get("/api/org/settings/audit").json["items"]
    assert [(a["key"], a["old_value"], a["new_value"]) for a in audit] == [
        ("org_address", None, "hello@acme.com")
    ]


def test_org_changes_are_validated_and_mappings_unique_across_orgs(client):
    _, boss, _, _ = _org_with_staff(client)
    make_org(tenant_id=OTHER_TENANT, domain="taken.com")
    cases = [
        ({"time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ({"tenant_ids": ["not-a-guid"]}, 422, "tenant_ids"),
        ({"domains": ["no spaces.com"]}, 422, "domains"),
        ({"org_address": "nobody"}, 422, "org_address"),
        ({"tenant_ids": [OTHER_TENANT]}, 409, "tenant_ids"),
        ({"domains": ["Taken.com"]}, 409, "domains"),
        ({"name": "X", "owner": 1}, 422, "owner"),
    ]
    for body, status, field in cases:
        response = boss.patch("/api/org", json=body)
        assert response.status_code == status, (body, response.json)
        assert response.json["error"]["field"] == field, response.json
    assert boss.get("/api/org").json["tenant_ids"] == [TENANT]


def test_admin_adds_users_and_only_a_super_admin_makes_one(client):
    _, boss, admin, rep = _org_with_staff(client)
    body = {"email": "New.Rep@Acme.com", "name": "New Rep", "time_zone": "America/New_York"}
    assert rep.post("/api/users", json=body).status_code == 403
    created = admin.post("/api/users", json=body)
    assert created.status_code == 201, created.json
    assert created.json["email"] == "new.rep@acme.com" and created.json["role"] == "rep"
    again = admin.post("/api/users", json={"email": "new.rep@ACME.com"})
    assert again.status_code == 409 and again.json["error"]["field"] == "email"
    refused = admin.post("/api/users", json={"email": "b2@acme.com", "role": "super_admin"})
    assert refused.status_code == 403
    made = boss.post("/api/users", json={"email": "b2@acme.com", "role": "super_admin"})
    assert made.status_code == 201
    bad = admin.post("/api/users", json={"email": "x@acme.com", "role": "king"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "role"
    emails = [u["email"] for u in rep.get("/api/users").json["items"]]
    assert "new.rep@acme.com" in emails and len(emails) == 5


def test_roles_change_only_by_super_admin_and_the_last_one_stays(client):
    _, boss, admin, rep = _org_with_staff(client)
    url = f"/api/users/{rep.user.id}"
    assert admin.patch(url, json={"role": "admin"}).status_code == 403
    assert rep.patch(url, json={"role": "admin"}).status_code == 403
    response = boss.patch(url, json={"role": "admin"})
    assert response.status_code == 200 and response.json["role"] == "admin"
    last = boss.patch(f"/api/users/{boss.user.id}", json={"role": "rep"})
    assert last.status_code == 409 and last.json["error"]["field"] == "role"
    boss.patch(url, json={"role": "super_admin"})
    assert boss.patch(f"/api/users/{boss.user.id}", json={"role": "rep"}).status_code == 200


def test_deactivation_and_reactivation(client):
    _, boss, admin, rep = _org_with_staff(client)
    url = f"/api/users/{rep.user.id}"
    assert rep.patch(url, json={"is_active": False}).status_code == 403
    assert admin.patch(f"/api/users/{boss.user.id}", json={"is_active": False}).status_code == 403
    last = boss.patch(f"/api/users/{boss.user.id}", json={"is_active": False})
    assert last.status_code == 409
    assert admin.patch(url, json={"is_active": False}).json["is_active"] is False
    assert rep.get("/api/org").status_code == 401  # the deactivated user's token stops working
    assert admin.patch(url, json={"is_active": True}).json["is_active"] is True
    assert rep.get("/api/org").status_code == 200


def test_users_set_their_own_name_and_time_zone_but_not_others(client):
    _, _, admin, rep = _org_with_staff(client)
    mine = rep.patch(f"/api/users/{rep.user.id}", json={"time_zone": "Asia/Tokyo", "name": "R"})
    assert mine.status_code == 200 and mine.json["time_zone"] == "Asia/Tokyo"
    bad = rep.patch(f"/api/users/{rep.user.id}", json={"time_zone": "Nowhere/Land"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "time_zone"
    other = rep.patch(f"/api/users/{admin.user.id}", json={"name": "Hacked"})
    assert other.status_code == 403
    assert admin.patch(f"/api/users/{rep.user.id}", json={"time_zone": None}).status_code == 200


def test_users_of_another_org_are_not_found(client):
    _, boss, _, _ = _org_with_staff(client)
    stranger = make_user(make_org())
    for response in (
        boss.get(f"/api/users/{stranger.id}"),
        boss.patch(f"/api/users/{stranger.id}", json={"name": "Mine now"}),
    ):
        assert response.status_code == 404
    assert all(u["id"] != stranger.id for u in boss.get("/api/users").json["items"])
    db.session.refresh(stranger)
    assert stranger.name != "Mine now"


def test_bulk_sending_is_a_role_right(client):
    org, boss, admin, rep = _org_with_staff(client)
    assert can_bulk_send(boss.user) and can_bulk_send(admin.user)
    assert not can_bulk_send(rep.user)
    listed = {u["id"]: u["can_bulk_send"] for u in rep.get("/api/users").json["items"]}
    assert listed == {boss.user.id: True, admin.user.id: True, rep.user.id: False}
    boss.patch("/api/org/settings", json={"reps_may_bulk_send": True})
    assert can_bulk_send(rep.user)
    admin.patch(f"/api/users/{rep.user.id}", json={"is_active": False})
    assert not can_bulk_send(rep.user)


def test_users_page_by_cursor(client):
    org, boss, _, _ = _org_with_staff(client)
    for _ in range(3):
        make_user(org)
    first = boss.get("/api/users?limit=4").json
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = boss.get(f"/api/users?limit=4&cursor={first['next_cursor']}").json
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
