"""Microsoft identity tokens from the Outlook pane: verified with PyJWT against Entra's JWKS.

A v2.0 token is accepted when it is RS256-signed by a key in `{MS_AUTHORITY}/common/discovery/
v2.0/keys`, is within its validity window, is for our API (MS_API_AUDIENCE or MS_CLIENT_ID), was
issued by `{MS_AUTHORITY}/{tid}/v2.0` for its own tenant `tid`, and carries the scope
MS_REQUIRED_SCOPE. The tenant must be connected to an organization (OrgTenant).
"""

from __future__ import annotations

from typing import Any

import jwt
from flask import current_app
from sqlalchemy import select

from ..errors import Unauthorized
from ..extensions import db
from ..orgs.models import OrgTenant, User
from .jwt_header import rs256_key_id
from .provisioning import provision_user

LEEWAY_SECONDS = 60  # clock skew tolerated on exp / nbf / iat
_CLIENT_KEY = "liaison.ms_jwks_client"


def jwks_url(authority: str) -> str:
    """Where Microsoft publishes the signing keys of every tenant."""
    return f"{authority.rstrip('/')}/common/discovery/v2.0/keys"


def _jwks_client() -> jwt.PyJWKClient:
    """The app's JWKS client: keys cached, one refresh when a token names an unknown `kid`."""
    url = jwks_url(current_app.config["MS_AUTHORITY"])
    cached = current_app.extensions.get(_CLIENT_KEY)
    if cached is None or cached.uri != url:
        cached = jwt.PyJWKClient(
            url,
            cache_keys=False,  # the key set is cached; a key Microsoft withdraws goes with it
            lifespan=current_app.config.get("MS_JWKS_LIFESPAN", 3600),
            cooldown_duration=current_app.config.get("MS_JWKS_REFRESH_COOLDOWN", 30),
            timeout=10,
        )
        current_app.extensions[_CLIENT_KEY] = cached
    return cached


def reset_jwks_cache(app: Any) -> None:
    """Forget the app's cached Microsoft signing keys (configuration changed, tests)."""
    app.extensions.pop(_CLIENT_KEY, None)


def _audiences() -> list[str]:
    config = current_app.config
    audiences = [a for a in (config.get("MS_API_AUDIENCE"), config.get("MS_CLIENT_ID")) if a]
    if not audiences:
        raise Unauthorized("Microsoft sign-in is not configured on this server (MS_CLIENT_ID).")
    return audiences


def _checked_header(token: str) -> str:
    """The token's `kid`, after refusing unsigned tokens and algorithms other than RS256."""
    kid = rs256_key_id(token, "The Microsoft token")
    if not kid:
        raise Unauthorized("The Microsoft token does not name its signing key (no 'kid').")
    return str(kid)


def _signing_key(kid: str) -> Any:
    try:
        return _jwks_client().get_signing_key(kid).key
    except jwt.PyJWKClientConnectionError as exc:
        raise Unauthorized("Microsoft's signing keys could not be fetched; try again.") from exc
    except jwt.PyJWKClientError as exc:
        raise Unauthorized(
            "The Microsoft token is signed by a key Microsoft does not publish (unknown 'kid')."
        ) from exc


def _unverified_tenant(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise Unauthorized("The Microsoft token is not a well-formed JWT.") from exc
    tid = claims.get("tid")
    if not isinstance(tid, str) or not tid:
        raise Unauthorized("The Microsoft token names no tenant (no 'tid' claim).")
    return tid


def verify_microsoft_token(token: str) -> dict[str, Any]:
    """Verify a Microsoft identity token and return its claims; Unauthorized says what is wrong."""
    kid = _checked_header(token)
    audiences = _audiences()
    key = _signing_key(kid)
    issuer = f"{current_app.config['MS_AUTHORITY'].rstrip('/')}/{_unverified_tenant(token)}/v2.0"
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audiences,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "tid", "oid"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("The Microsoft token's signature does not verify.") from exc
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The Microsoft token has expired; get a new one.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized(
            "The Microsoft token is not valid yet (nbf or iat in the future)."
        ) from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized(
            f"The Microsoft token is for another audience; expected {' or '.join(audiences)}."
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthorized(
            f"The Microsoft token has the wrong issuer; expected {issuer} for its tenant."
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"The Microsoft token lacks the '{exc.claim}' claim.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The Microsoft token is invalid: {exc}.") from exc
    required = current_app.config.get("MS_REQUIRED_SCOPE")
    if required and required not in str(claims.get("scp") or "").split():
        raise Unauthorized(f"The Microsoft token lacks the scope '{required}'.")
    return claims


def user_for_microsoft_claims(claims: dict[str, Any]) -> User:
    """The user for verified Microsoft claims, provisioned into the tenant's org on first use."""
    tid = claims["tid"]
    org_id = db.session.scalar(select(OrgTenant.org_id).where(OrgTenant.tenant_id == tid))
    if org_id is None:
        raise Unauthorized("This Microsoft tenant is not connected to Liaison.")
    email = claims.get("email") or claims.get("preferred_username") or claims.get("upn")
    return provision_user(
        org_id,
        provider="microsoft",
        subject=f"{tid}:{claims['oid']}",
        email=email,
        name=claims.get("name"),
    )


def user_for_microsoft_token(token: str) -> User:
    """Verify a Microsoft identity token and return (provisioning if new) its user."""
    return user_for_microsoft_claims(verify_microsoft_token(token))
