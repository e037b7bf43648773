"""A fake Microsoft Graph mail endpoint on 127.0.0.1: POST /v1.0/users/{id}/sendMail with a MIME
body (base64, Content-Type text/plain) and a bearer token, answering 202 like Graph, or what the
test scripted (429 with Retry-After, 503, 4xx with Graph's error JSON).

Messages over 4 MB, as Graph wants them: POST /v1.0/users/{id}/messages (a draft from base64
MIME, 201 with its id), POST .../messages/{mid}/attachments (a fileAttachment with contentBytes,
201), POST .../messages/{mid}/attachments/createUploadSession (201 with uploadUrl and
nextExpectedRanges), PUT uploadUrl with Content-Range and no Authorization header (200 with the
next expected range, 201 once complete), POST .../messages/{mid}/send (202), DELETE
.../messages/{mid}. Any request body over 4 MB gets 413 like Graph.

    graph = FakeGraph(tokens={"t1"}).start()
    graph.throttle(retry_after=7)            # next request: 429 Retry-After: 7
    graph.unavailable(count=2)               # next two: 503
    graph.refuse(403, "ErrorSendAsDenied")   # next: 403
    ... graph.sent → [SentMail(user, mime, attachments)] ...
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import pytest

from .http_server import Answer, FakeHttpService, Request

_SEND = re.compile(r"^/v1\.0/users/([^/]+)/sendMail$")
_MESSAGES = re.compile(r"^/v1\.0/users/([^/]+)/messages$")
_MESSAGE = re.compile(
    r"^/v1\.0/users/([^/]+)/messages/([^/]+)(/send|/attachments(?:/createUploadSession)?)?$"
)
_UPLOAD = re.compile(r"^/uploadSessions/([0-9a-f]+)$")
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
MAX_REQUEST = 4 * 1024 * 1024


def graph_error(status: int, code: str, message: str, retry_after: int | None = None) -> Answer:
    """An answer with Graph's error body shape."""
    headers = {"request-id": str(uuid.uuid4())}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class FileAttachment:
    """An attachment added to a draft: name, content type and the bytes."""

    name: str
    content_type: str
    content: bytes


@dataclass
class SentMail:
    """A message Graph accepted: the user it was sent as, the MIME bytes (of the draft, for a
    message sent in steps) and the attachments added to it."""

    user: str
    mime: bytes
    attachments: list[FileAttachment] = field(default_factory=list)

    @property
    def message(self):
        return email.message_from_bytes(self.mime, policy=email.policy.default)


