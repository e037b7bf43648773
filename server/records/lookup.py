"""The sidebar's main call (REC-3, LOG-4): look up contacts for up to 50 addresses at once.

For each distinct address (case-insensitive, exact): the contact or None, its owner, its primary
company with domains, its first three open deals and first three open tickets (last activity
first, never-active last, then newest), and once per answer the caller's effective settings.

One SQL statement answers it all, whatever the number of addresses: CTEs for the caller, the
matched addresses and the people, and a UNION ALL of rows tagged by kind (the caller; each
matched address with its contact, owner, company and every address of the contact; the top three
open deals and tickets per contact, ranked with ROW_NUMBER(); the companies' domains). Called
with a personal API token, the statement checks the token itself (live, not revoked, active
user) and reads the org's `settings_version` in the same snapshot, so a revoked token is refused
at once and the effective settings come from memory unless they changed (settings_cache.py).
On PostgreSQL that call runs outside any transaction (autocommit: one round trip, no BEGIN and
COMMIT; a single statement is consistent on its own) with the SQL compiled once, and rows are
read as driver tuples and answered as plain dicts: this endpoint is benchmarked.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Connection,
    Date,
    Integer,
    Numeric,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
    update,
)

from ..auth.models import ApiToken
from ..auth.tokens import TOUCH_EVERY, token_hash
from ..clock import UTCDateTime, utcnow
from ..errors import Unauthorized, ValidationFailed
from ..extensions import db
from ..orgs.models import Organization, User
from ..orgs.settings_cache import effective_settings_at
from .addresses import normalize_email
from .models import Association, Company, CompanyDomain, Contact, ContactEmail, Deal, Ticket

MAX_ADDRESSES = 50
TOP = 3
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
CALLER, PERSON, DEAL, TICKET, DOMAIN = range(5)
# The answer's columns; every branch of the UNION gives them all (NULL where it has nothing).
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("kind", Integer), ("key", BigInteger), ("rn", BigInteger), ("i1", BigInteger),
    ("i2", BigInteger), ("s1", String), ("s2", String), ("s3", String), ("s4", String),
    ("s5", String), ("s6", String), ("s7", String), ("s8", String), ("b1", Boolean),
    ("b2", Boolean), ("amount", Numeric(14, 2)), ("day", Date), ("at", UTCDateTime()),
)  # fmt: skip


def _fold(addresses: list[str]) -> tuple[list[dict], dict[str, dict]]:
    """One result per distinct address, in the order asked; invalid ones carry their error."""
    results: list[dict] = []
    valid: dict[str, dict] = {}
    seen: set[str] = set()
    for raw in addresses:
        given = raw.strip() if isinstance(raw, str) else ""
        key = normalize_email(given)
        if key in seen:
            continue
        seen.add(key)
        result = {"email": given, "error": None, "contact": None, "owner": None,
                  "company": None, "deals": [], "tickets": []}  # fmt: skip
        if len(given) > 320 or not _ADDRESS.match(given):
            result["error"] = "not a valid email address"
        else:
            valid[key] = result
        results.append(result)
    return results, valid


def _branch(kind: int, source: Any, typed: bool = False, **given: Any) -> Any:
    """One SELECT of the UNION from `source`: `given` columns by name, NULL for the others (typed
    in the first branch, which sets the UNION's column types; bare elsewhere: shorter SQL)."""
    columns = [literal_column(str(kind)).label("kind") if typed else literal_column(str(kind))]
    for name, sql_type in _COLUMNS[1:]:
        value = given.get(name)
        if value is None:
            value = cast(null(), sql_type) if typed else null()
        columns.append(value.label(name) if typed else value)
    return select(*columns).select_from(source)


def _named(**given: Any) -> list:
    return [value.label(name) for name, value in given.items()]


def _caller(by_token: bool) -> Any:
    """The caller: the live token's active user (by_token) or the given user; with the org's
    settings version, and the token's id and last use."""
    users, orgs = User.__table__.alias("u"), Organization.__table__.alias("o")
    tokens = ApiToken.__table__.alias("t")
    columns = [users.c.id.label("user_id"), users.c.org_id.label("org_id"),
               orgs.c.settings_version.label("version")]  # fmt: skip
    if not by_token:
        return (
            select(
                *columns,
                cast(null(), Integer).label("token_id"),
                cast(null(), UTCDateTime()).label("used_at"),
            )  # fmt: skip
            .select_from(users)
            .join(orgs, orgs.c.id == users.c.org_id)
            .where(users.c.id == bindparam("user_id", type_=Integer))
            .cte("me")
        )
    return (
        select(*columns, tokens.c.id.label("token_id"), tokens.c.last_used_at.label("used_at"))
        .select_from(tokens)
        .join(users, and_(users.c.id == tokens.c.user_id, users.c.org_id == tokens.c.org_id))
        .join(orgs, orgs.c.id == users.c.org_id)
        .where(
            tokens.c.token_hash == bindparam("token_hash", type_=String),
            tokens.c.revoked_at.is_(None),
            users.c.is_active.is_(True),
        )
        .cte("me")
    )


def _one_of(column: Any, name: str, item_type: Any, dialect: str) -> Any:
    """`column` in the list parameter `name`: one array parameter on PostgreSQL (the SQL text
    stays the same whatever the length, so it is prepared once), an expanding IN elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(item_type)))
    return column.in_(bindparam(name, expanding=True))


def _top_open(model: type, kind: int, name: str, caller: Any, matched: Any, **given: str) -> Any:
    """The first three open records of `model` per matched contact (`given`: column names)."""
    table, links = model.__table__.alias("r"), Association.__table__.alias("a")
    rank = func.row_number().over(
        partition_by=links.c.a_id,
        order_by=(
            table.c.last_activity_at.is_(None),
            table.c.last_activity_at.desc(),
            table.c.id.desc(),
        ),
    )
    ranked = (
        select(
            *_named(
                key=links.c.a_id,
                rn=rank,
                i1=table.c.id,
                at=table.c.last_activity_at,
                **{label: table.c[column] for label, column in given.items()},
            )
        )  # fmt: skip
        .select_from(links)
        .join(caller, links.c.org_id == caller.c.org_id)
        .join(table, and_(table.c.id == links.c.b_id, table.c.org_id == caller.c.org_id))
        .where(
            links.c.a_type == literal_column("'contact'"),
            links.c.b_type == literal_column(f"'{name}'"),
            links.c.a_id.in_(select(matched.c.contact_id)),
            table.c.is_closed.is_(False),
        )
        .subquery()
    )
    top = ranked.c.rn <= literal_column(str(TOP))
    return _branch(kind, ranked, **{c.name: c for c in ranked.c}).where(top)


def _statement(dialect: str, by_token: bool) -> Any:
    """The whole answer in one statement (see the module's docstring)."""
    contacts, companies = Contact.__table__.alias("c"), Company.__table__.alias("co")
    owners, emails = User.__table__.alias("w"), ContactEmail.__table__.alias("e")
    every, domains = ContactEmail.__table__.alias("e2"), CompanyDomain.__table__.alias("cd")
    caller = _caller(by_token)
    matched = (
        select(emails.c.email_normalized.label("address"), emails.c.contact_id, caller.c.org_id)
        .select_from(emails)
        .join(caller, emails.c.org_id == caller.c.org_id)
        .where(_one_of(emails.c.email_normalized, "addresses", String, dialect))
        .cte("hits")
    )
    rank = func.row_number().over(
        partition_by=matched.c.address, order_by=(every.c.is_primary.desc(), every.c.id)
    )
    people = (
        select(
            *_named(
                key=contacts.c.id,
                rn=rank,
                i1=owners.c.id,
                i2=companies.c.id,
                s1=matched.c.address,
                s2=contacts.c.first_name,
                s3=contacts.c.last_name,
                s4=contacts.c.lifecycle_stage,
                s5=owners.c.name,
                s6=owners.c.email,
                s7=companies.c.name,
                s8=every.c.email,
                b1=contacts.c.is_marketing,
                b2=every.c.is_primary,
            )
        )  # fmt: skip
        .select_from(matched)
        .join(
            contacts,
            and_(contacts.c.id == matched.c.contact_id, contacts.c.org_id == matched.c.org_id),
        )  # fmt: skip
        .join(every, every.c.contact_id == contacts.c.id)
        .outerjoin(
            owners, and_(owners.c.id == contacts.c.owner_id, owners.c.org_id == contacts.c.org_id)
        )  # fmt: skip
        .outerjoin(
            companies,
            and_(
                companies.c.id == contacts.c.primary_company_id,
                companies.c.org_id == contacts.c.org_id,
            ),
        )  # fmt: skip
        .cte("people")
    )
    return union_all(
        _branch(
            CALLER,
            caller,
            typed=True,
            key=caller.c.user_id,
            rn=caller.c.token_id,
            i1=caller.c.org_id,
            i2=caller.c.version,
            at=caller.c.used_at,
        ),  # fmt: skip
        _branch(PERSON, people, **{c.name: c for c in people.c}),
        _top_open(
            Deal,
            DEAL,
            "deal",
            caller,
            matched,
            s1="name",
            s2="stage",
            s3="currency",
            amount="amount",
            day="close_date",
        ),  # fmt: skip
        _top_open(
            Ticket,
            TICKET,
            "ticket",
            caller,
            matched,
            s1="subject",
            s2="status",
            s3="priority",
        ),  # fmt: skip
        _branch(DOMAIN, domains, key=domains.c.company_id, rn=domains.c.id, s1=domains.c.domain)
        .join(caller, domains.c.org_id == caller.c.org_id)
        .where(domains.c.company_id.in_(select(people.c.i2))),
    ).order_by(literal_column("kind"), literal_column("rn"))


class _Prepared:
    """One dialect's statements: Core (for SQLAlchemy) and, on PostgreSQL, the SQL compiled once
    with its constant parameters (run on the driver: no per-call compile or result wrapping)."""

    def __init__(self, dialect: Any) -> None:
        self.by_user = _statement(dialect.name, by_token=False)
        self.by_token = _statement(dialect.name, by_token=True)
        compiled = self.by_token.compile(dialect=dialect)
        # psycopg caches its parsing of SQL up to 4096 characters: kept under that (short aliases)
        self.token_sql, self.token_params = str(compiled), dict(compiled.params)


_PREPARED: dict[str, _Prepared] = {}
_TOUCH = (
    update(ApiToken.__table__)
    .where(ApiToken.__table__.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def _prepared(conn: Connection) -> _Prepared:
    name = conn.dialect.name
    if name not in _PREPARED:
        _PREPARED[name] = _Prepared(conn.dialect)
    return _PREPARED[name]


def lookup_emails(user: User, addresses: list[str]) -> dict:
    """Contacts and their context for up to 50 addresses of `user`'s org, plus their effective
    settings; in the session's transaction (and committed, like every read-only call here)."""
    results, valid = _check(addresses)
    conn = db.session.connection()
    params = {"user_id": user.id, "addresses": list(valid)}
    rows = conn.execute(_prepared(conn).by_user, params).all()
    answer = _answer(conn, rows, results, valid)
    # COMMIT, not the teardown's ROLLBACK: psycopg drops its prepared statements on ROLLBACK.
    db.session.commit()
    return answer


def lookup_for_api_token(plaintext: str, addresses: list[str]) -> dict:
    """The same for the bearer of a personal API token, checked in the same statement: 401 when
    it is unknown or revoked or its user is deactivated."""
    results, valid = _check(addresses)
    params = {"token_hash": token_hash(plaintext), "addresses": list(valid)}
    if db.engine.dialect.name != "postgresql":
        conn = db.session.connection()
        rows = conn.execute(_prepared(conn).by_token, params).all()
        answer = _answer(conn, rows, results, valid)
        db.session.commit()
        return answer
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        prepared = _prepared(conn)
        rows = _driver_rows(conn, prepared.token_sql, {**prepared.token_params, **params})
        return _answer(conn, rows, results, valid)


def _driver_rows(conn: Connection, sql: str, params: dict) -> list:
    """Run compiled SQL on the driver's cursor (prepared server-side; rows as plain tuples),
    announced to the engine's cursor-execute listeners like any statement (logging, tests)."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()
    finally:
        cursor.close()


def _check(addresses: list[str]) -> tuple[list[dict], dict[str, dict]]:
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationFailed(f"At most {MAX_ADDRESSES} addresses per call.", field="emails")
    return _fold(addresses)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _at(value: Any) -> str | None:
    """A timestamp as ISO 8601 in UTC (driver rows come in the session's time zone)."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def _answer(conn: Connection, rows: list, results: list[dict], valid: dict[str, dict]) -> dict:
    """Assemble the rows (ordered by kind, then rank) into the answer."""
    if not rows or rows[0][0] != CALLER:
        raise Unauthorized("The API token is unknown or revoked.")
    _, user_id, token_id, org_id, version, *_, used_at = rows[0]
    contacts: dict[int, dict] = {}
    companies: dict[int, dict] = {}
    first_address: dict[int, str] = {}
    deals: dict[int, list] = {}
    tickets: dict[int, list] = {}
    for kind, key, _, i1, i2, s1, s2, s3, s4, s5, s6, s7, s8, b1, b2, amount, day, at in rows[1:]:
        if kind == PERSON:
            contact = contacts.get(key)
            if contact is None:
                contact = contacts[key] = {
                    "id": key, "name": f"{s2} {s3}".strip(), "first_name": s2, "last_name": s3,
                    "primary_email": None, "emails": [], "lifecycle_stage": s4,
                    "is_marketing": b1,
                }  # fmt: skip
                first_address[key] = s1
                deals[key], tickets[key] = [], []
                if i2 is not None and i2 not in companies:
                    companies[i2] = {"id": i2, "name": s7, "domains": []}
            result = valid[s1]
            if result["contact"] is None:
                result["contact"] = contact
                if i1 is not None:
                    result["owner"] = {"id": i1, "name": s5, "email": s6}
                if i2 is not None:
                    result["company"] = companies[i2]
                result["deals"], result["tickets"] = deals[key], tickets[key]
            if first_address[key] == s1:
                contact["emails"].append({"email": s8, "is_primary": bool(b2)})
                if b2 and contact["primary_email"] is None:
                    contact["primary_email"] = s8
        elif kind == DEAL:
            deals[key].append({
                "id": i1, "name": s1, "stage": s2, "currency": s3,
                "amount": None if amount is None else f"{amount:.2f}",
                "close_date": _iso(day), "last_activity_at": _at(at),
            })  # fmt: skip
        elif kind == TICKET:
            tickets[key].append({"id": i1, "subject": s1, "status": s2, "priority": s3,
                                 "last_activity_at": _at(at)})  # fmt: skip
        else:
            companies[key]["domains"].append(s1)
    for contact in contacts.values():
        if contact["primary_email"] is None and contact["emails"]:
            contact["primary_email"] = contact["emails"][0]["email"]
        if not contact["name"]:
            contact["name"] = contact["primary_email"] or f"Contact {contact['id']}"
    if token_id is not None:
        _touch(conn, token_id, used_at)
    settings = effective_settings_at(conn, org_id, user_id, version)
    return {"results": results, "settings": settings}


def _touch(conn: Connection, token_id: int, used_at: Any) -> None:
    """Record the token's use, at most once a minute (not a write per request)."""
    now = utcnow()
    if used_at is None or now - used_at >= TOUCH_EVERY:
        conn.execute(_TOUCH, {"token_id": token_id, "now": now})
