"""Gmail transport: the real google-api-python-client against a loopback Gmail API (Mail #3)."""

from __future__ import annotations

import base64

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from server.errors import Conflict
from server.mail.builder import Attachment, MessageTemplate
from server.mail.gmail import GmailTransport
from server.mail.transport import Accepted, PermanentFailure, TemporaryFailure, Transport

TEMPLATE = MessageTemplate(sender=("Ann Rep", "ann@gmail.example"), domain="mail.example.com")


def built(**extra):
    return TEMPLATE.render(
        to=("Zoë", "zoe@example.org"),
        bcc="log+42@in.example.com",
        subject="Grüße",
        html="<p>Hello</p>",
        **extra,
    )


def transport(fake, token="good-token", **options) -> GmailTransport:
    return GmailTransport(
        lambda mailbox: Credentials(token=token),
        discovery_url=fake.discovery_url,
        timeout=10,
        **options,
    )


def test_accepted_with_gmails_message_and_thread_ids(fake_gmail):
    gmail = transport(fake_gmail)
    assert isinstance(gmail, Transport)
    message = built()
    result = gmail.send("ann@gmail.example", message.recipients, message.data)
    assert isinstance(result, Accepted)
    [sent] = fake_gmail.sent
    assert result.provider_id == sent.id and result.thread_id == sent.thread_id
    assert sent.mime == message.data and not sent.upload
    assert sent.message["Message-ID"] == message.message_id
    paths = [r.path.split("?")[0] for r in fake_gmail.requests]
    assert paths == ["/discovery/v1/apis/gmail/v1/rest", "/gmail/v1/users/me/messages/send"]
    assert fake_gmail.requests[-1].headers["authorization"] == "Bearer good-token"
    # the service is built once and reused
    assert isinstance(gmail.send("ann@gmail.example", ["z@x.org"], built().data), Accepted)
    assert len(fake_gmail.requests) == 3
    gmail.close()


def test_the_fake_serves_messages_get_to_the_real_client(fake_gmail):
    gmail = transport(fake_gmail)
    message = built()
    result = gmail.send("ann@gmail.example", message.recipients, message.data)
    service = build(
        "gmail",
        "v1",
        credentials=Credentials(token="good-token"),
        discoveryServiceUrl=fake_gmail.discovery_url,
        static_discovery=False,
        cache_discovery=False,
    )
    got = service.users().messages().get(userId="me", id=result.provider_id, format="raw").execute()
    assert got["threadId"] == result.thread_id
    assert base64.urlsafe_b64decode(got["raw"]) == message.data


def test_large_messages_go_as_a_media_upload(fake_gmail):
    template = MessageTemplate(
        sender="ann@gmail.example",
        domain="mail.example.com",
        attachments=[Attachment("big.bin", bytes(range(256)) * 400)],
    )
    message = template.render(to="zoe@example.org", subject="big", text="see attached")
    result = transport(fake_gmail, raw_limit=50_000).send(
        "ann@gmail.example", ["z@x.org"], message.data
    )
    assert isinstance(result, Accepted)
    [sent] = fake_gmail.sent
    assert sent.upload and sent.mime == message.data
    assert fake_gmail.requests[-1].path.startswith("/upload/gmail/v1/users/me/messages/send")


def test_429_is_temporary_with_retry_after(fake_gmail):
    fake_gmail.rate_limited(retry_after=42)
    gmail = transport(fake_gmail)
    result = gmail.send("ann@gmail.example", ["z@x.org"], built().data)
    assert isinstance(result, TemporaryFailure)
    assert result.code == 429 and result.retry_after == 42.0
    assert "User-rate limit exceeded" in result.reason
    assert isinstance(gmail.send("ann@gmail.example", ["z@x.org"], built().data), Accepted)


def test_500_is_temporary(fake_gmail):
    fake_gmail.server_error()
    result = transport(fake_gmail).send("ann@gmail.example", ["z@x.org"], built().data)
    assert isinstance(result, TemporaryFailure) and result.code == 500
    assert result.retry_after is None and fake_gmail.sent == []


def test_403_rate_limit_is_temporary_but_other_403s_are_permanent(fake_gmail):
    fake_gmail.refuse(403, "Rate Limit Exceeded", "userRateLimitExceeded")
    gmail = transport(fake_gmail)
    assert isinstance(gmail.send("a@gmail.example", ["z@x.org"], built().data), TemporaryFailure)
    fake_gmail.refuse(403, "Insufficient Permission", "insufficientPermissions")
    result = gmail.send("a@gmail.example", ["z@x.org"], built().data)
    assert result == PermanentFailure("Gmail 403 PERMISSION_DENIED: Insufficient Permission", 403)


def test_400_is_permanent_with_googles_message(fake_gmail):
    fake_gmail.refuse(400, "Invalid To header", "invalidArgument")
    result = transport(fake_gmail).send("a@gmail.example", ["z@x.org"], built().data)
    assert isinstance(result, PermanentFailure) and result.code == 400
    assert "Invalid To header" in result.reason


def test_rejected_credentials_that_cannot_be_refreshed_are_permanent(fake_gmail):
    result = transport(fake_gmail, token="revoked").send("a@gmail.example", ["z@x.org"], b"x")
    assert isinstance(result, PermanentFailure)
    assert fake_gmail.sent == []


def test_credentials_provider_errors_map_by_kind(fake_gmail):
    def provider(mailbox):
        raise Conflict("The mailbox a@gmail.example cannot send: it was disconnected")

    gmail = GmailTransport(provider, discovery_url=fake_gmail.discovery_url)
    result = gmail.send("a@gmail.example", ["z@x.org"], built().data)
    assert isinstance(result, PermanentFailure) and "disconnected" in result.reason


def test_gmail_unreachable_is_temporary(fake_gmail):
    gmail = transport(fake_gmail)
    assert isinstance(gmail.send("a@gmail.example", ["z@x.org"], built().data), Accepted)
    fake_gmail.stop()
    result = gmail.send("a@gmail.example", ["z@x.org"], built().data)
    assert isinstance(result, TemporaryFailure) and "unreachable" in result.reason


@pytest.mark.parametrize("mailbox", [None, "other@gmail.example"])
def test_the_credentials_asked_for_are_the_mailboxs(fake_gmail, mailbox):
    asked = []

    def provider(key):
        asked.append(key)
        return Credentials(token="good-token")

    gmail = GmailTransport(provider, discovery_url=fake_gmail.discovery_url)
    assert isinstance(
        gmail.send("a@gmail.example", ["z@x.org"], built().data, mailbox=mailbox), Accepted
    )
    assert asked == [mailbox or "a@gmail.example"]
