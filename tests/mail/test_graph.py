"""Graph transport with real requests against a loopback fake of sendMail (Mail plumbing #3)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fakes.graph import graph_error
from fakes.http_server import Answer

from server.errors import Conflict, ServiceError
from server.mail.builder import Attachment, MessageTemplate
from server.mail.graph import GraphTransport
from server.mail.transport import Accepted, PermanentFailure, TemporaryFailure, Transport

TEMPLATE = MessageTemplate(
    sender=("Ann Rep", "ann@contoso.example"),
    domain="mail.example.com",
    attachments=[Attachment("logo.png", b"\x89PNG" * 50, content_id="logo")],
)


def built():
    return TEMPLATE.render(
        to=("Zoë", "zoe@example.org"),
        bcc="log+42@in.example.com",
        subject="Grüße",
        html="<p><img src='cid:logo'> Hello</p>",
        headers={"List-Unsubscribe": "<https://example.com/u/1>"},
    )


def transport(fake, token="good-token") -> GraphTransport:
    return GraphTransport(lambda mailbox: token, base_url=fake.base_url, timeout=10)


def test_accepted_with_the_request_id_and_the_exact_mime(fake_graph):
    graph = transport(fake_graph)
    assert isinstance(graph, Transport)
    message = built()
    result = graph.send("ann@contoso.example", message.recipients, message.data)
    graph.close()
    assert isinstance(result, Accepted) and result.provider_id
    [sent] = fake_graph.sent
    assert sent.user == "ann@contoso.example"
    assert sent.mime == message.data
    assert sent.message["Message-ID"] == message.message_id
    assert sent.message["List-Unsubscribe"] == "<https://example.com/u/1>"
    [request] = fake_graph.requests
    assert request.path == "/v1.0/users/ann@contoso.example/sendMail"
    assert request.headers["content-type"] == "text/plain"
    assert request.headers["authorization"] == "Bearer good-token"
    assert base64.b64decode(request.body) == message.data


def test_mailbox_names_the_user_sent_as(fake_graph):
    graph = transport(fake_graph)
    result = graph.send(
        "ann@contoso.example", ["zoe@example.org"], built().data, mailbox="user-id-1"
    )
    assert isinstance(result, Accepted)
    assert fake_graph.sent[0].user == "user-id-1"


def test_429_is_temporary_with_retry_after(fake_graph):
    fake_graph.throttle(retry_after=17)
    graph = transport(fake_graph)
    result = graph.send("ann@contoso.example", ["zoe@example.org"], built().data)
    assert result == TemporaryFailure(
        "Graph 429 ApplicationThrottled: Too many requests", 17.0, 429
    )
    assert isinstance(graph.send("ann@contoso.example", ["z@x.org"], built().data), Accepted)
    assert len(fake_graph.sent) == 1


def test_retry_after_as_an_http_date(fake_graph):
    when = datetime.now(UTC) + timedelta(seconds=120)
    fake_graph.answer_next(
        Answer(
            503,
            {"error": {"code": "ServiceUnavailable"}},
            {"Retry-After": format_datetime(when, usegmt=True)},
        )
    )
    result = transport(fake_graph).send("ann@contoso.example", ["z@x.org"], built().data)
    assert isinstance(result, TemporaryFailure) and result.code == 503
    assert 100 < result.retry_after <= 120


def test_503_without_retry_after_is_temporary(fake_graph):
    fake_graph.unavailable()
    result = transport(fake_graph).send("ann@contoso.example", ["z@x.org"], built().data)
    assert isinstance(result, TemporaryFailure)
    assert result.code == 503 and result.retry_after is None
    assert fake_graph.sent == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ErrorInvalidRecipients"),
        (403, "ErrorSendAsDenied"),
        (404, "MailboxNotEnabledForRESTAPI"),
        (413, "RequestEntityTooLarge"),
    ],
)
def test_other_client_errors_are_permanent_with_graphs_reason(fake_graph, status, code):
    fake_graph.refuse(status, code, "Nope")
    result = transport(fake_graph).send("ann@contoso.example", ["z@x.org"], built().data)
    assert result == PermanentFailure(f"Graph {status} {code}: Nope", status)


def test_a_rejected_token_is_temporary_so_the_next_try_gets_a_new_one(fake_graph):
    result = transport(fake_graph, token="expired").send(
        "ann@contoso.example", ["z@x.org"], built().data
    )
    assert isinstance(result, TemporaryFailure) and result.code == 401
    assert "InvalidAuthenticationToken" in result.reason


def test_token_provider_errors_map_by_kind(fake_graph):
    class Reconnect(Conflict):
        pass

    class Down(ServiceError):
        status = 503

    def raising(exc):
        def provider(mailbox):
            raise exc

        return GraphTransport(provider, base_url=fake_graph.base_url)

    gone = raising(Reconnect("connect the mailbox again")).send("a@x.org", ["z@x.org"], b"x")
    assert isinstance(gone, PermanentFailure) and "connect the mailbox again" in gone.reason
    down = raising(Down("Microsoft unreachable")).send("a@x.org", ["z@x.org"], b"x")
    assert isinstance(down, TemporaryFailure)
    assert fake_graph.requests == []


def test_nothing_listening_is_temporary(fake_graph):
    url = fake_graph.base_url
    fake_graph.stop()
    result = GraphTransport(lambda m: "t", base_url=url, timeout=5).send(
        "a@x.org", ["z@x.org"], b"x"
    )
    assert isinstance(result, TemporaryFailure) and "unreachable" in result.reason


def test_a_message_over_4_mb_goes_as_draft_upload_session_and_send(fake_graph):
    """Graph takes at most 4 MB per request: a 6 MB attachment goes through an upload session
    in ranges, a small one with one POST, the inline image stays in the draft's MIME."""
    big = bytes(range(256)) * (6 * 1024 * 1024 // 256)  # 6 MB
    small = b"%PDF-1.4 small" * 50
    template = MessageTemplate(
        sender=("Ann Rep", "ann@contoso.example"),
        domain="mail.example.com",
        attachments=[
            Attachment("logo.png", b"\x89PNG" * 50, content_id="logo"),
            Attachment("offer.zip", big, "application/zip"),
            Attachment("terms.pdf", small, "application/pdf"),
        ],
    )
    message = template.render(
        to=("Zoë", "zoe@example.org"),
        subject="Grüße",
        html="<p><img src='cid:logo'> Hello</p>",
    )
    assert len(message.data) > 8 * 1024 * 1024  # base64 on the wire: far over 4 MB
    graph = transport(fake_graph)
    result = graph.send("ann@contoso.example", message.recipients, message.data)
    graph.close()

    assert isinstance(result, Accepted) and result.provider_id
    [sent] = fake_graph.sent
    assert sent.user == "ann@contoso.example"
    assert sent.message["Message-ID"] == message.message_id
    assert [a.name for a in sent.message.iter_attachments()] == []  # only the inline image left
    assert b"cid:logo" in sent.mime and b"Content-ID: <logo>" in sent.mime
    attached = {a.name: a for a in sent.attachments}
    assert attached["offer.zip"].content == big
    assert attached["offer.zip"].content_type == "application/zip"
    assert attached["terms.pdf"].content == small
    puts = [r for r in fake_graph.requests if r.method == "PUT"]
    assert len(puts) == 2  # 6 MiB in ranges of at most 3,276,800 bytes (10 × 320 KiB)
    assert all("authorization" not in r.headers for r in puts)
    assert [r.headers["content-range"] for r in puts][0] == f"bytes 0-3276799/{len(big)}"
    assert max(len(r.body) for r in fake_graph.requests) <= 4 * 1024 * 1024
    assert fake_graph.drafts == {}


def test_a_large_send_that_fails_midway_deletes_its_draft_and_says_why(fake_graph):
    template = MessageTemplate(
        sender=("Ann Rep", "ann@contoso.example"),
        domain="mail.example.com",
        attachments=[Attachment("offer.zip", b"z" * (5 * 1024 * 1024), "application/zip")],
    )
    message = template.render(to="zoe@example.org", subject="Big", text="see attached")
    graph = transport(fake_graph)
    throttled = graph_error(429, "ApplicationThrottled", "Too many requests", retry_after=9)
    fake_graph.answer_step("/attachments/createUploadSession", throttled)
    result = graph.send("ann@contoso.example", message.recipients, message.data)
    graph.close()
    assert isinstance(result, TemporaryFailure) and result.retry_after == 9
    assert fake_graph.sent == []
    assert fake_graph.drafts == {}  # deleted after the failure
    assert fake_graph.requests[-1].method == "DELETE"
