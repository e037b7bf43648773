"""SMTP transport against a loopback aiosmtpd sink: answers, pooling, TLS, AUTH (Mail #3)."""

from __future__ import annotations

import email
import email.policy
import ssl

import pytest
from fakes.smtp_sink import SmtpSink, free_port

from server.mail.builder import MessageTemplate
from server.mail.smtp import SmtpTransport, queue_id
from server.mail.transport import Accepted, PermanentFailure, TemporaryFailure, Transport

TEMPLATE = MessageTemplate(sender=("Sales", "sales@example.com"), domain="mail.example.com")


def message(to: str = "bob@example.org", subject: str = "Hello") -> bytes:
    lines = "\n".join(f".line {i}" for i in range(5))  # leading dots need SMTP dot-stuffing
    return TEMPLATE.render(to=to, subject=subject, text=f"Hi\n{lines}\n").data


def transport_for(sink: SmtpSink, **options) -> SmtpTransport:
    options.setdefault("security", "none")
    return SmtpTransport(sink.host, sink.port, timeout=10, **options)


def test_accepted_with_the_queue_id_and_the_exact_bytes(smtp_sink):
    transport = transport_for(smtp_sink)
    assert isinstance(transport, Transport)
    data = message()
    result = transport.send("bounces@example.com", ["bob@example.org"], data)
    transport.close()
    assert result == Accepted("Q000001")
    [received] = smtp_sink.messages
    assert received.data == data
    assert received.envelope_from == "bounces@example.com"
    assert received.recipients == ["bob@example.org"]
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert ".line 0" in parsed.get_content()


def test_one_connection_carries_many_messages(smtp_sink):
    transport = transport_for(smtp_sink)
    results = [
        transport.send("b@example.com", [f"r{i}@example.org"], message(f"r{i}@example.org"))
        for i in range(25)
    ]
    transport.close()
    assert all(isinstance(r, Accepted) for r in results)
    assert len(smtp_sink.messages) == 25
    assert smtp_sink.connections == 1


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (550, PermanentFailure),
        (554, PermanentFailure),
        (450, TemporaryFailure),
        (451, TemporaryFailure),
    ],
)
def test_refused_recipient_maps_by_reply_class(smtp_sink, code, kind):
    smtp_sink.reject("nobody@example.org", code)
    transport = transport_for(smtp_sink)
    result = transport.send("b@example.com", ["nobody@example.org"], message("nobody@example.org"))
    assert isinstance(result, kind)
    assert result.code == code and result.reason.startswith(str(code))
    if kind is TemporaryFailure:
        assert result.retry_after is None
    # the connection stays usable for the next message
    assert isinstance(transport.send("b@example.com", ["ok@example.org"], message()), Accepted)
    transport.close()
    assert smtp_sink.connections == 1
    assert [m.recipients for m in smtp_sink.messages] == [["ok@example.org"]]


def test_some_recipients_refused_is_accepted_with_the_refusals(smtp_sink):
    smtp_sink.reject("gone@example.org", 550)
    transport = transport_for(smtp_sink)
    result = transport.send("b@example.com", ["ok@example.org", "gone@example.org"], message())
    transport.close()
    assert isinstance(result, Accepted)
    assert list(result.rejected) == ["gone@example.org"]
    assert result.rejected["gone@example.org"].startswith("550 5.1.1")
    assert smtp_sink.messages[0].recipients == ["ok@example.org"]


@pytest.mark.parametrize(("code", "kind"), [(451, TemporaryFailure), (552, PermanentFailure)])
def test_data_answers(smtp_sink, code, kind):
    smtp_sink.fail_next(code, count=1, stage="data")
    transport = transport_for(smtp_sink)
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), kind)
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(smtp_sink.messages) == 1 and smtp_sink.connections == 1


def test_421_at_data_is_temporary_and_the_next_message_reconnects(smtp_sink):
    smtp_sink.fail_next(421, stage="data")
    transport = transport_for(smtp_sink)
    failed = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(failed, TemporaryFailure) and failed.code == 421
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert smtp_sink.connections == 2


def test_421_at_rcpt_is_temporary(smtp_sink):
    smtp_sink.fail_next(421, stage="rcpt")
    transport = transport_for(smtp_sink)
    result = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, TemporaryFailure) and result.code == 421
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()


def test_a_pooled_connection_closed_by_the_server_is_replaced_transparently(smtp_sink):
    transport = transport_for(smtp_sink)
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    smtp_sink.drop_connections()  # idle timeout on the server side
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    smtp_sink.fail_next(421, stage="mail")  # "too many messages on this connection"
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(smtp_sink.messages) == 3
    assert smtp_sink.connections == 3


def test_421_on_a_fresh_connection_is_temporary(smtp_sink):
    smtp_sink.fail_next(421, count=2, stage="mail")
    transport = transport_for(smtp_sink)
    result = transport.send("b@example.com", ["r@example.org"], message())
    transport.close()
    assert isinstance(result, TemporaryFailure) and result.code == 421
    assert smtp_sink.messages == []


def test_nothing_listening_is_temporary():
    transport = SmtpTransport("127.0.0.1", free_port(), security="none", timeout=5)
    result = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, TemporaryFailure)
    assert "cannot connect" in result.reason


def test_starttls_and_auth(make_smtp_sink):
    sink = make_smtp_sink(tls="starttls", auth=("relay-user", "s3cret"))
    transport = transport_for(
        sink,
        security="starttls",
        username="relay-user",
        password="s3cret",
        ssl_context=sink.client_context(),
    )
    for i in range(3):
        assert isinstance(transport.send("b@example.com", [f"r{i}@x.org"], message()), Accepted)
    transport.close()
    assert len(sink.messages) == 3 and sink.connections == 1

    wrong = transport_for(
        sink, security="starttls", username="relay-user", password="nope",
        ssl_context=sink.client_context(),
    )  # fmt: skip
    result = wrong.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, PermanentFailure) and result.code == 535


def test_starttls_with_an_untrusted_certificate_is_temporary(make_smtp_sink):
    sink = make_smtp_sink(tls="starttls")
    transport = transport_for(sink, security="starttls", ssl_context=ssl.create_default_context())
    result = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, TemporaryFailure) and "CERTIFICATE_VERIFY_FAILED" in result.reason
    assert sink.messages == []


def test_implicit_tls(make_smtp_sink):
    sink = make_smtp_sink(tls="implicit", auth=("u", "p"))
    transport = transport_for(
        sink, security="tls", username="u", password="p", ssl_context=sink.client_context()
    )
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(sink.messages) == 1


def test_smtputf8_addresses_use_the_smtputf8_extension(smtp_sink):
    built = TEMPLATE.render(to=("Jürgen", "jürgen@bücher.example"), subject="Grüße", text="x")
    assert built.smtputf8
    transport = transport_for(smtp_sink)
    result = transport.send("b@example.com", built.recipients, built.data)
    transport.close()
    assert isinstance(result, Accepted)
    [received] = smtp_sink.messages
    assert received.recipients == ["jürgen@xn--bcher-kva.example"]
    assert "SMTPUTF8" in received.mail_options
    assert received.data == built.data


def test_queue_ids_of_common_servers():
    assert queue_id(b"2.0.0 Ok: queued as 4QxYz12abc") == "4QxYz12abc"
    assert queue_id(b"OK id=1rT2xY-0004Ab-3Q") == "1rT2xY-0004Ab-3Q"
    assert queue_id(b"2.6.0 <abc@host.example> [InternalId=1] Queued mail") == "<abc@host.example>"
    assert queue_id(b"OK") is None
