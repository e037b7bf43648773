"""A fake Gmail API on 127.0.0.1: the discovery document (the one google-api-python-client ships,
pointed at this server), users.messages.send (JSON {"raw"} or a message/rfc822 media upload) and
users.messages.get, with bearer tokens and scripted 429/500/403 answers in Google's error shape.

    gmail = FakeGmail(tokens={"t1"}).start()
    GmailTransport(..., discovery_url=gmail.discovery_url)
    gmail.rate_limited(retry_after=5)   # next send: 429 RESOURCE_EXHAUSTED, Retry-After: 5
    gmail.server_error(count=2)         # next two sends: 500
    ... gmail.sent → [SentMessage(id, thread_id, mime)] ...
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import itertools
import json
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

import pytest

from .http_server import Answer, FakeHttpService, Request

_SEND = re.compile(r"^/(upload/)?gmail/v1/users/me/messages/send$")
_GET = re.compile(r"^/gmail/v1/users/me/messages/([0-9a-f]+)$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_STATUS |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def google_error(
    status: int, message: str, reason: str = "", retry_after: int | None = None
) -> Answer:
    """An answer in the Google API error shape."""
    errors = [{"message": message, "domain": "global", "reason": reason or "backendError"}]
    body = {"error": {"code": status, "message": message, "errors": errors}}
    body["error"]["status"] = _STATUS.get(status, "UNKNOWN")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Answer(status, body, headers)


@dataclass
class SentMessage:
    """A message Gmail accepted."""

    id: str
    thread_id: str
    mime: bytes
    upload: bool

    @property
    def message(self):
        return email.message_from_bytes(self.mime, policy=email.policy.default)


class FakeGmail(FakeHttpService):
    """The Gmail API endpoints the transport uses, on loopback."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.sent: list[SentMessage] = []
        self._ids = itertools.count(0x18C2F00000000001)

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest"

    def rate_limited(self, retry_after: int | None = 30, count: int = 1) -> None:
        """The next `count` sends get 429 (per-user rate limit)."""
        answer = google_error(429, "User-rate limit exceeded", "rateLimitExceeded", retry_after)
        self.answer_next(answer, count)

    def server_error(self, count: int = 1) -> None:
        """The next `count` sends get 500 backendError."""
        self.answer_next(google_error(500, "Backend Error", "backendError"), count)

    def refuse(self, status: int, message: str, reason: str = "", count: int = 1) -> None:
        """The next `count` sends get `status`."""
        self.answer_next(google_error(status, message, reason), count)

    def _discovery(self) -> Answer:
        path = resources.files("googleapiclient") / "discovery_cache/documents/gmail.v1.json"
        document = json.loads(path.read_text())
        root = self.base_url + "/"
        document.update(rootUrl=root, baseUrl=root, mtlsRootUrl=root)
        return Answer(200, document)

    def handle(self, request: Request) -> Answer:
        path = urlsplit(request.path).path
        if request.method == "GET" and path == "/discovery/v1/apis/gmail/v1/rest":
            return self._discovery()
        if not self.bearer_ok(request):
            answer = google_error(401, "Request had invalid authentication credentials.")
            answer.headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            return answer
        send, get = _SEND.match(path), _GET.match(path)
        if request.method == "POST" and send:
            return self.scripted() or self._send(request, upload=bool(send.group(1)))
        if request.method == "GET" and get:
            found = [m for m in self.sent if m.id == get.group(1)]
            if not found:
                return google_error(404, "Requested entity was not found.", "notFound")
            raw = base64.urlsafe_b64encode(found[0].mime).decode()
            return Answer(200, {"id": found[0].id, "threadId": found[0].thread_id, "raw": raw})
        return google_error(404, "Not Found", "notFound")

    def _send(self, request: Request, upload: bool) -> Answer:
        if upload:
            if not request.headers.get("content-type", "").startswith("message/"):
                return google_error(400, "Media type not supported", "badContent")
            mime = request.body
        else:
            try:
                raw = json.loads(request.body)["raw"]
                mime = base64.urlsafe_b64decode(raw.encode("ascii"))
            except (ValueError, KeyError, TypeError, binascii.Error):
                return google_error(400, "Invalid value for ByteString", "invalidArgument")
        if not re.search(rb"(?im)^(to|cc|bcc):", mime.split(b"\r\n\r\n", 1)[0]):
            return google_error(400, "Recipient address required", "invalidArgument")
        message_id = f"{next(self._ids):x}"
        self.sent.append(SentMessage(message_id, message_id, mime, upload))
        return Answer(200, {"id": message_id, "threadId": message_id, "labelIds": ["SENT"]})


@pytest.fixture
def fake_gmail():
    """A fake Gmail API on 127.0.0.1 accepting the bearer token 'good-token'."""
    gmail = FakeGmail().start()
    yield gmail
    gmail.stop()
