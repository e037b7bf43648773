"""A fake Microsoft Graph mail endpoint on 127.0.0.1: POST /v1.0/users/{id}/sendMail with a MIME
body (base64, Content-Type text/plain) and a bearer token, answering 202 like Graph, or what the
test scripted (429 with Retry-After, 503, 4xx with Graph's error JSON).

    graph = FakeGraph(tokens={"t1"}).start()
    graph.throttle(retry_after=7)            # next request: 429 Retry-After: 7
    graph.unavailable(count=2)               # next two: 503
    graph.refuse(403, "ErrorSendAsDenied")   # next: 403
    ... graph.sent → [SentMail(user, mime)] ...
"""

from __future__ import annotations

import binascii
import email
import email.policy
import re
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

import pytest

from .http_server import Answer, FakeHttpService, Request

_SEND = re.compile(r"^/v1\.0/users/([^/]+)/sendMail$")


def graph_error(status: int, code: str, message: str, retry_after: int | None = None) -> Answer:
    """An answer with Graph's error body shape."""
    headers = {"request-id": str(uuid.uuid4())}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class SentMail:
    """A message Graph accepted: the user it was sent as and the MIME bytes."""

    user: str
    mime: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.mime, policy=email.policy.default)


class FakeGraph(FakeHttpService):
    """The sendMail endpoint of Microsoft Graph, on loopback."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.sent: list[SentMail] = []

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
        match = _SEND.match(request.path)
        if request.method != "POST" or not match:
            return graph_error(404, "UnknownRequest", "No such resource")
        if not self.bearer_ok(request):
            return graph_error(401, "InvalidAuthenticationToken", "Access token is invalid.")
        scripted = self.scripted()
        if scripted:
            return scripted
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
        self.sent.append(SentMail(unquote(match.group(1)), mime))
        return Answer(202, None, {"request-id": str(uuid.uuid4())})


@pytest.fixture
def fake_graph():
    """A fake Graph on 127.0.0.1 accepting the bearer token 'good-token'."""
    graph = FakeGraph().start()
    yield graph
    graph.stop()
