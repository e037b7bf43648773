"""Microsoft identity tokens through the real PyJWT code against the local fake issuer."""

import time
import uuid

import pytest
from factories import make_org, make_user
from fakes.oidc import DROP, MS_CLIENT_ID, MS_KEYS_PATH, SigningKey
from sqlalchemy import func, select

from server.extensions import db
from server.orgs.models import ExternalIdentity, User

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def org(app):
    return make_org("Contoso", tenant_id=TENANT)


def me(client, token):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def assert_unauthorized(response, message):
    assert response.status_code == 401, response.json
    assert response.json == {"error": {"code": "unauthorized", "message": message, "field": None}}


def test_valid_token_signs_in_and_provisions_user_in_tenant_org(client, oidc, org):
    oid = str(uuid.uuid4())
    token = oidc.ms_token(TENANT, oid, preferred_username="Ada@Contoso.Example", name="Ada L")

    response = me(client, token)

    assert response.status_code == 200, response.json
    assert response.json["user"]["email"] == "ada@contoso.example"
    assert response.json["user"]["name"] == "Ada L"
    assert response.json["user"]["role"] == "rep"
    assert response.json["org"] == {
        "id": org.id,
        "name": "Contoso",
        "edition": "standard",
        "time_zone": "UTC",
    }
    user = db.session.scalar(select(User).where(User.email == "ada@contoso.example"))
    assert user.org_id == org.id
    identity = db.session.scalar(
        select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
    )
    assert (identity.provider, identity.subject) == ("microsoft", f"{TENANT}:{oid}")


def test_later_sign_in_finds_user_by_identity_not_email(client, oidc, org):
    oid = str(uuid.uuid4())
    first = me(client, oidc.ms_token(TENANT, oid, preferred_username="ada@contoso.example"))
    renamed = me(client, oidc.ms_token(TENANT, oid, preferred_username="ada.l@contoso.example"))

    assert first.json["user"]["id"] == renamed.json["user"]["id"]
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(func.count()).select_from(ExternalIdentity)) == 1


def test_first_sign_in_links_to_user_an_admin_already_added(client, oidc, org):
    existing = make_user(org, role="admin", email="ada@contoso.example")

    response = me(client, oidc.ms_token(TENANT, preferred_username="ADA@contoso.example"))

    assert response.json["user"]["id"] == existing.id
    assert response.json["user"]["role"] == "admin"


def test_forged_signature_is_refused(client, oidc, org):
    forger = SigningKey()
    token = oidc.ms_token(TENANT, key=forger, kid=oidc.current.kid)
    assert_unauthorized(me(client, token), "The Microsoft token's signature does not verify.")


def test_expired_token_is_refused(client, oidc, org):
    past = int(time.time()) - 7200
    token = oidc.ms_token(TENANT, iat=past, nbf=past, exp=past + 3600)
    assert_unauthorized(me(client, token), "The Microsoft token has expired; get a new one.")


def test_token_just_past_expiry_is_within_the_clock_leeway(client, oidc, org):
    token = oidc.ms_token(TENANT, exp=int(time.time()) - 5)
    assert me(client, token).status_code == 200


def test_token_not_valid_yet_is_refused(client, oidc, org):
    later = int(time.time()) + 3600
    token = oidc.ms_token(TENANT, nbf=later, iat=later, exp=later + 3600)
    assert_unauthorized(
        me(client, token), "The Microsoft token is not valid yet (nbf or iat in the future)."
    )


def test_wrong_audience_is_refused(client, oidc, org):
    token = oidc.ms_token(TENANT, aud="00000003-0000-0000-c000-000000000000")  # Graph's
    assert_unauthorized(
        me(client, token), f"The Microsoft token is for another audience; expected {MS_CLIENT_ID}."
    )


def test_api_audience_uri_is_accepted_when_configured(client, oidc, org, monkeypatch, app):
    monkeypatch.setitem(app.config, "MS_API_AUDIENCE", f"api://localhost/{MS_CLIENT_ID}")
    token = oidc.ms_token(TENANT, aud=f"api://localhost/{MS_CLIENT_ID}")
    assert me(client, token).status_code == 200


