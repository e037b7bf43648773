"""HTTP for inbound mail: the signed raw-MIME endpoint, the org's inbound secret, dead letters,
and the caller's logging address (LOG-2, BULK-10)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from apiflask.validators import OneOf, Range
from flask import current_app, request
from werkzeug.exceptions import UnsupportedMediaType

from ..auth.guard import auth_required, current_user
from ..errors import PayloadTooLarge
from ..fields import Id, IdCursor
from . import dead_letters, suppression  # noqa: F401  (suppression registers its send check)
from .inbound import RouteResult, route_inbound
from .inbound_addresses import header_recipients, logging_address, rotate_logging_address
from .inbound_auth import rotate_inbound_secret, verify_inbound_request
from .inbound_models import DEAD_LETTER_STATUSES, DeadLetter

bp = APIBlueprint("inbound", __name__, tag="Inbound mail")

MIME_DOC = """Raw RFC 5322 bytes (`Content-Type: message/rfc822`), signed for the org:
`X-Liaison-Org: <org id>`, `X-Liaison-Timestamp: <unix seconds>`, `X-Liaison-Signature: <hex
HMAC-SHA256 of "<timestamp>.<body>" under the org's inbound secret>`. Optional
`X-Liaison-Recipients: a@x, b@y` gives the envelope recipients (else Delivered-To, X-Original-To,
To and Cc are used). Stale timestamps (over 5 minutes) and reused signatures are refused (401);
bodies over LIAISON_INBOUND_MAX_BYTES are refused (413). A message that cannot be routed is kept
as a dead letter (still 202)."""


class RouteOutcomeOut(Schema):
    recipient = String()
    kind = String(metadata={"enum": ["log", "unsubscribe", "bounce"]})
    detail = String()


class InboundResultOut(Schema):
    status = String(metadata={"enum": ["routed", "partial", "dead_letter"]})
    routes = List(Nested(RouteOutcomeOut))
    dead_letter_id = Id(allow_none=True)
    reason = String(allow_none=True)


class SecretOut(Schema):
    org_id = Id()
    secret = String(metadata={"description": "the signing secret; shown this once, never again"})


class DeadLetterOut(Schema):
    id = Id()
    org_id = Id(allow_none=True)
    received_at = DateTime()
    source = String(metadata={"enum": ["smtp", "http"]})
    envelope_recipients = List(String())
    size = Integer(metadata={"description": "bytes"})
    reason = String()
    status = String(metadata={"enum": list(DEAD_LETTER_STATUSES)})
    attempts = Integer(metadata={"description": "retries so far"})
    last_retry_at = DateTime(allow_none=True)
    resolved_at = DateTime(allow_none=True)


class DeadLetterDetailOut(DeadLetterOut):
    raw_url = String(metadata={"description": "where to download the message as received"})


class DeadLetterPageOut(Schema):
    items = List(Nested(DeadLetterOut))
    next_cursor = IdCursor(allow_none=True)


class DeadLetterQuery(Schema):
    status = String(load_default=None, validate=OneOf(DEAD_LETTER_STATUSES))
    cursor = IdCursor(load_default=None, metadata={"description": "next_cursor of the last page"})
    limit = Integer(load_default=dead_letters.PAGE_SIZE, validate=Range(min=1, max=200))


class RetryOut(Schema):
    dead_letter = Nested(DeadLetterOut)
    result = Nested(InboundResultOut)


class LoggingAddressOut(Schema):
    address = String(metadata={"description": "BCC this address to log an email (LOG-2)"})


def _result_out(result: RouteResult) -> dict:
    return {
        "status": result.status,
        "routes": [o.__dict__ for o in result.outcomes],
        "dead_letter_id": result.dead_letter_id,
        "reason": result.reason,
    }


def _dead_letter_out(row: DeadLetter) -> dict:
    return {name: getattr(row, name) for name in DeadLetterOut._declared_fields}


@bp.before_request
def _limit_inbound_size():
    if request.method == "POST" and request.path == "/inbound/mime":
        limit = int(current_app.config["INBOUND_MAX_BYTES"])
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(f"A message is at most {limit} bytes.", size_limit=limit)
        request.max_content_length = limit


@bp.post("/inbound/mime")
@bp.output(InboundResultOut, status_code=202)
@bp.doc(summary="Deliver a raw message, signed with the org's inbound secret", description=MIME_DOC)
def post_mime():
    if request.mimetype != "message/rfc822":
        raise UnsupportedMediaType("Send the raw message with Content-Type: message/rfc822.")
    limit = int(current_app.config["INBOUND_MAX_BYTES"])
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"A message is at most {limit} bytes.", size_limit=limit)
    org_id = verify_inbound_request(
        request.headers.get("X-Liaison-Org"),
        request.headers.get("X-Liaison-Timestamp"),
        request.headers.get("X-Liaison-Signature"),
        body,
    )
    recipients = header_recipients(body, request.headers.get("X-Liaison-Recipients"))
    return _result_out(route_inbound(body, recipients, "http", org_id=org_id))


@bp.post("/api/inbound/secret")
@bp.output(SecretOut, status_code=201)
@bp.doc(summary="Create or rotate the org's inbound signing secret (admin; shown once)")
@auth_required("admin")
def post_secret():
    user = current_user()
    return {"org_id": user.org_id, "secret": rotate_inbound_secret(user.org_id, user.id)}


@bp.get("/api/inbound/dead-letters/<int:dead_letter_id>")
@bp.output(DeadLetterDetailOut)
@bp.doc(summary="One dead letter (admin)")
@auth_required("admin")
def get_dead_letter(dead_letter_id: int):
    row = dead_letters.get_dead_letter(current_user().org_id, dead_letter_id)
    return {**_dead_letter_out(row), "raw_url": f"/api/inbound/dead-letters/{row.id}/raw"}


@bp.get("/api/inbound/dead-letters")
@bp.input(DeadLetterQuery, location="query", arg_name="query")
@bp.output(DeadLetterPageOut)
@bp.doc(summary="Inbound messages that could not be routed, newest first (admin)")
@auth_required("admin")
def list_dead_letters(query: dict):
    rows, next_cursor = dead_letters.list_dead_letters(
        current_user().org_id, query["status"], query["cursor"], query["limit"]
    )
    return {"items": [_dead_letter_out(row) for row in rows], "next_cursor": next_cursor}


@bp.get("/api/inbound/dead-letters/<int:dead_letter_id>/raw")
@bp.doc(
    summary="A dead letter's raw bytes as received (admin)",
    responses={200: {"description": "the message", "content": {"message/rfc822": {}}}},
)
@auth_required("admin")
def get_dead_letter_raw(dead_letter_id: int):
    row = dead_letters.get_dead_letter(current_user().org_id, dead_letter_id)
    headers = {"Content-Disposition": f'attachment; filename="dead-letter-{row.id}.eml"'}
    return current_app.response_class(row.raw, mimetype="message/rfc822", headers=headers)


@bp.post("/api/inbound/dead-letters/<int:dead_letter_id>/retry")
@bp.output(RetryOut)
@bp.doc(summary="Route a dead letter again (admin): resolved when it routes now")
@auth_required("admin")
def retry_dead_letter(dead_letter_id: int):
    row, result = dead_letters.retry_dead_letter(current_user().org_id, dead_letter_id)
    return {"dead_letter": _dead_letter_out(row), "result": _result_out(result)}


@bp.get("/api/inbound/logging-address")
@bp.output(LoggingAddressOut)
@bp.doc(summary="The caller's logging address (BCC it to log an email; LOG-2)")
@auth_required()
def get_logging_address():
    return {"address": logging_address(current_user().id)}


@bp.post("/api/inbound/logging-address/rotate")
@bp.output(LoggingAddressOut)
@bp.doc(summary="Give the caller a new logging address; the old one stops working")
@auth_required()
def rotate_logging_address_route():
    return {"address": rotate_logging_address(current_user().id)}
