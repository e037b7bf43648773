"""Send intents (LOG-1, LOG-4, LOG-5): what a rep ticked in an add-in, carried by the sent message.

Before sending, an add-in posts the rep's choices (associations, new contacts, privacy, track) and
gets a header to add: `X-Liaison-Intent: <token>`. The token carries only a random nonce (the
message goes to customers: no ids in it), signed with the app's SECRET_KEY under a salt naming the
org and the user (itsdangerous), so it verifies only for that user of that org; valid 30 days.
When a message carrying it is logged by any path (BCC, API, add-in), `resolve_intent` finds the
intent, and `log_email` applies its choices wherever the call left them unspecified. A header
that is forged, expired, of another org, or of another user than the one logging is ignored:
the message is logged as if it had none.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select

from ..extensions import db
from ..orgs.models import User
from .models import EmailIntent
from .privacy import check_level

HEADER = "X-Liaison-Intent"
MAX_AGE = 30 * 24 * 3600
_SALT = "liaison.email-intent.v1"


def _serializer(user: User) -> URLSafeTimedSerializer:
    salt = f"{_SALT}:org={user.org_id}:user={user.id}"
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def create_intent(
    user: User,
    associations: list[dict] | None = None,
    create_contacts: bool | list[str] | None = None,
    privacy: str | None = None,
    track: bool | None = None,
) -> tuple[EmailIntent, str]:
    """Store the rep's choices; returns the intent and the header value to send."""
    from .service import explicit_associations  # the same checks as logging

    pairs = explicit_associations(user.org_id, associations) if associations is not None else None
    if privacy is not None:
        check_level(privacy)
    intent = EmailIntent(
        org_id=user.org_id, user_id=user.id, nonce=secrets.token_urlsafe(32),
        create_contacts=create_contacts, privacy=privacy,
        track=track,
        associations=None if pairs is None else [{"type": t, "id": i} for t, i in pairs],
    )  # fmt: skip
    db.session.add(intent)
    db.session.commit()
    return intent, _serializer(user).dumps(intent.nonce)


def resolve_intent(user: User, token: str | None) -> EmailIntent | None:
    """The intent a header names, when it is genuine, fresh and the logging user's own."""
    if not token:
        return None
    try:
        nonce: Any = _serializer(user).loads(token.strip(), max_age=MAX_AGE)
    except BadData:
        return None
    if not isinstance(nonce, str):
        return None
    return db.session.scalar(
        select(EmailIntent).where(
            EmailIntent.nonce == nonce,
            EmailIntent.org_id == user.org_id,
            EmailIntent.user_id == user.id,
        )
    )


def intent_view(intent: EmailIntent, token: str) -> dict:
    """The POST /api/emails/intents answer."""
    return {
        "intent_id": intent.id,
        "header": {"name": HEADER, "value": token},
        "associations": intent.associations,
        "create_contacts": intent.create_contacts,
        "privacy": intent.privacy,
        "track": intent.track,
    }
