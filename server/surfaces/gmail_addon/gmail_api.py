"""Reading the open message with the Gmail API (google-api-python-client), as the add-on may:
the user's add-on OAuth token as Bearer and the message's own access token in
X-Goog-Gmail-Access-Token. Headers first (format=metadata); the whole message (format=raw) only
when the rep logs it. Each call has GMAIL_ADDON_API_TIMEOUT seconds (default 3) and no retry, so
a card answers well inside Gmail's time limit.
"""

from __future__ import annotations

import base64
import binascii
import threading

import google_auth_httplib2
import httplib2
from flask import current_app
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from ...errors import NotFound, ServiceUnavailable, Unauthorized

METADATA_HEADERS = ["From", "To", "Cc", "Subject", "Date", "Message-ID"]
DEFAULT_TIMEOUT_SECONDS = 3.0
_BUILD_LOCK = threading.Lock()
_CACHE_KEY = "liaison.gmail_addon_service"


def _timeout() -> float:
    return float(current_app.config.get("GMAIL_ADDON_API_TIMEOUT") or DEFAULT_TIMEOUT_SECONDS)


def _service():
    """The Gmail API client, built once per app and discovery URL (requests carry their http)."""
    url = current_app.config.get("GMAIL_DISCOVERY_URL")
    cached = current_app.extensions.get(_CACHE_KEY)
    if cached is not None and cached[0] == url:
        return cached[1]
    with _BUILD_LOCK:
        options = {"static_discovery": url is None, "cache_discovery": False}
        if url:
            options["discoveryServiceUrl"] = url
        service = build("gmail", "v1", http=httplib2.Http(timeout=_timeout()), **options)
        current_app.extensions[_CACHE_KEY] = (url, service)
    return service


def _tokens(event: dict) -> tuple[str, str, str]:
    gmail = event.get("gmail") or {}
    authorization = event.get("authorizationEventObject") or {}
    message_id = gmail.get("messageId")
    oauth_token = authorization.get("userOAuthToken")
    message_token = gmail.get("accessToken")
    if not message_id:
        raise NotFound("Open a message to see it in Liaison.", field="messageId")
    if not oauth_token or not message_token:
        raise Unauthorized("Gmail gave the add-on no access to this message; open it again.")
    return str(message_id), str(oauth_token), str(message_token)


def get_message(event: dict, fmt: str) -> dict:
    """users.messages.get of the event's open message in `fmt` (metadata or raw)."""
    message_id, oauth_token, message_token = _tokens(event)
    kwargs = {"userId": "me", "id": message_id, "format": fmt}
    if fmt == "metadata":
        kwargs["metadataHeaders"] = METADATA_HEADERS
    try:
        request = _service().users().messages().get(**kwargs)
        request.headers["X-Goog-Gmail-Access-Token"] = message_token
        http = google_auth_httplib2.AuthorizedHttp(
            Credentials(oauth_token), http=httplib2.Http(timeout=_timeout())
        )
        return request.execute(http=http, num_retries=0)
    except HttpError as exc:
        status = exc.resp.status
        if status in (401, 403):
            raise Unauthorized("Gmail refused access to this message; open it again.") from exc
        if status == 404:
            raise NotFound("Gmail no longer has this message.", field="messageId") from exc
        raise ServiceUnavailable(f"Gmail answered {status}; try again in a moment.") from exc
    except (TimeoutError, httplib2.HttpLib2Error, OSError) as exc:
        raise ServiceUnavailable(
            f"Gmail did not answer within {_timeout():g} seconds; try again."
        ) from exc


def header_block(resource: dict) -> bytes:
    """The message's headers (from format=metadata) as a MIME header block, for the parser."""
    lines = []
    for header in (resource.get("payload") or {}).get("headers") or []:
        name, value = str(header.get("name", "")), str(header.get("value", ""))
        if name and "\n" not in name and "\r" not in value and "\n" not in value:
            lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def raw_bytes(resource: dict) -> bytes:
    """The whole message (from format=raw)."""
    try:
        return base64.urlsafe_b64decode(str(resource.get("raw") or "").encode("ascii"))
    except (binascii.Error, ValueError) as exc:
        raise ServiceUnavailable("Gmail sent the message in a form we cannot read.") from exc
