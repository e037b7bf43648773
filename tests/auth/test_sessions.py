"""Web sessions: the CSRF token guards every change made with the session cookie."""

import pytest
from factories import ApiClient, make_org, make_user
from flask import session

from server.auth.guard import login_session
from server.extensions import db


@pytest.fixture
def signed_in(client, app):
    """A browser signed in as a rep; returns the user."""
    user = make_user(make_org())
    with client.session_transaction() as cookie:
        cookie["user_id"] = user.id
        cookie["csrf"] = "the-session-csrf-token"
    return user


def test_session_reads_need_no_csrf_token(client, signed_in):
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.json["user"]["id"] == signed_in.id


def test_session_change_without_csrf_token_is_forbidden(client, signed_in):
    response = client.post("/api/tokens", json={"name": "from the browser"})
    assert response.status_code == 403
    assert response.json["error"] == {
        "code": "forbidden",
        "message": "Missing or wrong CSRF token.",
        "field": "X-CSRF-Token",
    }


def test_session_change_with_wrong_csrf_token_is_forbidden(client, signed_in):
    response = client.post(
        "/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "guessed-token"}
    )
    assert response.status_code == 403


def test_session_change_with_the_csrf_token_from_the_api_succeeds(client, signed_in):
    csrf = client.get("/api/csrf").json["csrf_token"]
    assert csrf == "the-session-csrf-token"

    response = client.post(
        "/api/tokens", json={"name": "from the browser"}, headers={"X-CSRF-Token": csrf}
    )

    assert response.status_code == 201


def test_session_without_a_csrf_token_of_its_own_refuses_changes(client, app):
    user = make_user(make_org())
    with client.session_transaction() as cookie:
        cookie["user_id"] = user.id  # no csrf kept: an empty header must not match it
    response = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": ""})
    assert response.status_code == 403


def test_bearer_requests_need_no_csrf_token(client, app):
    api = ApiClient(client, make_user(make_org()))
    assert api.post("/api/tokens", json={"name": "script"}).status_code == 201


def test_logout_needs_the_csrf_token_then_ends_the_session(client, signed_in):
    assert client.post("/auth/logout").status_code == 403
    assert client.get("/api/me").status_code == 200

    response = client.post("/auth/logout", headers={"X-CSRF-Token": "the-session-csrf-token"})

    assert response.status_code == 204
    assert client.get("/api/me").status_code == 401
    with client.session_transaction() as cookie:
        assert "user_id" not in cookie


def test_deactivated_user_loses_the_session(client, signed_in, app):
    signed_in.is_active = False
    db.session.commit()
    assert client.get("/api/me").status_code == 401


def test_login_session_starts_a_fresh_session_with_a_new_csrf_token(app):
    user = make_user(make_org())
    with app.test_request_context("/"):
        session["csrf"] = "planted-by-an-attacker"
        session["other"] = "left over"
        login_session(user)
        assert session["user_id"] == user.id
        assert session["csrf"] not in ("planted-by-an-attacker", "")
        assert "other" not in session
