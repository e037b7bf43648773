"""Google ID tokens (Gmail add-on, web sign-in, API bearer), verified with google-auth.

`verify_google_id_token(token, audience)` checks the RS256 signature against Google's
certificates (GOOGLE_CERTS_URL, kept as long as their Cache-Control max-age allows and fetched
again once when a token names a key not in them), the validity window, the audience (the add-on
endpoint's URL, or GOOGLE_CLIENT_ID) and the issuer. `user_for_google_claims` maps the account to
the org of its Workspace domain (`hd`) or email domain and provisions the user on first use.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import google.auth.transport.requests
import jwt
import requests
from flask import current_app
from google.auth import exceptions as google_exceptions
from google.auth import transport
from google.oauth2 import id_token
from sqlalchemy import select

from ..errors import Unauthorized
from ..extensions import db
from ..orgs.models import OrgDomain, User
from .jwt_header import rs256_key_id
from .provisioning import provision_user

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
LEEWAY_SECONDS = 60
_CACHE_KEY = "liaison.google_certs"
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)


class CachingRequest(transport.Request):
    """A google-auth transport that keeps GET responses as long as Cache-Control max-age says."""

    def __init__(self, timeout: float = 10) -> None:
        self._http = google.auth.transport.requests.Request(session=requests.Session())
        self._timeout = timeout
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, float, Any]] = {}  # url → (fetched, expires, resp)

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        """Answer a GET from the cache while it is fresh; anything else goes to the network."""
        timeout = timeout or self._timeout
        if method != "GET" or body is not None:
            return self._http(url, method=method, body=body, headers=headers, timeout=timeout)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and entry[1] > now:
            return entry[2]
        response = self._http(url, method="GET", headers=headers, timeout=timeout, **kwargs)
        found = _MAX_AGE.search(response.headers.get("Cache-Control", "") or "")
        if response.status == 200 and found and int(found.group(1)) > 0:
            with self._lock:
                self._entries[url] = (now, now + int(found.group(1)), response)
        return response

    def cached(self, url: str) -> tuple[float, Any] | None:
        """(age in seconds, response) of the fresh cached GET of `url`, or None."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry is None or entry[1] <= now:
            return None
        return now - entry[0], entry[2]

    def forget(self, url: str) -> None:
        """Drop the cached response for `url`."""
        with self._lock:
            self._entries.pop(url, None)


def _transport() -> CachingRequest:
    cached = current_app.extensions.get(_CACHE_KEY)
    if cached is None:
        cached = current_app.extensions[_CACHE_KEY] = CachingRequest()
    return cached


def reset_certs_cache(app: Any) -> None:
    """Forget the app's cached Google certificates (configuration changed, tests)."""
    app.extensions.pop(_CACHE_KEY, None)


def _checked_header(token: str) -> str | None:
    return rs256_key_id(token, "The Google ID token")


def _published_kids(response: Any) -> set[str]:
    certs = json.loads(response.data.decode("utf-8"))
    if "keys" in certs:
        return {key.get("kid") for key in certs["keys"] if isinstance(key, dict)}
    return set(certs)


def _refresh_for_unknown_kid(request: CachingRequest, url: str, kid: str | None) -> None:
    """Drop cached certificates that lack the token's key, at most once per cooldown."""
    cached = request.cached(url)
    if not kid or cached is None:
        return  # nothing kept: verify_token fetches the current certificates anyway
    age, response = cached
    if kid in _published_kids(response):
        return
    if age >= current_app.config.get("GOOGLE_CERTS_REFRESH_COOLDOWN", 30):
        request.forget(url)


def _message_for(exc: Exception, audience: str | list[str]) -> str:
    text = str(exc)
    expected = " or ".join([audience] if isinstance(audience, str) else audience)
    if isinstance(exc, jwt.ExpiredSignatureError) or text.startswith("Token expired"):
        return "The Google ID token has expired; get a new one."
    if isinstance(exc, jwt.ImmatureSignatureError) or text.startswith("Token used too early"):
        return "The Google ID token is not valid yet (iat in the future)."
    if isinstance(exc, jwt.InvalidAudienceError) or "wrong audience" in text:
        return f"The Google ID token is for another audience; expected {expected}."
    if isinstance(exc, jwt.InvalidSignatureError) or "Could not verify token signature" in text:
        return "The Google ID token's signature does not verify."
    if isinstance(exc, jwt.PyJWKClientError) or text.startswith("Certificate for key id"):
        return "The Google ID token is signed by a key Google does not publish (unknown 'kid')."
    return f"The Google ID token is invalid: {text}"


def verify_google_id_token(token: str, audience: str | list[str] | None) -> dict[str, Any]:
    """Verify a Google-signed ID token for `audience` and return its claims."""
    if not audience:
        raise Unauthorized("Google sign-in is not configured on this server (GOOGLE_CLIENT_ID).")
    kid = _checked_header(token)
    url = current_app.config["GOOGLE_CERTS_URL"]
    request = _transport()
    _refresh_for_unknown_kid(request, url, kid)
    try:
        claims = id_token.verify_token(
            token,
            request,
            audience=audience,
            certs_url=url,
            clock_skew_in_seconds=LEEWAY_SECONDS,
        )
    except google_exceptions.TransportError as exc:
        raise Unauthorized("Google's certificates could not be fetched; try again.") from exc
    except (ValueError, jwt.PyJWTError) as exc:
        raise Unauthorized(_message_for(exc, audience)) from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthorized("The Google ID token was not issued by Google (wrong 'iss').")
    if not claims.get("sub"):
        raise Unauthorized("The Google ID token names no account (no 'sub' claim).")
    return dict(claims)


def _org_for_domains(domains: list[str]) -> int | None:
    for domain in domains:
        org_id = db.session.scalar(select(OrgDomain.org_id).where(OrgDomain.domain == domain))
        if org_id is not None:
            return org_id
    return None


def user_for_google_claims(claims: dict[str, Any]) -> User:
    """The user for verified Google claims, provisioned into their domain's org on first use."""
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise Unauthorized("The Google ID token carries no email address (ask for 'email').")
    if str(claims.get("email_verified", "true")).lower() != "true":
        raise Unauthorized("The Google account's email address is not verified.")
    domains = [d for d in (str(claims.get("hd") or "").lower(), email.partition("@")[2]) if d]
    org_id = _org_for_domains(list(dict.fromkeys(domains)))
    if org_id is None:
        raise Unauthorized(f"The Google domain {domains[0]} is not connected to Liaison.")
    return provision_user(
        org_id, provider="google", subject=str(claims["sub"]), email=email, name=claims.get("name")
    )


def user_for_google_token(token: str, audience: str | list[str] | None = None) -> User:
    """Verify a Google ID token (default audience GOOGLE_CLIENT_ID) and return its user."""
    audience = audience or current_app.config.get("GOOGLE_CLIENT_ID")
    return user_for_google_claims(verify_google_id_token(token, audience))
