"""Every /gmail/... request is verified with google-auth against the fake issuer's certificates:
Google's system ID token (audience the endpoint URL, email the add-on's service account) and the
user's ID token in the event; anything else is 401 (UI-2)."""

from __future__ import annotations

import time

import pytest
from fakes.oidc import SigningKey
from sqlalchemy import select

from server.extensions import db
from server.orgs.models import User

from .conftest import BASE, USER_EMAIL, pushed, texts


def refused(response, fragment: str) -> None:
    assert response.status_code == 401, response.data
    assert response.json["error"]["code"] == "unauthorized"
    assert fragment in response.json["error"]["message"]


def test_signed_request_gets_the_homepage_and_provisions_the_user(addon, org):
    card = pushed(addon.post("/gmail/homepage"))

    assert card["header"]["title"] == "Liaison"
    assert USER_EMAIL in texts(card)
    user = db.session.scalar(select(User).where(User.email == USER_EMAIL))
    assert user.org_id == org.id


@pytest.mark.parametrize("path", ["/gmail/homepage", "/gmail/message", "/gmail/compose",
                                  "/gmail/actions/log"])  # fmt: skip
def test_system_token_for_another_endpoint_is_refused(addon, org, path):
    token = addon.system_token(path, aud=BASE + "/gmail/other")

    refused(addon.post(path, token=token), "another audience")


def test_system_token_of_another_service_account_is_refused(addon, org):
    token = addon.system_token("/gmail/homepage", email="mallory@evil.example")

    refused(addon.post("/gmail/homepage", token=token), "service account")


def test_user_id_token_in_place_of_the_system_token_is_refused(addon, org):
    token = addon.user_token("/gmail/homepage")

    refused(addon.post("/gmail/homepage", token=token), "service account")


def test_expired_system_token_is_refused(addon, org):
    past = int(time.time()) - 7200
    token = addon.system_token("/gmail/homepage", iat=past, exp=past + 3600)

    refused(addon.post("/gmail/homepage", token=token), "expired")


def test_unsigned_system_token_is_refused(addon, org):
    claims = addon.oidc.google_claims(
        "service-4242@gcp-sa-gsuiteaddons.iam.gserviceaccount.com", aud=BASE + "/gmail/homepage"
    )
    token = addon.oidc.sign(claims, alg="none")

    refused(addon.post("/gmail/homepage", token=token), "unsigned")


def test_system_token_signed_by_another_key_is_refused(addon, org):
    forger = SigningKey(kid=addon.oidc.current.kid)  # same key id, different key
    token = addon.system_token("/gmail/homepage", key=forger)

    refused(addon.post("/gmail/homepage", token=token), "signature")


def test_missing_authorization_is_refused(addon, org):
    refused(addon.post("/gmail/homepage", token=""), "Authorization")


def test_missing_user_id_token_is_refused(addon, org):
    event = addon.event("/gmail/homepage")
    del event["authorizationEventObject"]["userIdToken"]

    refused(addon.post("/gmail/homepage", event=event), "userIdToken")


def test_expired_user_id_token_is_refused(addon, org):
    past = int(time.time()) - 7200
    user_token = addon.user_token("/gmail/homepage", iat=past, exp=past + 3600)

    refused(addon.post("/gmail/homepage", user_token=user_token), "expired")


def test_user_id_token_with_a_bad_signature_is_refused(addon, org):
    forger = SigningKey(kid=addon.oidc.current.kid)
    user_token = addon.user_token("/gmail/homepage", key=forger)

    refused(addon.post("/gmail/homepage", user_token=user_token), "signature")


def test_user_of_a_domain_not_connected_is_refused(addon, org):
    user_token = addon.user_token("/gmail/homepage", email="eve@elsewhere.example")

    refused(addon.post("/gmail/homepage", user_token=user_token), "not connected")


def test_not_configured_server_refuses(addon, org, app):
    app.config["GMAIL_ADDON_SERVICE_ACCOUNT"] = None

    refused(addon.post("/gmail/homepage"), "not configured")
