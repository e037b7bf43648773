"""Gmail API transport: users.messages.send as the user, with google-api-python-client.

Messages up to 4 MB go as `{"raw": base64url}`; larger ones (Gmail takes up to 35 MB) as a media
upload of message/rfc822, so the JSON request limit is never hit. Gmail reads the recipients
from To/Cc/Bcc and removes the Bcc header. `credentials_provider(mailbox)` returns
google.oauth2.credentials.Credentials (refreshed by its owner; google-auth refreshes on a 401 when
the credentials can be).

Answers: 200 accepted (provider id: Gmail's message id, thread id kept); 429, 5xx and 403 rate
limits (rateLimitExceeded, userRateLimitExceeded) temporary with Retry-After; 401 temporary
unless the credentials cannot be refreshed (permanent); other 4xx permanent with Google's
message; network errors temporary.

By default the API description bundled with the library is used (no discovery request); tests
and private deployments pass `discovery_url` (a URI template with {api} and {apiVersion}) and the
service then talks to the rootUrl that document names.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from .transport import (
    Accepted,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    credential_failure,
    parse_retry_after,
)

RAW_LIMIT = 4 * 1024 * 1024
RETRYABLE = frozenset({401, 429, 500, 502, 503, 504})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def _google_error(exc: HttpError) -> tuple[str, set[str]]:
    """(message, reasons) from a Google API error body."""
    try:
        error = json.loads(exc.content.decode("utf-8")).get("error", {})
    except (ValueError, AttributeError):
        return f"Gmail {exc.resp.status}", set()
    reasons = {item.get("reason", "") for item in error.get("errors", []) if isinstance(item, dict)}
    return f"Gmail {exc.resp.status} {error.get('status', '')}: {error.get('message', '')}", reasons


class GmailTransport:
    """Sends as a Google user through the Gmail API."""

    def __init__(
        self,
        credentials_provider: Callable[[str], object],
        *,
        discovery_url: str | None = None,
        timeout: float = 30.0,
        raw_limit: int = RAW_LIMIT,
    ) -> None:
        self.credentials_provider = credentials_provider
        self.discovery_url, self.timeout, self.raw_limit = discovery_url, timeout, raw_limit
        self._service = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def _http(self) -> httplib2.Http:
        """One keep-alive HTTP client per thread (httplib2 is not thread-safe)."""
        if not hasattr(self._local, "http"):
            self._local.http = httplib2.Http(timeout=self.timeout)
        return self._local.http

    def _gmail(self):
        with self._lock:
            if self._service is None:
                options = {"static_discovery": self.discovery_url is None, "cache_discovery": False}
                if self.discovery_url:
                    options["discoveryServiceUrl"] = self.discovery_url
                self._service = build("gmail", "v1", http=self._http(), **options)
            return self._service

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> SendResult:
        """users.messages.send(userId="me") with the credentials of `mailbox` (or envelope_from)."""
        user = mailbox or envelope_from
        try:
            credentials = self.credentials_provider(user)
        except Exception as exc:  # the provider's own errors say permanent or not
            return credential_failure(exc, f"no Google credentials for {user}")
        try:
            messages = self._gmail().users().messages()
        except (HttpError, httplib2.HttpLib2Error, OSError) as exc:
            return TemporaryFailure(f"Gmail API description unavailable: {exc!r}")
        if len(message) <= self.raw_limit:
            raw = base64.urlsafe_b64encode(message).decode("ascii")
            request = messages.send(userId="me", body={"raw": raw})
        else:
            upload = MediaInMemoryUpload(message, mimetype="message/rfc822", resumable=False)
            request = messages.send(userId="me", media_body=upload)
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=self._http())
        try:
            result = request.execute(http=http, num_retries=0)
        except HttpError as exc:
            return _map_http_error(exc)
        except auth_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                return TemporaryFailure(f"Google token refresh failed: {exc}")
            return PermanentFailure(f"Google refused the mailbox's credentials: {exc}", 401)
        except (auth_exceptions.TransportError, httplib2.HttpLib2Error, OSError) as exc:
            self._local.__dict__.pop("http", None)  # start over with a new connection
            return TemporaryFailure(f"Gmail unreachable: {exc!r}")
        return Accepted(result.get("id"), thread_id=result.get("threadId"))

    def close(self) -> None:
        """Drop this thread's HTTP connections."""
        http = self._local.__dict__.pop("http", None)
        if http is not None:
            http.close()


def _map_http_error(exc: HttpError) -> SendResult:
    status = exc.resp.status
    reason, reasons = _google_error(exc)
    retry_after = parse_retry_after(exc.resp.get("retry-after"))
    if status in RETRYABLE or (status == 403 and reasons & RATE_REASONS):
        return TemporaryFailure(reason, retry_after, status)
    if 400 <= status < 500:
        return PermanentFailure(reason, status)
    return TemporaryFailure(reason, retry_after, status)
