"""Who is calling: resolves the request's identity once and checks roles.

Order: `Authorization: Bearer lia_...` (personal API token), `Authorization: Bearer <JWT>`
(a Google ID token when its `iss` is Google's, else a Microsoft identity token from the Outlook
pane), then the web session cookie. A request authenticated by the session that changes state
must carry the session's CSRF token in `X-CSRF-Token` (or a form field).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import jwt
from apiflask import HTTPTokenAuth
from flask import request, session

from ..errors import Forbidden, Unauthorized
from ..extensions import db
from ..orgs.models import User
from .google import GOOGLE_ISSUERS, user_for_google_token
from .microsoft import user_for_microsoft_token
from .tokens import TOKEN_PREFIX, user_for_api_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_USER_KEY = "liaison.user"
# Only describes the scheme in the OpenAPI document; `auth_required` below does the checking.
_BEARER_SCHEME = HTTPTokenAuth(
    scheme="Bearer",
    name="BearerAuth",
    description="A personal API token, a Microsoft identity token or a Google ID token.",
)


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def login_session(user: User) -> None:
    """Start a web session for `user` (a fresh session: new CSRF token, nothing carried over)."""
    session.clear()
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    request.environ[_USER_KEY] = user


def logout_session() -> None:
    """End the web session."""
    session.clear()
    request.environ.pop(_USER_KEY, None)


def _unverified_issuer(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise Unauthorized(
            "The bearer token is neither a Liaison API token nor an identity token (JWT).",
            field="Authorization",
        ) from exc
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def _user_from_bearer(token: str) -> User:
    if token.startswith(TOKEN_PREFIX):
        user = user_for_api_token(token)
        if user is None:
            raise Unauthorized("The API token is unknown or revoked.")
        return user
    if _unverified_issuer(token) in GOOGLE_ISSUERS:
        return user_for_google_token(token)
    return user_for_microsoft_token(token)


def _user_from_session() -> User | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        session.clear()
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent, expected):
            raise Forbidden("Missing or wrong CSRF token.", field="X-CSRF-Token")
    return user


def resolve_user() -> User | None:
    """The authenticated user of this request or None; raises Unauthorized on a bad credential."""
    if _USER_KEY in request.environ:  # once per request (not `g`: an app context can outlive it)
        return request.environ[_USER_KEY]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.", field="Authorization")
        user = _user_from_bearer(token.strip())
    else:
        user = _user_from_session()
    request.environ[_USER_KEY] = user
    return user


def bearer_api_token() -> str | None:
    """The personal API token this request carries (`Authorization: Bearer lia_...`), or None.
    Only for views declared with `auth_required(api_token_checked_by_view=True)`, which check
    the token themselves in their own statement (the sidebar look-up)."""
    header = request.headers.get("Authorization", "")
    if _USER_KEY in request.environ or header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    return token if token.startswith(TOKEN_PREFIX) else None


def current_user() -> User:
    """The authenticated user; 401 when there is none."""
    user = resolve_user()
    if user is None:
        raise Unauthorized("Sign in or send a bearer token.")
    return user


def auth_required(*roles: str, api_token_checked_by_view: bool = False) -> Callable:
    """Decorator: the request must be authenticated, and hold one of `roles` when given.

    `api_token_checked_by_view`: a request with a personal API token goes to the view unchecked;
    the view must check it itself (`bearer_api_token()`), refusing it with 401 (no roles then)."""
    if api_token_checked_by_view and roles:
        raise ValueError("a view that checks the API token itself takes no roles")

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any):
            if api_token_checked_by_view and bearer_api_token() is not None:
                return view(*args, **kwargs)
            user = current_user()
            if roles and not user.has_role(*roles):
                raise Forbidden(f"This needs the role {' or '.join(roles)}.")
            return view(*args, **kwargs)

        # APIFlask's spec reads `auth`/`roles` (a later @bp.doc would reset a `security` key)
        inner._spec = {**(getattr(inner, "_spec", None) or {}), "auth": _BEARER_SCHEME}
        inner._spec["roles"] = list(roles)
        return inner

    return wrap