class FakeGraph(FakeHttpService):
    """The sendMail endpoint of Microsoft Graph, on loopback."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.sent: list[SentMail] = []
        self.drafts: dict[str, SentMail] = {}
        self._uploads: dict[str, dict] = {}  # session id → {draft, name, type, size, data}
        self._step_answers: dict[str, Answer] = {}

    def answer_step(self, action: str, answer: Answer) -> None:
        """The next request of a large send's step ("/send", "/attachments",
        "/attachments/createUploadSession") gets `answer`."""
        self._step_answers[action] = answer

    def throttle(self, retry_after: int = 30, count: int = 1) -> None:
        """The next `count` requests get 429 Too Many Requests with Retry-After."""
        answer = graph_error(429, "ApplicationThrottled", "Too many requests", retry_after)
        self.answer_next(answer, count)

    def unavailable(self, count: int = 1, retry_after: int | None = None) -> None:
        """The next `count` requests get 503 Service Unavailable."""
        answer = graph_error(503, "ServiceUnavailable", "Service unavailable", retry_after)
        self.answer_next(answer, count)

    def refuse(self, status: int, code: str, message: str = "Refused", count: int = 1) -> None:
        """The next `count` requests get `status` with Graph error `code`."""
        self.answer_next(graph_error(status, code, message), count)

    def handle(self, request: Request) -> Answer:
        path = urlsplit(request.path).path
        if len(request.body) > MAX_REQUEST:
            return graph_error(413, "RequestEntityTooLarge", "The request is too large.")
        upload = _UPLOAD.match(path)
        if upload:  # pre-authorized URL: Graph refuses a bearer token here
            if "authorization" in request.headers:
                return graph_error(401, "InvalidAuthenticationToken", "No token on uploadUrl.")
            return self._upload(request, upload.group(1))
        if not self.bearer_ok(request):
            return graph_error(401, "InvalidAuthenticationToken", "Access token is invalid.")
        scripted = self.scripted()
        if scripted:
            return scripted
        send, messages, message = _SEND.match(path), _MESSAGES.match(path), _MESSAGE.match(path)
        if request.method == "POST" and (send or messages):
            mime = self._mime(request)
            if isinstance(mime, Answer):
                return mime
            user = unquote((send or messages).group(1))
            if send:
                self.sent.append(SentMail(user, mime))
                return Answer(202, None, {"request-id": str(uuid.uuid4())})
            draft_id = "AAMk" + uuid.uuid4().hex
            self.drafts[draft_id] = SentMail(user, mime)
            return Answer(201, {"id": draft_id, "isDraft": True})
        if message:
            return self._message(request, unquote(message.group(2)), message.group(3) or "")
        return graph_error(404, "UnknownRequest", "No such resource")

    def _mime(self, request: Request) -> bytes | Answer:
        if not request.headers.get("content-type", "").startswith("text/plain"):
            return graph_error(400, "ErrorInvalidRequest", "JSON sends are not faked here")
        try:
            mime = binascii.a2b_base64(request.body, strict_mode=True)
        except binascii.Error:
            return graph_error(
                400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME."
            )
        if b"\r\n\r\n" not in mime or not re.search(rb"(?im)^(to|cc|bcc):", mime):
            return graph_error(400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
        return mime

    def _message(self, request: Request, draft_id: str, action: str) -> Answer:
        draft = self.drafts.get(draft_id)
        if draft is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found.")
        if request.method == "DELETE" and not action:
            del self.drafts[draft_id]
            return Answer(204)
        if request.method != "POST" or not action:
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed")
        if action in self._step_answers:
            return self._step_answers.pop(action)
        if action == "/send":
            self.sent.append(self.drafts.pop(draft_id))
            return Answer(202, None, {"request-id": str(uuid.uuid4())})
        body = json.loads(request.body or b"{}")
        if action == "/attachments":
            if body.get("@odata.type") != "#microsoft.graph.fileAttachment":
                return graph_error(400, "ErrorInvalidRequest", "Only file attachments faked")
            content = base64.b64decode(body["contentBytes"])
            if len(content) >= 3 * 1024 * 1024:
                return graph_error(413, "ErrorAttachmentSizeLimitExceeded", "Use an upload session")
            draft.attachments.append(FileAttachment(body["name"], body["contentType"], content))
            return Answer(201, {"id": uuid.uuid4().hex, "name": body["name"]})
        item = body.get("AttachmentItem") or {}
        if item.get("attachmentType") != "file" or not item.get("name") or not item.get("size"):
            return graph_error(400, "ErrorInvalidRequest", "AttachmentItem is incomplete.")
        session = uuid.uuid4().hex
        self._uploads[session] = {
            "draft": draft_id,
            "name": item["name"],
            "type": item.get("contentType") or "application/octet-stream",
            "size": int(item["size"]),
            "data": bytearray(),
        }
        return Answer(
            201,
            {
                "uploadUrl": f"{self.base_url}/uploadSessions/{session}?authtoken=fake",
                "expirationDateTime": "2030-01-01T00:00:00Z",
                "nextExpectedRanges": ["0-"],
            },
        )

    def _upload(self, request: Request, session: str) -> Answer:
        upload = self._uploads.get(session)
        match = _RANGE.match(request.headers.get("content-range", ""))
        if upload is None or request.method != "PUT":
            return graph_error(404, "ErrorItemNotFound", "No such upload session")
        if not match:
            return graph_error(400, "InvalidContentRange", "Content-Range is required")
        start, end, total = (int(g) for g in match.groups())
        data = upload["data"]
        if total != upload["size"] or start != len(data) or end - start + 1 != len(request.body):
            return graph_error(416, "InvalidRange", f"Expected range {len(data)}-")
        data.extend(request.body)
        if len(data) < total:
            return Answer(200, {"expirationDateTime": "2030-01-01T00:00:00Z",
                                "nextExpectedRanges": [f"{len(data)}-"]})  # fmt: skip
        del self._uploads[session]
        attachment = FileAttachment(upload["name"], upload["type"], bytes(data))
        self.drafts[upload["draft"]].attachments.append(attachment)
        return Answer(201, None, {"Location": f"{self.base_url}/attachments/{session}"})


@pytest.fixture
def fake_graph():
    """A fake Graph on 127.0.0.1 accepting the bearer token 'good-token'."""
    graph = FakeGraph().start()
    yield graph
    graph.stop()
