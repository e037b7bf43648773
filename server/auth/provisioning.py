"""Users made on first sign-in: an external identity (Microsoft tenant:oid, Google sub) maps to
one user of the org its tenant or domain is connected to.

The first sign-in creates the user (role rep) or, when the org already has a user with that
email (added by an admin, or signed in with the other provider), links the identity to them.
Later sign-ins find the user by the identity alone. Two first sign-ins at once are settled by
the unique constraints: the loser rolls back and finds the winner's rows.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, Unauthorized
from ..extensions import db
from ..orgs.models import ExternalIdentity, User

PROVIDERS = ("microsoft", "google")
_ATTEMPTS = 3


def _user_by_identity(provider: str, subject: str) -> User | None:
    return db.session.scalar(
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.provider == provider, ExternalIdentity.subject == subject)
    )


def _admitted(user: User, org_id: int) -> User:
    if user.org_id != org_id:
        raise Unauthorized("This identity belongs to a user of another Liaison organization.")
    if not user.is_active:
        raise Forbidden("This Liaison account is deactivated; ask your administrator.")
    return user


def _clean_email(email: str | None) -> str:
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or len(email) > 320:
        raise Unauthorized("The identity token carries no usable email address.")
    return email


def _create_or_link(org_id: int, provider: str, subject: str, email: str, name: str) -> User:
    """One transaction: find the org's user with this email or create them, then link."""
    user = db.session.scalar(select(User).where(User.org_id == org_id, User.email == email))
    if user is None:
        user = User(org_id=org_id, email=email, name=name or email, role="rep")
        db.session.add(user)
        db.session.flush()
    else:
        _admitted(user, org_id)
    db.session.add(ExternalIdentity(user_id=user.id, provider=provider, subject=subject))
    db.session.commit()
    return user


def provision_user(
    org_id: int, *, provider: str, subject: str, email: str | None, name: str | None
) -> User:
    """The user behind an external identity, created or linked in `org_id` on first sign-in."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown identity provider {provider!r}")
    for _ in range(_ATTEMPTS):
        user = _user_by_identity(provider, subject)
        if user is not None:
            return _admitted(user, org_id)
        clean_email = _clean_email(email)
        clean_name = (name or "").strip()[:200]
        try:
            return _create_or_link(org_id, provider, subject, clean_email, clean_name)
        except IntegrityError:
            db.session.rollback()  # someone else signed in first: their rows are there now
        except Exception:
            db.session.rollback()
            raise
    raise Conflict("Signing in collided with another sign-in of the same user; try again.")
