"""Personal API tokens: random, shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..clock import utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..orgs.models import User
from .models import ApiToken

TOKEN_PREFIX = "lia_"
TOUCH_EVERY = timedelta(minutes=1)  # a token's last_used_at is written at most this often


def token_hash(plaintext: str) -> str:
    """How a token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


_hash = token_hash


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the plaintext (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A token needs a name.", field="name")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        org_id=user.org_id,
        user_id=user.id,
        name=name[:100],
        prefix=plaintext[:12],
        token_hash=_hash(plaintext),
    )
    db.session.add(token)
    db.session.commit()
    return token, plaintext


def user_for_api_token(plaintext: str) -> User | None:
    """The active user a live token belongs to, or None. Notes the token's use (at most once a
    minute: see `touch_api_token`)."""
    row = db.session.execute(
        select(ApiToken.id, ApiToken.last_used_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _hash(plaintext), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.User.is_active:
        return None
    touch_api_token(row.id, row.last_used_at)
    return row.User


def touch_api_token(token_id: int, last_used_at: datetime | None) -> None:
    """Set the token's `last_used_at` when it is unset or older than TOUCH_EVERY: one UPDATE a
    minute per token, not a write per request. On PostgreSQL it commits at once on a connection
    of its own (so read-only requests record it too); on SQLite (one writer) it joins the
    request's transaction."""
    now = utcnow()
    if last_used_at is not None and now - last_used_at < TOUCH_EVERY:
        return
    touch = update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(touch)
    else:
        db.session.execute(touch)


def list_api_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones included, marked)."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def list_org_api_tokens(org_id: int) -> list[ApiToken]:
    """Every token of the org's users, newest first (for admins)."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.org_id == org_id).order_by(ApiToken.id.desc())
        )
    )


def revoke_api_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (an admin: any token of the org); others: not found."""
    query = select(ApiToken).where(ApiToken.id == token_id, ApiToken.org_id == user.org_id)
    if not user.has_role("admin"):
        query = query.where(ApiToken.user_id == user.id)
    token = db.session.scalar(query)
    if token is None:
        raise NotFound("No such token.", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token
