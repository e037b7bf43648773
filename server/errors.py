"""The service's error hierarchy and the one handler that turns any error into JSON.

Every error body is {"error": {"code": ..., "message": ..., "field": ...}}.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask, HTTPError
from flask import has_request_context, request
from werkzeug.exceptions import HTTPException


class ServiceError(Exception):
    """Base of errors raised by services; carries an HTTP status and a machine code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class ValidationFailed(ServiceError):
    status, code = 422, "validation_failed"


class ConsentRequired(ServiceError):
    status, code = 409, "consent_required"


class QuotaExceeded(ServiceError):
    status, code = 429, "quota_exceeded"


class ServiceUnavailable(ServiceError):
    status, code = 503, "service_unavailable"


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. not_found"},
                "message": {"type": "string", "description": "what went wrong, for a person"},
                "field": {
                    "type": ["string", "null"],
                    "description": "the request field at fault, when there is one",
                },
                "details": {"type": "object", "description": "validation details by field"},
            },
        }
    },
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def error_body(
    status: int, message: str, field: str | None = None, code: str | None = None, **extra: Any
) -> dict:
    """The JSON body every error response uses."""
    body = {"code": code or _CODES.get(status, "error"), "message": message, "field": field}
    body.update(extra)
    return {"error": body}


def _first_validation_problem(detail: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """Find the first (field path, message) in marshmallow's nested error dict."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            # APIFlask nests errors under the location ("json", "query", ...); skip it in the path
            sub = (
                path
                if key
                in {"json", "query", "form", "files", "headers", "path", "view_args", "cookies"}
                and not path
                else (*path, str(key))
            )
            found = _first_validation_problem(value, sub)
            if found:
                return found
    elif isinstance(detail, list) and detail:
        if all(isinstance(item, str) for item in detail):
            return ".".join(path) or None, detail[0]
        return _first_validation_problem(detail[0], path)
    elif isinstance(detail, str):
        return ".".join(path) or None, detail
    return None


_BAD_JSON = "The request body is not valid JSON."


def _json_sent() -> bool:
    """True when the request says its body is JSON (a 400 then means it could not be parsed)."""
    return has_request_context() and request.is_json and bool(request.get_data(cache=True))


def _body_problem(json_errors: Any) -> tuple[str, str] | None:
    """A clearer message than marshmallow's when the body as a whole is wrong: not JSON at all
    (a form, say), or JSON that is not an object."""
    if has_request_context() and not request.is_json and request.get_data(cache=True):
        return "Content-Type", "Send the body as JSON with 'Content-Type: application/json'."
    if isinstance(json_errors, dict) and list(json_errors) == ["_schema"]:
        return "body", "The request body must be a JSON object."
    return None


def register_error_handlers(app: APIFlask) -> None:
    """Route every error through one JSON shape (and document that shape in the OpenAPI spec)."""
    app.config["HTTP_ERROR_SCHEMA"] = ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = ERROR_SCHEMA

    @app.error_processor
    def _http_error(error: HTTPError):
        if error.status_code == 422 and isinstance(error.detail, dict) and "json" in error.detail:
            unclear = _body_problem(error.detail["json"])
            if unclear:
                return error_body(422, unclear[1], unclear[0], details=error.detail), 422
        if error.status_code == 400 and _json_sent():
            return error_body(400, _BAD_JSON, "body"), 400, error.headers
        if error.status_code == 422 and error.detail:
            found = _first_validation_problem(error.detail)
            if found:
                field, message = found
                text = f"{field}: {message}" if field else message
                return error_body(422, text, field, details=error.detail), 422, error.headers
        message = error.message or "Error"
        if error.detail and isinstance(error.detail, str):
            message = error.detail
        field = error.extra_data.get("field") if error.extra_data else None
        return error_body(error.status_code, message, field), error.status_code, error.headers

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        return error_body(
            error.status, error.message, error.field, error.code, **error.extra
        ), error.status

    @app.errorhandler(HTTPException)
    def _werkzeug_error(error: HTTPException):
        status = error.code or 500
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        if status == 400 and _json_sent():
            return error_body(400, _BAD_JSON, "body"), 400, headers
        return error_body(status, error.description or error.name), status, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        from .extensions import db

        db.session.rollback()  # a failed statement must not poison the next use of the session
        return error_body(500, "Internal error; it has been logged."), 500
