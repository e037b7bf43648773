"""Inbound mail: one routing function for the SMTP listener and POST /inbound/mime (LOG-2, BULK-10).

`route_inbound(raw, envelope_recipients, source)` parses the message and routes each of our
recipients: a user's logging address → INBOUND_HANDLERS["log"] (filled by the logging domain),
a bounce (VERP address, or any other of our addresses when the message is a DSN) →
server.mail.bounces, an unsubscribe address → INBOUND_HANDLERS["unsubscribe"] (filled by the
consent domain). Nothing is dropped silently and nothing raises: malformed MIME, unknown
addresses, missing handlers and failing handlers all end in the dead-letter table with the
reason, where admins can retry them.
Each routed recipient is committed on its own; a failing one rolls back only its own work.
"""

from __future__ import annotations

import email
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email import errors as email_errors
from email.message import EmailMessage
from email.policy import default as default_policy

from ..extensions import db
from .bounces import BounceNotMatched, process_bounce
from .dsn import parse_dsn
from .inbound_addresses import InboundAddress, classify, user_for_logging_token
from .inbound_models import DeadLetter
from .models import OutboxMessage

log = logging.getLogger(__name__)

SOURCES = ("smtp", "http")
FATAL_DEFECTS = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
)


@dataclass(frozen=True)
class InboundDelivery:
    """A message for one of our addresses, handed to a registered handler."""

    kind: str  # log | unsubscribe
    recipient: str
    token: str
    raw: bytes
    message: EmailMessage
    source: str  # smtp | http
    org_id: int | None = None  # log: the user's org; unsubscribe: the authenticated org if any
    user_id: int | None = None  # log: the user whose logging address it is


# Route kind → handler. A handler does its work in the session (the router commits after it
# returns) and returns a short description; raising rolls its work back and dead-letters the
# message with the error. The logging domain registers "log", the consent domain "unsubscribe".
INBOUND_HANDLERS: dict[str, Callable[[InboundDelivery], str | None]] = {}


@dataclass
class RouteOutcome:
    """What happened for one recipient."""

    recipient: str
    kind: str  # log | unsubscribe | bounce
    detail: str


@dataclass
class RouteResult:
    """The outcome of routing one message: what was routed, and the dead letter for the rest."""

    outcomes: list[RouteOutcome] = field(default_factory=list)
    dead_letter_id: int | None = None
    reason: str | None = None  # why (part of) the message was dead-lettered
    org_id: int | None = None

    @property
    def status(self) -> str:
        """'routed', 'dead_letter' (nothing routed) or 'partial'."""
        if self.dead_letter_id is None:
            return "routed"
        return "partial" if self.outcomes else "dead_letter"


class MalformedMessage(ValueError):
    """The bytes are not a message we can read."""


class RouteFailure(Exception):
    """One recipient could not be routed; the reason goes to the dead letter."""


def parse_message(raw: bytes) -> EmailMessage:
    """Parse RFC 5322 bytes; raises MalformedMessage with the reason when they are not a message."""
    try:
        message = email.message_from_bytes(raw, policy=default_policy)
        for part in message.walk():
            for _name, value in part.items():
                str(value)  # header parsing is lazy: make it fail here, not in a handler
            fatal = [d for d in part.defects if isinstance(d, FATAL_DEFECTS)]
            if fatal:
                raise MalformedMessage(f"malformed MIME: {type(fatal[0]).__name__}: {fatal[0]}")
    except MalformedMessage:
        raise
    except Exception as exc:  # the parser should not raise, but bytes from the internet may
        raise MalformedMessage(f"unparseable message: {type(exc).__name__}: {exc}") from exc
    if not message.keys():
        raise MalformedMessage("malformed message: no header fields")
    return message  # type: ignore[return-value]


def _route_log(target: InboundAddress, ctx: dict) -> str:
    user = user_for_logging_token(target.token or "")
    if user is None or (ctx["org_id"] is not None and user.org_id != ctx["org_id"]):
        raise RouteFailure(f"unknown logging address {target.address}")
    handler = INBOUND_HANDLERS.get("log")
    if handler is None:
        raise RouteFailure("logging not available")
    delivery = InboundDelivery(
        "log",
        target.address,
        target.token or "",
        ctx["raw"],
        ctx["message"],
        ctx["source"],
        org_id=user.org_id,
        user_id=user.id,
    )
    return handler(delivery) or f"logged for user {user.id}"


def _route_unsubscribe(target: InboundAddress, ctx: dict) -> str:
    handler = INBOUND_HANDLERS.get("unsubscribe")
    if handler is None:
        raise RouteFailure("unsubscribe not available")
    delivery = InboundDelivery(
        "unsubscribe",
        target.address,
        target.token or "",
        ctx["raw"],
        ctx["message"],
        ctx["source"],
        org_id=ctx["org_id"],
    )
    return handler(delivery) or "unsubscribe handled"


