"""Signed action state: what a card's button hands back to us is signed here and checked on
return (never trusted from the client), bound to the user it was made for, and short-lived."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ...errors import Forbidden
from ...orgs.models import User

SALT = "liaison.gmail-addon.action-state"
MAX_AGE_SECONDS = 2 * 3600  # a card left open longer asks the rep to open the message again


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def sign_state(user: User, **data: Any) -> str:
    """A signed token carrying `data` for `user`."""
    return _serializer().dumps({"u": user.id, "o": user.org_id, "d": data})


def read_state(token: str | None, user: User) -> dict[str, Any]:
    """The data signed for `user`; Forbidden when missing, altered, expired or someone else's."""
    if not token:
        raise Forbidden("This button carries no state; open the message again.")
    try:
        payload = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired:
        raise Forbidden("This card has expired; open the message again.") from None
    except BadSignature:
        raise Forbidden("This card's data was altered; open the message again.") from None
    if payload.get("u") != user.id or payload.get("o") != user.org_id:
        raise Forbidden("This card was made for another user; open the message again.")
    return dict(payload.get("d") or {})
