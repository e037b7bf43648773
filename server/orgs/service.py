"""Organizations and their users: identity mappings, roles (ADM-3), activation, time zones.

`actor` is the signed-in user making the change, or None for the operator's CLI (no role checks,
the rules that protect the org — the last super-admin — still hold).
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from ..extensions import db
from .models import EDITIONS, ROLES, Organization, OrgDomain, OrgTenant, User
from .settings import (
    normalize_domain,
    normalize_email,
    org_setting,
    parse_setting,
    set_org_settings,
)

ORG_FIELDS = ("name", "time_zone", "org_address", "tenant_ids", "domains")
USER_FIELDS = ("name", "time_zone", "role", "is_active")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def parse_time_zone(value: Any, field: str = "time_zone") -> str:
    """An IANA time zone name (e.g. Europe/Paris); ValidationFailed otherwise."""
    if not isinstance(value, str) or value not in _zones():
        raise ValidationFailed(f"{value!r} is not an IANA time zone name.", field=field)
    return value


def _name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("A name is required.", field=field)
    if len(value.strip()) > 200:
        raise ValidationFailed("A name has at most 200 characters.", field=field)
    return value.strip()


def _tenant_ids(values: Iterable[Any]) -> list[str]:
    result = []
    for value in values:
        try:
            result.append(str(uuid.UUID(str(value).strip())))
        except ValueError:
            raise ValidationFailed(
                f"{value!r} is not a Microsoft tenant id (a GUID).", field="tenant_ids"
            ) from None
    return list(dict.fromkeys(result))


def _domains(values: Iterable[Any]) -> list[str]:
    try:
        return list(dict.fromkeys(normalize_domain(v) for v in values))
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="domains") from None


def _check_unclaimed(org_id: int | None, tenant_ids: list[str], domains: list[str]) -> None:
    """A tenant or domain maps users to one org only (409 when another org holds it)."""
    taken = db.session.scalar(
        select(OrgTenant.tenant_id).where(
            OrgTenant.tenant_id.in_(tenant_ids), OrgTenant.org_id != (org_id or 0)
        )
    )
    if taken:
        raise Conflict(f"Tenant {taken} belongs to another organization.", field="tenant_ids")
    taken = db.session.scalar(
        select(OrgDomain.domain).where(
            OrgDomain.domain.in_(domains), OrgDomain.org_id != (org_id or 0)
        )
    )
    if taken:
        raise Conflict(f"Domain {taken} belongs to another organization.", field="domains")


def _commit(field: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent writer took the same unique value
        db.session.rollback()
        raise Conflict("That value is already taken.", field=field) from None


def get_org(org_id: int) -> Organization:
    """The organization or 404."""
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization.", field="org_id")
    return org


def list_orgs() -> list[Organization]:
    """Every organization, oldest first (operator use)."""
    return list(db.session.scalars(select(Organization).order_by(Organization.id)))


def create_org(
    name: str,
    tenant_ids: Iterable[str] = (),
    domains: Iterable[str] = (),
    edition: str = "standard",
    time_zone: str = "UTC",
) -> Organization:
    """A new organization mapped to Microsoft tenants and Google Workspace domains."""
    if edition not in EDITIONS:
        raise ValidationFailed(f"edition must be one of {', '.join(EDITIONS)}.", field="edition")
    tenants, doms = _tenant_ids(tenant_ids), _domains(domains)
    _check_unclaimed(None, tenants, doms)
    org = Organization(name=_name(name), edition=edition, time_zone=parse_time_zone(time_zone))
    org.tenants.extend(OrgTenant(tenant_id=t) for t in tenants)
    org.domains.extend(OrgDomain(domain=d) for d in doms)
    db.session.add(org)
    _commit("tenant_ids")
    return org


def update_org(actor: User, changes: dict[str, Any]) -> Organization:
    """Change the actor's org (super-admins): name, time zone, org address, tenants, domains.
    Lists replace the current ones. The org address is a setting, so its change is audited."""
    if not actor.has_role("super_admin"):
        raise Forbidden("Only a super-admin changes the organization.")
    for key in changes:
        if key not in ORG_FIELDS:
            raise ValidationFailed(f"Unknown field {key!r}.", field=key)
    org = get_org(actor.org_id)
    name = _name(changes["name"]) if "name" in changes else None
    zone = parse_time_zone(changes["time_zone"]) if "time_zone" in changes else None
    if "org_address" in changes:
        parse_setting("org_address", changes["org_address"])
    tenants = _tenant_ids(changes["tenant_ids"]) if "tenant_ids" in changes else None
    doms = _domains(changes["domains"]) if "domains" in changes else None
    _check_unclaimed(org.id, tenants or [], doms or [])
    try:
        if name is not None:
            org.name = name
        if zone is not None:
            org.time_zone = zone
        if tenants is not None:
            _replace(org, org.tenants, OrgTenant, "tenant_id", tenants)
        if doms is not None:
            _replace(org, org.domains, OrgDomain, "domain", doms)
        if "org_address" in changes:
            set_org_settings(actor, {"org_address": changes["org_address"]})  # commits it all
        else:
            _commit("domains" if doms else "tenant_ids")
    except ServiceError:
        db.session.rollback()
        raise
    return org


def _replace(org: Organization, rows: list, model: type, attr: str, wanted: list[str]) -> None:
    for row in [r for r in rows if getattr(r, attr) not in wanted]:
        rows.remove(row)
        db.session.delete(row)
    have = {getattr(r, attr) for r in rows}
    rows.extend(model(**{attr: value}) for value in wanted if value not in have)


# --- users ----------------------------------------------------------------------------------------


def list_users(
    org_id: int, cursor: int | None = None, limit: int = 100
) -> tuple[list[User], int | None]:
    """The org's users by id (deactivated ones included); returns (users, next cursor or None)."""
    limit = max(1, min(limit, 500))
    query = select(User).where(User.org_id == org_id)
    if cursor is not None:
        query = query.where(User.id > cursor)
    users = list(db.session.scalars(query.order_by(User.id).limit(limit + 1)))
    return users[:limit], (users[limit - 1].id if len(users) > limit else None)


