"""A fake Gmail API on 127.0.0.1: the discovery document (the one google-api-python-client ships,
pointed at this server), users.messages.send (JSON {"raw"} or a message/rfc822 media upload) and
users.messages.get in Gmail's formats (metadata with metadataHeaders, full, raw, minimal), with
bearer tokens and scripted 429/500/403 answers in Google's error shape.

    gmail = FakeGmail(tokens={"t1"}).start()
    GmailTransport(..., discovery_url=gmail.discovery_url)
    gmail.rate_limited(retry_after=5)   # next send: 429 RESOURCE_EXHAUSTED, Retry-After: 5
    gmail.server_error(count=2)         # next two sends: 500
    ... gmail.sent → [SentMessage(id, thread_id, mime)] ...
    gmail.add_message(mime)             # a message in the mailbox, readable with messages.get
    gmail.message_tokens = {"t"}        # messages.get also needs X-Goog-Gmail-Access-Token: t
                                        # (what a Gmail add-on's current-message token is)
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
from urllib.parse import parse_qs, urlsplit

import pytest

from .http_server import Answer, FakeHttpService, Request

_SEND = re.compile(r"^/(upload/)?gmail/v1/users/me/messages/send$")
_GET = re.compile(r"^/gmail/v1/users/me/messages/([A-Za-z0-9:_-]+)$")
_FORMATS = ("minimal", "full", "raw", "metadata")
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
    labels: tuple[str, ...] = ("SENT",)

    @property
    def message(self):
        return email.message_from_bytes(self.mime, policy=email.policy.default)


class FakeGmail(FakeHttpService):
    """The Gmail API endpoints the transport uses, on loopback."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.sent: list[SentMessage] = []
        self.mailbox: dict[str, SentMessage] = {}
        self.message_tokens: set[str] | None = None
        self._ids = itertools.count(0x18C2F00000000001)

    def add_message(self, mime: bytes, message_id: str | None = None) -> str:
        """Put a message in the mailbox (as if received); returns its id."""
        message_id = message_id or f"{next(self._ids):x}"
        self.mailbox[message_id] = SentMessage(message_id, message_id, mime, False, ("INBOX",))
        return message_id

    def gets(self, message_id: str) -> list[str]:
        """The `format` of each users.messages.get of `message_id`, in order."""
        found = []
        for request in list(self.requests):
            split = urlsplit(request.path)
            match = _GET.match(split.path)
            if request.method == "GET" and match and match.group(1) == message_id:
                found.append(parse_qs(split.query).get("format", ["full"])[0])
        return found

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
            return self.scripted() or self._get(request, get.group(1))
        return google_error(404, "Not Found", "notFound")

    def _get(self, request: Request, message_id: str) -> Answer:
        query = parse_qs(urlsplit(request.path).query)
        fmt = query.get("format", ["full"])[0]
        if fmt not in _FORMATS:
            return google_error(400, f"Invalid value at 'format' ({fmt})", "invalidArgument")
        if self.message_tokens is not None:
            given = request.headers.get("x-goog-gmail-access-token")
            if given not in self.message_tokens:
                return google_error(403, "Missing access token for the current message.",
                                    "insufficientPermissions")  # fmt: skip
        found = self.mailbox.get(message_id) or next(
            (m for m in self.sent if m.id == message_id), None
        )
        if found is None:
            return google_error(404, "Requested entity was not found.", "notFound")
        return Answer(200, message_resource(found, fmt, query.get("metadataHeaders", [])))

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _headers(part) -> list[dict]:
    return [{"name": name, "value": str(value)} for name, value in part.items()]


def _part(part, part_id: str) -> dict:
    """A MessagePart as Gmail's format=full shows it (bodies base64url, attachments by id)."""
    resource = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": _headers(part),
    }
    if part.is_multipart():
        resource["body"] = {"size": 0}
        resource["parts"] = [
            _part(child, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(part.iter_parts())
        ]
        return resource
    payload = part.get_payload(decode=True) or b""
    if resource["filename"]:
        resource["body"] = {"attachmentId": f"ANGjdJ{part_id or 'x'}", "size": len(payload)}
    else:
        resource["body"] = {"size": len(payload), "data": _b64(payload)}
    return resource


def message_resource(found: SentMessage, fmt: str, metadata_headers: list[str]) -> dict:
    """users.messages.get's answer for `fmt` (minimal | full | raw | metadata)."""
    message = found.message
    text = message.get_body(("plain",))
    snippet = " ".join((text.get_content() if text else "").split())[:200]
    resource = {
        "id": found.id,
        "threadId": found.thread_id,
        "labelIds": list(found.labels),
        "snippet": snippet,
        "sizeEstimate": len(found.mime),
        "historyId": "4242",
        "internalDate": "1700000000000",
    }
    if fmt == "raw":
        resource["raw"] = _b64(found.mime)
    elif fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers}
        headers = [h for h in _headers(message) if not wanted or h["name"].lower() in wanted]
        resource["payload"] = {"mimeType": message.get_content_type(), "headers": headers}
    elif fmt == "full":
        resource["payload"] = _part(message, "")
    return resource


@pytest.fixture
def fake_gmail():
    """A fake Gmail API on 127.0.0.1 accepting the bearer token 'good-token'."""
    gmail = FakeGmail().start()
    yield gmail
    gmail.stop()
