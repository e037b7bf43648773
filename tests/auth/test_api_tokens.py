"""Personal API tokens through the API: shown once, hashed at rest, listed, revoked; roles."""

import hashlib

from factories import ApiClient, make_org, make_user
from sqlalchemy import select

from server.auth.models import ApiToken
from server.extensions import db


def test_created_token_is_shown_once_and_only_its_hash_is_stored(client, app):
    user = make_user(make_org())
    api = ApiClient(client, user)

    created = api.post("/api/tokens", json={"name": "CRM sync"})

    assert created.status_code == 201, created.json
    plaintext = created.json["token"]
    assert plaintext.startswith("lia_") and len(plaintext) > 40
    assert created.json["name"] == "CRM sync" and created.json["revoked"] is False
    row = db.session.get(ApiToken, created.json["id"])
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert not any(plaintext in value for value in stored)
    listed = api.get("/api/tokens").json["items"]
    assert {t["id"] for t in listed} >= {row.id}
    assert all("token" not in t for t in listed)
    me = client.get("/api/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.json["user"]["id"] == user.id


def test_list_shows_only_my_tokens(client, app):
    org = make_org()
    mine, theirs = ApiClient(client, make_user(org)), ApiClient(client, make_user(org))
    mine.post("/api/tokens", json={"name": "laptop"})
    theirs.post("/api/tokens", json={"name": "theirs"})

    names = [t["name"] for t in mine.get("/api/tokens").json["items"]]

    assert names == ["laptop", "tests"]  # newest first; "tests" is the ApiClient's own


def test_revoked_token_is_refused_afterwards(client, app):
    api = ApiClient(client, make_user(make_org()))
    created = api.post("/api/tokens", json={"name": "old script"}).json
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/me", headers=bearer).status_code == 200

    revoked = api.delete(f"/api/tokens/{created['id']}")

    assert revoked.status_code == 204
    refused = client.get("/api/me", headers=bearer)
    assert refused.status_code == 401
    assert refused.json["error"] == {
        "code": "unauthorized",
        "message": "The API token is unknown or revoked.",
        "field": None,
    }
    listed = {t["id"]: t for t in api.get("/api/tokens").json["items"]}
    assert listed[created["id"]]["revoked"] is True
    assert listed[created["id"]]["revoked_at"] is not None


def test_another_users_token_is_not_found(client, app):
    org = make_org()
    owner, other = ApiClient(client, make_user(org)), ApiClient(client, make_user(org))
    token_id = owner.post("/api/tokens", json={"name": "mine"}).json["id"]

    response = other.delete(f"/api/tokens/{token_id}")

    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert db.session.get(ApiToken, token_id).revoked_at is None


def test_admin_revokes_a_token_of_their_org_but_not_of_another_org(client, app):
    org, elsewhere = make_org(), make_org()
    rep = ApiClient(client, make_user(org))
    admin = ApiClient(client, make_user(org, role="admin"))
    stranger = ApiClient(client, make_user(elsewhere, role="super_admin"))
    token_id = rep.post("/api/tokens", json={"name": "leaked"}).json["id"]

    assert stranger.delete(f"/api/tokens/{token_id}").status_code == 404
    assert admin.delete(f"/api/tokens/{token_id}").status_code == 204
    assert db.session.get(ApiToken, token_id).revoked_at is not None


def test_org_token_listing_needs_the_admin_role(client, app):
    org = make_org()
    rep = ApiClient(client, make_user(org))
    admin = ApiClient(client, make_user(org, role="admin"))
    ApiClient(client, make_user(make_org()))  # another org's token: never listed

    refused = rep.get("/api/org/tokens")
    listed = admin.get("/api/org/tokens")

    assert refused.status_code == 403
    assert refused.json["error"] == {
        "code": "forbidden",
        "message": "This needs the role admin.",
        "field": None,
    }
    assert listed.status_code == 200
    assert sorted(t["user_id"] for t in listed.json["items"]) == sorted(
        [rep.user.id, admin.user.id]
    )


def test_super_admin_holds_the_admin_role(client, app):
    boss = ApiClient(client, make_user(make_org(), role="super_admin"))
    assert boss.get("/api/org/tokens").status_code == 200


def test_token_needs_a_name(client, app):
    api = ApiClient(client, make_user(make_org()))
    response = api.post("/api/tokens", json={"name": ""})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "name"


def test_no_credentials_is_unauthorized(client, app):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json["error"]["message"] == "Sign in or send a bearer token."


def test_unknown_scheme_is_unauthorized(client, app):
    response = client.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.json["error"]["field"] == "Authorization"


def test_tokens_of_a_deactivated_user_stop_working(client, app):
    user = make_user(make_org())
    api = ApiClient(client, user)
    user.is_active = False
    db.session.commit()
    assert api.get("/api/me").status_code == 401
    assert db.session.scalar(select(ApiToken.revoked_at)) is None  # kept; refused while inactive
