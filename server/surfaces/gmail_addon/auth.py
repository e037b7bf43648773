"""Who is calling (UI-2): every /gmail/... request must carry Google's system ID token for the
add-on (Authorization: Bearer; audience the endpoint's public URL, email the add-on's service
account) and a user ID token in the event (`authorizationEventObject.userIdToken`). Both are
verified with google-auth (`server.auth.google`); the user is mapped to their org and provisioned
as on any Google sign-in. Anything else is 401.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from ...auth.google import user_for_google_claims, verify_google_id_token
from ...errors import Unauthorized
from ...orgs.models import User


def audience_for(path: str) -> str:
    """The audience Google puts in the system ID token: the endpoint's public URL."""
    config = current_app.config
    base = config.get("GMAIL_ADDON_AUDIENCE_BASE") or config.get("BASE_URL") or ""
    return base.rstrip("/") + path


def _service_account() -> str:
    config = current_app.config
    account = config.get("GMAIL_ADDON_SERVICE_ACCOUNT")
    if not account:
        raise Unauthorized(
            "The Gmail add-on is not configured on this server (GMAIL_ADDON_SERVICE_ACCOUNT)."
        )
    return account.strip().lower()


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The add-on request carries no Google ID token (Authorization: Bearer).")
    return token.strip()


def verify_system_token(authorization: str | None, path: str) -> dict[str, Any]:
    """The claims of the system ID token, checked for the endpoint and the service account."""
    claims = verify_google_id_token(_bearer(authorization), audience_for(path))
    email = str(claims.get("email") or "").lower()
    verified = str(claims.get("email_verified", "false")).lower() == "true"
    if email != _service_account() or not verified:
        raise Unauthorized("The add-on request was not signed for the add-on's service account.")
    return claims


def verify_user(event: dict[str, Any], path: str) -> User:
    """The user of the event's user ID token (audience: the endpoint or our Google client)."""
    authorization = event.get("authorizationEventObject") or {}
    token = authorization.get("userIdToken") if isinstance(authorization, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized("The add-on event carries no user ID token (userIdToken).")
    audiences = [audience_for(path)]
    if current_app.config.get("GOOGLE_CLIENT_ID"):
        audiences.append(current_app.config["GOOGLE_CLIENT_ID"])
    return user_for_google_claims(verify_google_id_token(token, audiences))


def verify_request(authorization: str | None, path: str, event: Any) -> User:
    """The verified user behind an add-on request, or Unauthorized."""
    verify_system_token(authorization, path)
    if not isinstance(event, dict):
        raise Unauthorized("The add-on request carries no event object.")
    return verify_user(event, path)