def get_user(org_id: int, user_id: int) -> User:
    """A user of the org; a user of another org is not found."""
    user = db.session.scalar(select(User).where(User.id == user_id, User.org_id == org_id))
    if user is None:
        raise NotFound("No such user.", field="user_id")
    return user


def user_by_email(org_id: int, email: str) -> User:
    """A user of the org by address (case-insensitive) or 404."""
    user = db.session.scalar(
        select(User).where(User.org_id == org_id, User.email == email.strip().lower())
    )
    if user is None:
        raise NotFound(f"No user {email} in this organization.", field="email")
    return user


def _role(value: Any) -> str:
    if value not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}.", field="role")
    return value


def create_user(
    actor: User | None,
    org_id: int,
    email: str,
    name: str = "",
    role: str = "rep",
    time_zone: str | None = None,
) -> User:
    """Add a user to the org (admins; only a super-admin makes a super-admin)."""
    if actor is not None:
        org_id = actor.org_id
        if not actor.has_role("admin"):
            raise Forbidden("Only an admin adds users.")
        if role == "super_admin" and not actor.has_role("super_admin"):
            raise Forbidden("Only a super-admin makes a super-admin.", field="role")
    get_org(org_id)
    try:
        address = normalize_email(email)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="email") from None
    if db.session.scalar(select(User.id).where(User.org_id == org_id, User.email == address)):
        raise Conflict(f"{address} is already a user of this organization.", field="email")
    user = User(
        org_id=org_id,
        email=address,
        name=(name or "").strip()[:200],
        role=_role(role),
        time_zone=parse_time_zone(time_zone) if time_zone else None,
    )
    db.session.add(user)
    _commit("email")
    return user


def _keep_a_super_admin(user: User) -> None:
    """Refuse to leave the org without an active super-admin (rows locked on PostgreSQL)."""
    ids = db.session.scalars(
        select(User.id)
        .where(User.org_id == user.org_id, User.role == "super_admin", User.is_active.is_(True))
        .with_for_update()
    ).all()
    if set(ids) <= {user.id}:
        raise Conflict("The organization must keep at least one active super-admin.", field="role")


def update_user(actor: User | None, org_id: int, user_id: int, changes: dict[str, Any]) -> User:
    """Change a user: name and time zone (the user or an admin), active (admins; a super-admin
    only by a super-admin), role (super-admins). One transaction."""
    for key in changes:
        if key not in USER_FIELDS:
            raise ValidationFailed(f"Unknown field {key!r}.", field=key)
    if actor is not None:
        org_id = actor.org_id
    user = get_user(org_id, user_id)
    is_admin = actor is None or actor.has_role("admin")
    if actor is not None and actor.id != user.id and not is_admin:
        raise Forbidden("Only an admin changes another user.")
    try:
        if "name" in changes:
            user.name = _name(changes["name"])
        if "time_zone" in changes:
            zone = changes["time_zone"]
            user.time_zone = parse_time_zone(zone) if zone is not None else None
        if "role" in changes and _role(changes["role"]) != user.role:
            if actor is not None and not actor.has_role("super_admin"):
                raise Forbidden("Only a super-admin changes roles.", field="role")
            if user.role == "super_admin":
                _keep_a_super_admin(user)
            user.role = changes["role"]
        if "is_active" in changes and changes["is_active"] != user.is_active:
            _set_active(actor, user, changes["is_active"])
    except ServiceError:
        db.session.rollback()
        raise
    db.session.commit()
    return user


def _set_active(actor: User | None, user: User, active: Any) -> None:
    if not isinstance(active, bool):
        raise ValidationFailed("is_active must be true or false.", field="is_active")
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden("Only an admin deactivates or reactivates users.", field="is_active")
    if user.role == "super_admin" and actor is not None and not actor.has_role("super_admin"):
        raise Forbidden("Only a super-admin deactivates a super-admin.", field="is_active")
    if not active and user.role == "super_admin":
        _keep_a_super_admin(user)
    user.is_active = active


def count_active_users(org_id: int) -> int:
    """Active users of the org (the daily bulk quota is per active user, BULK-9)."""
    return db.session.scalar(
        select(func.count(User.id)).where(User.org_id == org_id, User.is_active.is_(True))
    )


def can_bulk_send(user: User, reps_may_bulk_send: bool | None = None) -> bool:
    """Bulk sending is a role right (ADM-3): admins and super-admins; reps when the org allows
    (pass the org's `reps_may_bulk_send` when already known, to save the look-up)."""
    if not user.is_active:
        return False
    if user.has_role("admin"):
        return True
    if reps_may_bulk_send is None:
        reps_may_bulk_send = bool(org_setting(user.org_id, "reps_may_bulk_send"))
    return reps_may_bulk_send