@pytest.mark.parametrize(
    "issuer",
    [
        "https://login.microsoftonline.com/{tid}/v2.0",  # the real authority, not ours
        "{url}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",  # another tenant's issuer
        "https://sts.windows.net/{tid}/",  # a v1.0 token
    ],
)
def test_wrong_issuer_is_refused(client, oidc, org, issuer):
    token = oidc.ms_token(TENANT, iss=issuer.format(url=oidc.url, tid=TENANT))
    assert_unauthorized(
        me(client, token),
        f"The Microsoft token has the wrong issuer; expected {oidc.url}/{TENANT}/v2.0 for its "
        "tenant.",
    )


def test_unsigned_token_is_refused(client, oidc, org):
    token = oidc.ms_token(TENANT, alg="none")
    assert_unauthorized(
        me(client, token), "The Microsoft token is unsigned (alg 'none'); it must be RS256-signed."
    )


def test_hs256_token_made_with_the_public_key_is_refused(client, oidc, org):
    token = oidc.ms_token(TENANT, alg="HS256")  # the classic key-confusion forgery
    assert_unauthorized(
        me(client, token), "The Microsoft token is signed with HS256; only RS256 is accepted."
    )


@pytest.mark.parametrize("scp", ["User.Read Mail.Send", DROP])
def test_token_without_the_required_scope_is_refused(client, oidc, org, scp):
    token = oidc.ms_token(TENANT, scp=scp)
    assert_unauthorized(me(client, token), "The Microsoft token lacks the scope 'access_as_user'.")


def test_token_without_object_id_is_refused(client, oidc, org):
    token = oidc.ms_token(TENANT, oid=DROP)
    assert_unauthorized(me(client, token), "The Microsoft token lacks the 'oid' claim.")


def test_unknown_tenant_is_refused(client, oidc, org):
    token = oidc.ms_token("0b5b8c3a-0000-4000-8000-0000000000ff")
    assert_unauthorized(me(client, token), "This Microsoft tenant is not connected to Liaison.")
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_deactivated_user_is_refused(client, oidc, org):
    oid = str(uuid.uuid4())
    me(client, oidc.ms_token(TENANT, oid))
    user = db.session.scalar(select(User))
    user.is_active = False
    db.session.commit()

    response = me(client, oidc.ms_token(TENANT, oid))

    assert response.status_code == 403
    assert response.json["error"]["message"] == (
        "This Liaison account is deactivated; ask your administrator."
    )


def test_signing_keys_are_cached_between_requests(client, oidc, org):
    for _ in range(3):
        assert me(client, oidc.ms_token(TENANT)).status_code == 200
    assert oidc.fetches(MS_KEYS_PATH) == 1


def test_rotated_key_is_fetched_once_when_a_token_names_it(client, oidc, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "MS_JWKS_REFRESH_COOLDOWN", 0)
    assert me(client, oidc.ms_token(TENANT)).status_code == 200
    oidc.rotate(keep_old=False)

    for _ in range(3):
        assert me(client, oidc.ms_token(TENANT)).status_code == 200

    assert oidc.fetches(MS_KEYS_PATH) == 2  # the first fetch and one refresh for the new kid


def test_unknown_kids_do_not_hammer_the_key_endpoint(client, oidc, org):
    assert me(client, oidc.ms_token(TENANT)).status_code == 200
    stranger = SigningKey()
    for _ in range(3):
        assert_unauthorized(
            me(client, oidc.ms_token(TENANT, key=stranger)),
            "The Microsoft token is signed by a key Microsoft does not publish (unknown 'kid').",
        )
    assert oidc.fetches(MS_KEYS_PATH) == 1  # within the refresh cooldown: no refetch


def test_garbage_bearer_is_refused_with_a_clear_message(client, oidc):
    response = me(client, "not-a-token")
    assert response.status_code == 401
    assert response.json["error"] == {
        "code": "unauthorized",
        "message": "The bearer token is neither a Liaison API token nor an identity token (JWT).",
        "field": "Authorization",
    }


def test_unconfigured_client_id_refuses_microsoft_tokens(client, oidc, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "MS_CLIENT_ID", None)
    assert_unauthorized(
        me(client, oidc.ms_token(TENANT)),
        "Microsoft sign-in is not configured on this server (MS_CLIENT_ID).",
    )