def _bounce_detail(report, outcomes) -> str:
    parts = [f"{o.kind} {o.status} for {o.address} (outbox {o.outbox_id})" for o in outcomes]
    return f"{report.shape} bounce: " + ("; ".join(parts) or "no recipient results")


def _route_bounce(target: InboundAddress, ctx: dict) -> str:
    if target.problem:
        raise RouteFailure(f"{target.problem}: {target.address}")
    report = parse_dsn(ctx["message"])
    if report is None:
        raise RouteFailure(f"not a delivery status notification: {target.address}")
    return _bounce_detail(
        report, process_bounce(report, ctx["message"], target.outbox_id, ctx["org_id"])
    )


def _route_other(target: InboundAddress, ctx: dict) -> str:
    report = parse_dsn(ctx["message"])  # a bounce sent to e.g. bounces@ or postmaster@
    if report is None:
        raise RouteFailure("no route")
    return _bounce_detail(report, process_bounce(report, ctx["message"], None, ctx["org_id"]))


_ROUTES = {
    "log": _route_log,
    "unsubscribe": _route_unsubscribe,
    "bounce": _route_bounce,
    "other": _route_other,
}


def _guess_org(targets: list[InboundAddress], org_id: int | None) -> int | None:
    if org_id is not None:
        return org_id
    for target in targets:
        if target.kind == "log" and (user := user_for_logging_token(target.token or "")):
            return user.org_id
        row = db.session.get(OutboxMessage, target.outbox_id) if target.outbox_id else None
        if row is not None:
            return row.org_id
    return None


def _targets(envelope_recipients: list[str]) -> list[InboundAddress]:
    seen: dict[str, InboundAddress] = {}
    for address in envelope_recipients:
        address = address.strip().strip("<>").strip()
        if address and address.lower() not in seen:
            seen[address.lower()] = classify(address)
    ours = [t for t in seen.values() if t.kind != "foreign"]
    return ours or list(seen.values())


def _run(target: InboundAddress, ctx: dict) -> RouteOutcome:
    """Route one recipient; raises RouteFailure with the reason."""
    try:
        detail = _ROUTES[target.kind](target, ctx)
    except RouteFailure:
        raise
    except BounceNotMatched as exc:
        raise RouteFailure(str(exc)) from exc
    except Exception as exc:  # a handler's bug must not lose the message nor stop the listener
        log.exception("inbound %s route failed for %s", target.kind, target.address)
        raise RouteFailure(f"{target.kind} handler failed: {type(exc).__name__}: {exc}") from exc
    kind = "bounce" if target.kind == "other" else target.kind
    return RouteOutcome(target.address, kind, detail)


def _record_dead_letter(
    raw: bytes,
    recipients: list[str],
    source: str,
    org_id: int | None,
    reason: str,
    existing_id: int | None,
) -> int:
    if existing_id is not None:
        row = db.session.get(DeadLetter, existing_id)
        row.reason, row.envelope_recipients = reason, recipients
        row.org_id = row.org_id or org_id
    else:
        row = DeadLetter(
            org_id=org_id,
            source=source,
            envelope_recipients=recipients,
            size=len(raw),
            reason=reason,
            raw=raw,
            status="new",
        )
        db.session.add(row)
    db.session.commit()
    return row.id


def route_inbound(
    raw: bytes,
    envelope_recipients: list[str],
    source: str,
    *,
    org_id: int | None = None,
    dead_letter_id: int | None = None,
) -> RouteResult:
    """Route one inbound message (never raises for bad input: the rest goes to a dead letter).

    `org_id` is the authenticated org of an HTTP delivery: logging addresses and bounces of
    other orgs are then not routed. `dead_letter_id` re-routes a stored dead letter (a retry):
    it is updated instead of a new one being made.
    """
    targets = _targets(envelope_recipients)
    result = RouteResult(org_id=_guess_org(targets, org_id))
    failures: list[tuple[str, str]] = []
    if not targets:
        failures.append(("", "no envelope recipients"))
    elif all(t.kind == "foreign" for t in targets):
        failures.extend((t.address, "no route") for t in targets)
    else:
        try:
            ctx = {"raw": raw, "message": parse_message(raw), "source": source, "org_id": org_id}
        except MalformedMessage as exc:
            failures.extend((t.address, str(exc)) for t in targets)
        else:
            for target in targets:
                try:
                    result.outcomes.append(_run(target, ctx))
                    db.session.commit()
                except RouteFailure as exc:
                    db.session.rollback()
                    failures.append((target.address, str(exc)))
    if failures:
        unrouted = [address for address, reason in failures if reason == "no route"]
        reasons = [reason for _, reason in failures if reason != "no route"]
        if unrouted:
            reasons.append(f"no route for {', '.join(unrouted)}")
        result.reason = "; ".join(dict.fromkeys(reasons))
        failed = [address for address, _ in failures if address]
        result.dead_letter_id = _record_dead_letter(
            raw, failed, source, result.org_id, result.reason, dead_letter_id
        )
    return result
