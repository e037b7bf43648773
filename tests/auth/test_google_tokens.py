"""Google ID tokens through the real google-auth code against the local fake issuer."""

import time
import uuid

import pytest
from factories import make_org, make_user
from fakes.oidc import DROP, GOOGLE_CERTS_PATH, GOOGLE_CLIENT_ID, SigningKey
from sqlalchemy import func, select

from server.auth.google import user_for_google_claims, verify_google_id_token
from server.errors import Unauthorized
from server.extensions import db
from server.orgs.models import ExternalIdentity, User

ADDON_ENDPOINT = "https://liaison.example/gmail/homepage"


@pytest.fixture
def org(app):
    return make_org("Initech", domain="initech.example")


def me(client, token):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def assert_unauthorized(response, message):
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"code": "unauthorized", "message": message, "field": None}}


def test_valid_google_token_signs_in_on_the_api_and_provisions_user(client, oidc, org):
    token = oidc.google_token("Grace@Initech.example", name="Grace H", sub="1234567890")

    response = me(client, token)

    assert response.status_code == 200, response.json
    assert response.json["user"]["email"] == "grace@initech.example"
    assert response.json["user"]["name"] == "Grace H"
    assert response.json["org"]["id"] == org.id
    identity = db.session.scalar(select(ExternalIdentity))
    assert (identity.provider, identity.subject) == ("google", "1234567890")


def test_addon_audience_is_the_endpoint_url(app, oidc, org):
    token = oidc.google_token("grace@initech.example", aud=ADDON_ENDPOINT)

    claims = verify_google_id_token(token, ADDON_ENDPOINT)

    assert claims["email"] == "grace@initech.example"
    with pytest.raises(Unauthorized) as refused:
        verify_google_id_token(token, GOOGLE_CLIENT_ID)
    assert refused.value.message == (
        f"The Google ID token is for another audience; expected {GOOGLE_CLIENT_ID}."
    )


def test_wrong_audience_is_refused(client, oidc, org):
    token = oidc.google_token(
        "grace@initech.example", aud="someone-else.apps.googleusercontent.com"
    )
    assert_unauthorized(
        me(client, token),
        f"The Google ID token is for another audience; expected {GOOGLE_CLIENT_ID}.",
    )


def test_expired_token_is_refused(client, oidc, org):
    past = int(time.time()) - 7200
    token = oidc.google_token("grace@initech.example", iat=past, exp=past + 3600)
    assert_unauthorized(me(client, token), "The Google ID token has expired; get a new one.")


def test_unsigned_token_is_refused(client, oidc, org):
    token = oidc.google_token("grace@initech.example", alg="none")
    assert_unauthorized(
        me(client, token), "The Google ID token is unsigned (alg 'none'); it must be RS256-signed."
    )


def test_forged_signature_is_refused(client, oidc, org):
    token = oidc.google_token("grace@initech.example", key=SigningKey(), kid=oidc.current.kid)
    assert_unauthorized(me(client, token), "The Google ID token's signature does not verify.")


def test_token_from_another_issuer_is_not_google(app, oidc, org):
    token = oidc.google_token("grace@initech.example", iss="https://accounts.evil.example")
    with pytest.raises(Unauthorized) as refused:
        verify_google_id_token(token, GOOGLE_CLIENT_ID)
    assert refused.value.message == "The Google ID token was not issued by Google (wrong 'iss')."


def test_unknown_domain_is_refused(client, oidc, org):
    token = oidc.google_token("someone@elsewhere.example")
    assert_unauthorized(
        me(client, token), "The Google domain elsewhere.example is not connected to Liaison."
    )
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_account_without_workspace_domain_maps_by_email_domain(client, oidc, org):
    token = oidc.google_token("wally@initech.example", hd=DROP)
    response = me(client, token)
    assert response.status_code == 200
    assert response.json["org"]["id"] == org.id


def test_unverified_email_is_refused(app, oidc, org):
    claims = oidc.google_claims("grace@initech.example", email_verified=False)
    with pytest.raises(Unauthorized) as refused:
        user_for_google_claims(claims)
    assert refused.value.message == "The Google account's email address is not verified."


def test_same_person_through_microsoft_and_google_is_one_user(client, oidc):
    tenant = str(uuid.uuid4())
    org = make_org("Both", tenant_id=tenant, domain="both.example")
    from_outlook = me(client, oidc.ms_token(tenant, preferred_username="pat@both.example"))
    from_gmail = me(client, oidc.google_token("pat@both.example"))

    assert from_outlook.json["user"]["id"] == from_gmail.json["user"]["id"]
    assert from_gmail.json["org"]["id"] == org.id
    providers = db.session.scalars(select(ExternalIdentity.provider).order_by("provider")).all()
    assert providers == ["google", "microsoft"]


def test_deactivated_user_is_refused(client, oidc, org):
    make_user(org, email="gone@initech.example", is_active=False)
    response = me(client, oidc.google_token("gone@initech.example"))
    assert response.status_code == 403
    assert response.json["error"]["message"] == (
        "This Liaison account is deactivated; ask your administrator."
    )
    assert db.session.scalar(select(func.count()).select_from(ExternalIdentity)) == 0


def test_certificates_are_kept_for_their_max_age(client, oidc, org):
    for _ in range(3):
        assert me(client, oidc.google_token("grace@initech.example")).status_code == 200
    assert oidc.fetches(GOOGLE_CERTS_PATH) == 1


def test_certificates_without_max_age_are_fetched_each_time(client, oidc, org):
    oidc.certs_max_age = 0
    for _ in range(3):
        assert me(client, oidc.google_token("grace@initech.example")).status_code == 200
    assert oidc.fetches(GOOGLE_CERTS_PATH) == 3


def test_rotated_certificate_is_fetched_once_when_a_token_names_it(
    client, oidc, org, app, monkeypatch
):
    monkeypatch.setitem(app.config, "GOOGLE_CERTS_REFRESH_COOLDOWN", 0)
    assert me(client, oidc.google_token("grace@initech.example")).status_code == 200
    oidc.rotate(keep_old=False)

    for _ in range(3):
        assert me(client, oidc.google_token("grace@initech.example")).status_code == 200

    assert oidc.fetches(GOOGLE_CERTS_PATH) == 2


def test_unknown_certificate_within_cooldown_is_refused_without_refetch(client, oidc, org):
    assert me(client, oidc.google_token("grace@initech.example")).status_code == 200
    token = oidc.google_token("grace@initech.example", key=SigningKey())
    assert_unauthorized(
        me(client, token),
        "The Google ID token is signed by a key Google does not publish (unknown 'kid').",
    )
    assert oidc.fetches(GOOGLE_CERTS_PATH) == 1
