"""Web sign-in with Microsoft or Google: the authorization-code flow with state, nonce and PKCE.

`start_signin(provider, redirect_uri)` returns the provider URL to send the browser to and the
flow to keep in the session; `finish_signin(provider, flow, auth_response)` checks the state,
redeems the code (MSAL for Microsoft, requests for Google), verifies the ID token against the
provider's keys (signature, issuer, audience = our client id, expiry, nonce) and returns the
user, provisioned on first sign-in into the org their tenant or domain maps to. Routes:
server/auth/signin_routes.py.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
from flask import current_app

from ..errors import BadRequest, Unauthorized
from ..orgs.models import User
from .google import user_for_google_claims, verify_google_id_token
from .microsoft import (
    LEEWAY_SECONDS,
    _checked_header,
    _signing_key,
    _unverified_tenant,
    user_for_microsoft_claims,
)
from .oauth_clients import (
    ProviderUnavailable,
    google_auth_flow,
    google_client,
    google_redeem_code,
    ms_auth_flow,
    msal_app,
)

SIGNIN_PROVIDERS = ("microsoft", "google")
GOOGLE_SIGNIN_SCOPES = ["openid", "email", "profile"]
PROVIDER_NAMES = {"microsoft": "Microsoft", "google": "Google"}


def _known(provider: str) -> str:
    if provider not in SIGNIN_PROVIDERS:
        raise BadRequest(f"Unknown identity provider {provider!r}.", field="provider")
    return provider


def start_signin(provider: str, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """(provider URL to redirect to, flow to keep in the session) for a new sign-in."""
    if _known(provider) == "microsoft":
        flow = ms_auth_flow([], redirect_uri)
    else:
        flow = google_auth_flow(GOOGLE_SIGNIN_SCOPES, redirect_uri, offline=False)
    return flow.pop("auth_uri"), flow


def check_auth_response(provider: str, flow: dict[str, Any] | None, response: dict) -> None:
    """Refuse a redirect that is not the answer to `flow` (state) or that carries an error."""
    sent, expected = str(response.get("state") or ""), str((flow or {}).get("state") or "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise BadRequest(
            "This sign-in response does not belong to a sign-in started in this browser "
            "(state mismatch); start again.",
            field="state",
        )
    if response.get("error"):
        detail = response.get("error_description") or response["error"]
        raise Unauthorized(f"{PROVIDER_NAMES[provider]} did not sign you in: {detail}")
    if not response.get("code"):
        raise BadRequest(f"{PROVIDER_NAMES[provider]} sent no authorization code.", field="code")


def verify_microsoft_id_token(id_token: str, nonce: str | None = None) -> dict[str, Any]:
    """Verify an ID token from Microsoft's token endpoint: RS256 by a published key, issuer
    `{MS_AUTHORITY}/{tid}/v2.0`, audience MS_CLIENT_ID, validity window, and the nonce."""
    kid = _checked_header(id_token)
    key = _signing_key(kid)
    authority = current_app.config["MS_AUTHORITY"].rstrip("/")
    issuer = f"{authority}/{_unverified_tenant(id_token)}/v2.0"
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=current_app.config["MS_CLIENT_ID"],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "tid", "oid"]},
        )
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"Microsoft's ID token does not verify: {exc}.") from exc
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce") or ""), nonce):
        raise Unauthorized("Microsoft's ID token answers another sign-in (nonce mismatch).")
    return claims


def microsoft_nonce(flow: dict[str, Any]) -> str:
    """The nonce MSAL sent for `flow` (it sends the SHA-256 hex of the one it keeps)."""
    return hashlib.sha256(str(flow["nonce"]).encode("ascii")).hexdigest()


def redeem_microsoft_code(app: Any, flow: dict[str, Any], response: dict) -> dict[str, Any]:
    """Redeem a Microsoft code with MSAL `app`; the token result (tokens land in its cache)."""
    try:
        result = app.acquire_token_by_auth_code_flow(flow, response)
    except (ValueError, RuntimeError) as exc:  # MSAL: state or nonce mismatch
        raise Unauthorized(f"Microsoft's answer does not match this sign-in: {exc}") from exc
    except OSError as exc:  # requests' errors are OSErrors
        raise ProviderUnavailable(
            f"Microsoft's token endpoint could not be reached: {exc}"
        ) from exc
    if "error" in result:
        detail = result.get("error_description") or result["error"]
        raise Unauthorized(f"Microsoft refused the sign-in code: {detail}")
    if "id_token" not in result:
        raise Unauthorized("Microsoft sent no ID token (the 'openid' scope was not granted).")
    return result


def verified_google_claims(flow: dict[str, Any], token_response: dict) -> dict[str, Any]:
    """The verified claims of the ID token in Google's token response, nonce checked."""
    id_token = token_response.get("id_token")
    if not id_token:
        raise Unauthorized("Google sent no ID token (the 'openid' scope was not granted).")
    client_id, _ = google_client()
    claims = verify_google_id_token(id_token, client_id)
    if not hmac.compare_digest(str(claims.get("nonce") or ""), str(flow.get("nonce") or "")):
        raise Unauthorized("Google's ID token answers another sign-in (nonce mismatch).")
    return claims


def finish_signin(provider: str, flow: dict[str, Any] | None, response: dict) -> User:
    """The user signing in with the provider's redirect `response` to `flow`."""
    check_auth_response(_known(provider), flow, response)
    assert flow is not None
    if provider == "microsoft":
        result = redeem_microsoft_code(msal_app(), flow, response)
        claims = verify_microsoft_id_token(result["id_token"], microsoft_nonce(flow))
        return user_for_microsoft_claims(claims)
    token_response = google_redeem_code(flow, response["code"])
    return user_for_google_claims(verified_google_claims(flow, token_response))
