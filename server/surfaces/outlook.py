"""The Outlook add-in's files and a pane helper (UI-1, TRK-5).

Serves addin/ at /addin/... (HTML with the Office.js URL filled in, scripts with this service's
absolute origin, since the event runtime of classic Outlook has no page to resolve relative URLs
against, and with the Entra client id and API scope for nested app authentication), the rendered
manifest, and the well-known file that lets the JavaScript-only runtime call this origin. Rules
stay in their services: the helpers only ask tracking for its answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Raw, String
from apiflask.validators import Length
from flask import Response, current_app, request
from werkzeug.security import safe_join

from ..auth.guard import auth_required, current_user
from ..errors import NotFound
from .manifest_cli import normalize_base_url, render_outlook_manifest

bp = APIBlueprint("outlook", __name__, tag="Outlook add-in")

ADDIN_DIR = Path(__file__).resolve().parents[2] / "addin"
OFFICE_JS_URL = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_UNAVAILABLE = "Tracking is not available on this Liaison server yet."


def office_js_url() -> str:
    """Where the pages load Office.js from: Microsoft's CDN unless configured otherwise."""
    return current_app.config.get("OFFICE_JS_URL") or OFFICE_JS_URL


def service_origin() -> str:
    """This service's absolute base URL as the add-in must call it."""
    configured = current_app.config.get("BASE_URL") or ""
    if configured and urlsplit(configured).netloc == request.host:
        return configured.rstrip("/")
    return request.url_root.rstrip("/")


def nested_app_auth(origin: str) -> dict | None:
    """What MSAL's nested app authentication needs: the Entra client id and our API's scope
    (MS_API_AUDIENCE, else api://<host>/<client id> as in the manifest, + /access_as_user)."""
    config = current_app.config
    client_id = config.get("MS_CLIENT_ID")
    if not client_id:
        return None
    audience = config.get("MS_API_AUDIENCE") or f"api://{urlsplit(origin).netloc}/{client_id}"
    scope = config.get("MS_REQUIRED_SCOPE") or "access_as_user"
    return {"clientId": client_id, "scope": f"{audience.rstrip('/')}/{scope}"}


@bp.get("/addin/<path:filename>")
@bp.doc(hide=True)
def addin_file(filename: str):
    """A file of the add-in (HTML, script or style sheet)."""
    path = safe_join(str(ADDIN_DIR), filename)
    suffix = Path(filename).suffix
    if path is None or suffix not in _TYPES or not Path(path).is_file():
        raise NotFound("No such add-in file.")
    text = Path(path).read_text(encoding="utf-8")
    origin = service_origin()
    if suffix == ".html":
        text = text.replace("{{OFFICE_JS_URL}}", office_js_url()).replace("{{BASE_URL}}", origin)
    elif suffix == ".js":
        text = text.replace('"__LIAISON_BASE_URL__"', json.dumps(origin))
        text = text.replace('"__LIAISON_MS_AUTH__"', json.dumps(nested_app_auth(origin)))
    response = Response(text, mimetype=_TYPES[suffix])
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/addin/manifest.xml")
@bp.doc(hide=True)
def outlook_manifest():
    """The Outlook manifest for this deployment (its BASE_URL must be https)."""
    config = current_app.config
    try:
        base = normalize_base_url(config.get("BASE_URL") or "")
    except ValueError as exc:
        raise NotFound(f"No manifest: {exc} Set LIAISON_BASE_URL.") from None
    text = render_outlook_manifest(
        base, client_id=config.get("MS_CLIENT_ID"), api_resource=config.get("MS_API_AUDIENCE")
    )
    return Response(text, mimetype="application/xml")


@bp.get("/.well-known/microsoft-officeaddins-allowed.json")
@bp.doc(hide=True)
def officeaddins_allowed():
    """The origins whose add-in scripts may call this service from Outlook's event runtime."""
    return {"allowed": [f"{service_origin()}/addin/"]}


def _tracking_status():
    """tracking's status look-up, or None where tracking is not deployed."""
    try:
        from ..tracking.status import tracking_status
    except ImportError:
        return None
    return tracking_status


class TrackingStatusQuery(Schema):
    message_id = String(required=True, validate=Length(1, 998))


class TrackingStatusOut(Schema):
    available = Boolean()
    reason = String(allow_none=True)
    status = Raw(allow_none=True)


@bp.get("/api/addin/tracking-status")
@bp.input(TrackingStatusQuery, location="query", arg_name="query")
@bp.output(TrackingStatusOut)
@bp.doc(summary="Opens and clicks of a message we sent, found by its Message-ID (read pane)")
@auth_required()
def tracking_status_route(query: dict):
    status = _tracking_status()
    if status is None:
        return {"available": False, "reason": _UNAVAILABLE, "status": None}
    found = status(current_user().org_id, message_id=query["message_id"])
    return {"available": True, "reason": None, "status": found}
