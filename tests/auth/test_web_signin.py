"""Web sign-in with Microsoft and Google (Foundation #2 identity): the authorization-code flow
against the fake authorization server, through the real MSAL / requests / google-auth code."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from factories import make_org, make_user
from sqlalchemy import select

from server.auth.web_signin import verify_microsoft_id_token
from server.errors import Unauthorized
from server.extensions import db
from server.orgs.models import ExternalIdentity, User

TENANT = "7f1e0c3a-1111-4b2c-9d3e-00000000a001"


@pytest.fixture
def org():
    return make_org(name="Contoso", tenant_id=TENANT, domain="contoso.example")


def _account(oauth, provider: str, email: str = "ada@contoso.example", tenant: str = TENANT):
    if provider == "microsoft":
        return oauth.microsoft_account(tenant, email)
    return oauth.google_account(email)


def _start(client, provider: str, query: str = "") -> str:
    response = client.get(f"/auth/signin/{provider}{query}")
    assert response.status_code == 302, response.get_data(True)
    return response.headers["Location"]


def _sign_in(client, oauth, provider: str, account, query: str = ""):
    callback = oauth.authorize(_start(client, provider, query), account)
    return client.get(callback)


def _with_state(callback: str, state: str) -> str:
    url = urlsplit(callback)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    return f"{url.path}?{urlencode({**params, 'state': state})}"


def _session_user_id(client):
    with client.session_transaction() as cookie:
        return cookie.get("user_id")


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_sign_in_provisions_the_user_and_starts_a_session_with_a_csrf_token(
    client, oauth, org, provider
):
    account = _account(oauth, provider)

    response = _sign_in(client, oauth, provider, account)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    user = db.session.scalar(select(User).where(User.email == "ada@contoso.example"))
    assert user is not None and user.org_id == org.id and user.role == "rep"
    identity = db.session.scalar(
        select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
    )
    expected = f"{TENANT}:{account.oid}" if provider == "microsoft" else account.sub
    assert (identity.provider, identity.subject) == (provider, expected)
    assert _session_user_id(client) == user.id
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json["user"]["email"] == "ada@contoso.example"
    with client.session_transaction() as cookie:
        csrf = cookie["csrf"]
    assert csrf and client.get("/api/csrf").json["csrf_token"] == csrf
    created = client.post("/api/tokens", json={"name": "web"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_authorize_request_carries_state_nonce_and_pkce_and_the_code_needs_the_verifier(
    client, oauth, org, provider
):
    location = _start(client, provider)
    query = parse_qs(urlsplit(location).query)

    assert location.startswith(
        f"{oauth.url}/organizations/oauth2/v2.0/authorize"
        if provider == "microsoft"
        else f"{oauth.url}/o/oauth2/v2/auth"
    )
    assert query["redirect_uri"] == [f"http://localhost/auth/callback/{provider}"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]
    assert "openid" in query["scope"][0].split()
    client.get(oauth.authorize(location, _account(oauth, provider)))
    (redeemed,) = oauth.token_requests("authorization_code")
    assert redeemed["code_verifier"]
    assert _session_user_id(client) is not None


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_a_response_with_another_state_is_refused_with_400(client, oauth, org, provider):
    callback = oauth.authorize(_start(client, provider), _account(oauth, provider))

    response = client.get(_with_state(callback, "forged-state"))

    assert response.status_code == 400
    assert "state mismatch" in response.get_data(True)
    assert response.mimetype == "text/html"
    assert _session_user_id(client) is None
    assert oauth.token_requests() == []  # the code was never redeemed
    assert db.session.scalar(select(User)) is None


def test_a_callback_without_a_sign_in_started_in_this_browser_is_refused(client, oauth, org):
    callback = oauth.authorize(_start(client, "google"), _account(oauth, "google"))
    other_browser = client.application.test_client()

    response = other_browser.get(callback)

    assert response.status_code == 400
    assert "start again" in response.get_data(True)


def test_a_callback_replayed_after_sign_in_is_refused(client, oauth, org):
    callback = oauth.authorize(_start(client, "microsoft"), _account(oauth, "microsoft"))
    assert client.get(callback).status_code == 302

    replay = client.get(callback)

    assert replay.status_code == 400
    assert len(oauth.token_requests("authorization_code")) == 1


def test_unknown_microsoft_tenant_is_refused_with_a_clear_page(client, oauth, org):
    stranger = oauth.microsoft_account(
        "0b0b0b0b-2222-4c3d-8e9f-00000000b002", "eve@fabrikam.example"
    )

    response = _sign_in(client, oauth, "microsoft", stranger)

    assert response.status_code == 401
    assert "This Microsoft tenant is not connected to Liaison." in response.get_data(True)
    assert _session_user_id(client) is None
    assert db.session.scalar(select(User)) is None


def test_unknown_google_domain_is_refused_with_a_clear_page(client, oauth, org):
    stranger = oauth.google_account("eve@fabrikam.example")

    response = _sign_in(client, oauth, "google", stranger)

    assert response.status_code == 401
    assert "The Google domain fabrikam.example is not connected to Liaison." in response.get_data(
        True
    )
    assert _session_user_id(client) is None


def test_declined_consent_shows_the_providers_reason(client, oauth, org):
    callback = oauth.authorize(_start(client, "microsoft"), _account(oauth, "microsoft"), deny=True)

    response = client.get(callback)

    assert response.status_code == 401
    assert "The user declined consent." in response.get_data(True)
    assert _session_user_id(client) is None


def test_sign_in_links_an_existing_user_and_returns_to_the_page_asked_for(client, oauth, org):
    existing = make_user(org, role="admin", email="ada@contoso.example")

    response = _sign_in(client, oauth, "google", _account(oauth, "google"), "?next=/contacts")

    assert response.headers["Location"] == "/contacts"
    assert _session_user_id(client) == existing.id
    assert db.session.scalar(select(User).where(User.id != existing.id)) is None


def test_next_never_leads_to_another_site(client, oauth, org):
    response = _sign_in(
        client, oauth, "microsoft", _account(oauth, "microsoft"), "?next=//evil.example/x"
    )
    assert response.headers["Location"] == "/"


def test_deactivated_user_cannot_sign_in(client, oauth, org):
    make_user(org, email="ada@contoso.example", is_active=False)

    response = _sign_in(client, oauth, "google", _account(oauth, "google"))

    assert response.status_code == 403
    assert "deactivated" in response.get_data(True)
    assert _session_user_id(client) is None


def test_sign_in_without_a_client_secret_says_it_is_not_configured(client, oidc, app):
    response = client.get("/auth/signin/microsoft")

    assert response.status_code == 503
    assert "LIAISON_MS_CLIENT_SECRET" in response.get_data(True)


def test_microsoft_id_token_with_another_nonce_is_refused(app, oauth, org):
    account = oauth.microsoft_account(TENANT, "ada@contoso.example")
    token = oauth.issuer.ms_token(
        TENANT, account.oid, iss=f"{oauth.url}/{TENANT}/v2.0", nonce="the-other-sign-in"
    )

    with pytest.raises(Unauthorized, match="nonce mismatch"):
        verify_microsoft_id_token(token, nonce="this-sign-in")
    assert verify_microsoft_id_token(token, nonce="the-other-sign-in")["oid"] == account.oid


def test_microsoft_id_token_for_another_app_is_refused(app, oauth, org):
    token = oauth.issuer.ms_token(TENANT, iss=f"{oauth.url}/{TENANT}/v2.0", aud="another-app")

    with pytest.raises(Unauthorized, match="does not verify"):
        verify_microsoft_id_token(token)
