"""OAuth clients for Microsoft (MSAL) and Google (plain OAuth 2.0 with PKCE), built per call from
the app's configuration — nothing is created at import.

Microsoft: an MSAL ConfidentialClientApplication for `{MS_AUTHORITY}/organizations` with
MS_CLIENT_ID / MS_CLIENT_SECRET. Instance discovery is off (MSAL would otherwise ask
login.microsoftonline.com about the authority); the authority's OpenID configuration is fetched
once per thread and kept in MSAL's http cache. Each call gets its own app because an MSAL app is
bound to one token cache, and Liaison keeps one cache per mailbox.

Google: the authorization request (state, nonce, PKCE S256) is built here and the code is
redeemed with requests at GOOGLE_TOKEN_URI; google-auth refreshes tokens later.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import warnings
from typing import Any
from urllib.parse import urlencode

import msal
import requests
from flask import current_app

from ..config import Config
from ..errors import ServiceError, Unauthorized

HTTP_TIMEOUT = 10
_MSAL_HTTP_CACHE = "liaison.msal_http_cache"


class NotConfigured(ServiceError):
    """A provider's sign-in is not configured on this server."""

    status, code = 503, "not_configured"


class ProviderUnavailable(ServiceError):
    """The identity provider could not be reached or answered with a server error; retry later."""

    status, code = 503, "provider_unavailable"


# --- Microsoft ----------------------------------------------------------------------------------


def ms_authority() -> str:
    """The MSAL authority: work and school accounts of any tenant (mapped to orgs afterwards)."""
    return f"{current_app.config['MS_AUTHORITY'].rstrip('/')}/organizations"


def _msal_http_cache() -> dict:
    """MSAL's http cache for this app and thread (discovery documents, throttling state)."""
    local = current_app.extensions.setdefault(_MSAL_HTTP_CACHE, threading.local())
    if not hasattr(local, "cache"):
        local.cache = {}
    return local.cache


def reset_msal_cache(app: Any) -> None:
    """Forget MSAL's cached discovery documents (configuration changed, tests)."""
    app.extensions.pop(_MSAL_HTTP_CACHE, None)


def msal_app(
    token_cache: msal.SerializableTokenCache | None = None,
) -> msal.ConfidentialClientApplication:
    """An MSAL confidential client for the configured app registration and `token_cache`."""
    config = current_app.config
    client_id, secret = config.get("MS_CLIENT_ID"), config.get("MS_CLIENT_SECRET")
    if not client_id or not secret:
        raise NotConfigured(
            "Microsoft sign-in is not configured on this server "
            "(set LIAISON_MS_CLIENT_ID and LIAISON_MS_CLIENT_SECRET)."
        )
    try:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=ms_authority(),
            instance_discovery=False,
            token_cache=token_cache,
            http_cache=_msal_http_cache(),
            timeout=HTTP_TIMEOUT,
        )
    except (ValueError, requests.RequestException) as exc:
        raise ProviderUnavailable(
            f"Microsoft's sign-in configuration could not be read from {ms_authority()}: {exc}"
        ) from exc


def ms_auth_flow(scopes: list[str], redirect_uri: str) -> dict[str, Any]:
    """Start a Microsoft authorization-code flow with MSAL (state, nonce, PKCE): the dict to keep
    in the session, with `auth_uri`.

    The code comes back in the query string, not form_post: the callback must see the session
    cookie, which browsers do not send (SameSite=Lax) with a cross-site POST. PKCE, the one-time
    code and the state bound to the session cover what form_post would add.
    """
    app = msal_app()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
        return app.initiate_auth_code_flow(
            scopes=scopes, redirect_uri=redirect_uri, prompt="select_account"
        )


# --- Google -------------------------------------------------------------------------------------


def google_client() -> tuple[str, str]:
    """(client id, client secret) of the Google OAuth client; NotConfigured without them."""
    config = current_app.config
    client_id, secret = config.get("GOOGLE_CLIENT_ID"), config.get("GOOGLE_CLIENT_SECRET")
    if not client_id or not secret:
        raise NotConfigured(
            "Google sign-in is not configured on this server "
            "(set LIAISON_GOOGLE_CLIENT_ID and LIAISON_GOOGLE_CLIENT_SECRET)."
        )
    return client_id, secret


def google_token_uri() -> str:
    """Google's token endpoint (GOOGLE_TOKEN_URI)."""
    return current_app.config.get("GOOGLE_TOKEN_URI") or Config.GOOGLE_TOKEN_URI


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def google_auth_flow(scopes: list[str], redirect_uri: str, offline: bool) -> dict[str, Any]:
    """Start a Google authorization-code flow: the dict to keep in the session, with `auth_uri`.

    `offline` asks for a refresh token (access_type=offline, prompt=consent so Google sends one
    again on a reconnect).
    """
    client_id, _ = google_client()
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "code_verifier": secrets.token_urlsafe(64),
        "redirect_uri": redirect_uri,
        "scope": scopes,
    }
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": _pkce_challenge(flow["code_verifier"]),
        "code_challenge_method": "S256",
    }
    if offline:
        params.update(access_type="offline", prompt="consent")
    else:
        params["prompt"] = "select_account"
    base = current_app.config.get("GOOGLE_AUTH_URI") or Config.GOOGLE_AUTH_URI
    flow["auth_uri"] = f"{base}?{urlencode(params)}"
    return flow


def google_redeem_code(flow: dict[str, Any], code: str) -> dict[str, Any]:
    """Exchange an authorization code at Google's token endpoint; the token response."""
    client_id, secret = google_client()
    try:
        response = requests.post(
            google_token_uri(),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uri": flow["redirect_uri"],
                "code_verifier": flow["code_verifier"],
            },
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"Google's token endpoint could not be reached: {exc}") from exc
    if response.status_code >= 500:
        raise ProviderUnavailable(f"Google's token endpoint answered {response.status_code}.")
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderUnavailable(
            "Google's token endpoint answered with something not JSON."
        ) from exc
    if response.status_code != 200 or "error" in body:
        description = body.get("error_description") or body.get("error") or response.status_code
        raise Unauthorized(f"Google refused the sign-in code: {description}.")
    return body
