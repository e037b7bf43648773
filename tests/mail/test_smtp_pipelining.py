"""SMTP transport with command pipelining (RFC 2920) against loopback sinks that advertise it:
MAIL, RCPT and DATA in one write, every reply checked and mapped as in lock-step (Mail #3)."""

from __future__ import annotations

import socket
import threading

import pytest
from fakes.smtp_sink import SmtpSink

from server.mail.builder import MessageTemplate
from server.mail.smtp import PIPELINE_RECIPIENTS, SmtpTransport
from server.mail.transport import Accepted, PermanentFailure, TemporaryFailure

TEMPLATE = MessageTemplate(sender=("Sales", "sales@example.com"), domain="mail.example.com")


def message(to: str = "bob@example.org") -> bytes:
    lines = "\n".join(f".line {i}" for i in range(5))  # leading dots need SMTP dot-stuffing
    return TEMPLATE.render(to=to, subject="Hello", text=f"Hi\n{lines}\n.\n").data


def transport_for(sink, **options) -> SmtpTransport:
    options.setdefault("security", "none")
    return SmtpTransport(sink.host, sink.port, timeout=10, **options)


def envelope_reads(sink: SmtpSink) -> list[bytes]:
    """The reads that start a transaction (MAIL FROM first), as the sink got them."""
    return [data for _conn, data in sink.reads if data[:10].upper() == b"MAIL FROM:"]


@pytest.fixture
def sink(make_smtp_sink) -> SmtpSink:
    return make_smtp_sink(pipelining=True, record_reads=True)


def test_mail_rcpt_and_data_go_in_one_write(sink):
    transport = transport_for(sink)
    recipients = ["a@example.org", "b@example.org", "c@example.org"]
    data = message()
    first = transport.send("bounces@example.com", recipients, data)
    second = transport.send("bounces@example.com", ["d@example.org"], message("d@example.org"))
    transport.close()
    assert first == Accepted("Q000001") and second == Accepted("Q000002")
    assert envelope_reads(sink) == [
        b"MAIL FROM:<bounces@example.com>\r\n"
        b"RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n"
        b"DATA\r\n",
        b"MAIL FROM:<bounces@example.com>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n",
    ]
    received = sink.messages[0]
    assert received.data == data  # dot-stuffed on the wire, unstuffed by the sink
    assert received.recipients == recipients
    assert sink.connections == 1


def test_without_pipelining_advertised_each_command_waits_for_its_reply(make_smtp_sink):
    plain = make_smtp_sink(record_reads=True)
    transport = transport_for(plain)
    assert isinstance(
        transport.send("b@example.com", ["a@example.org", "c@x.org"], message()), Accepted
    )
    transport.close()
    assert envelope_reads(plain) == [b"mail FROM:<b@example.com>\r\n"]  # smtplib's case
    commands = [data for _conn, data in plain.reads if data[:4].upper() == b"RCPT"]
    assert commands == [b"rcpt TO:<a@example.org>\r\n", b"rcpt TO:<c@x.org>\r\n"]


def test_one_refused_recipient_among_several(sink):
    sink.reject("gone@example.org", 550)
    sink.reject("busy@example.org", 450)
    transport = transport_for(sink)
    recipients = ["ok@example.org", "gone@example.org", "busy@example.org", "ok2@example.org"]
    result = transport.send("b@example.com", recipients, message())
    assert isinstance(result, Accepted)
    assert list(result.rejected) == ["gone@example.org", "busy@example.org"]
    assert result.rejected["gone@example.org"].startswith("550 5.1.1")
    assert result.rejected["busy@example.org"].startswith("450 4.2.1")
    assert isinstance(transport.send("b@example.com", ["n@example.org"], message()), Accepted)
    transport.close()
    assert [m.recipients for m in sink.messages] == [
        ["ok@example.org", "ok2@example.org"],
        ["n@example.org"],
    ]
    assert sink.connections == 1


@pytest.mark.parametrize(
    ("codes", "kind", "code"),
    [((550, 550), PermanentFailure, 550), ((550, 451), TemporaryFailure, 451)],
)
def test_every_recipient_refused_sends_no_data(sink, codes, kind, code):
    sink.reject("x@example.org", codes[0])
    sink.reject("y@example.org", codes[1])
    transport = transport_for(sink)
    result = transport.send("b@example.com", ["x@example.org", "y@example.org"], message())
    assert isinstance(result, kind) and result.code == code
    assert result.reason.startswith(str(code))
    # aiosmtpd refuses DATA (503) with no recipient: RSET, and the connection serves the next one
    assert isinstance(transport.send("b@example.com", ["ok@example.org"], message()), Accepted)
    transport.close()
    assert [m.recipients for m in sink.messages] == [["ok@example.org"]]
    assert sum(b"Subject: Hello" in data for _conn, data in sink.reads) == 1
    assert any(data.upper() == b"RSET\r\n" for _conn, data in sink.reads)
    assert sink.connections == 1


def test_a_temporary_refusal_of_mail_is_temporary_with_the_server_text(sink):
    sink.fail_next(451, stage="mail")
    transport = transport_for(sink)
    result = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, TemporaryFailure)
    assert result.code == 451 and result.retry_after is None
    assert result.reason == "451 4.3.0 Temporary local problem, try again later"
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(sink.messages) == 1 and sink.connections == 1


@pytest.mark.parametrize(("code", "kind"), [(552, PermanentFailure), (451, TemporaryFailure)])
def test_data_answers(sink, code, kind):
    sink.fail_next(code, stage="data")
    transport = transport_for(sink)
    result = transport.send("b@example.com", ["r@example.org"], message())
    assert isinstance(result, kind) and result.code == code
    if code == 552:
        assert result.reason == "552 5.3.4 Message size exceeds fixed limit"
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(sink.messages) == 1 and sink.connections == 1


def test_421_at_rcpt_is_temporary_and_the_next_message_reconnects(sink):
    sink.fail_next(421, stage="rcpt")
    transport = transport_for(sink)
    result = transport.send("b@example.com", ["r@example.org", "s@example.org"], message())
    assert isinstance(result, TemporaryFailure) and result.code == 421
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert sink.connections == 2 and len(sink.messages) == 1


def test_a_pooled_connection_closed_by_the_server_is_replaced_transparently(sink):
    transport = transport_for(sink)
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    sink.drop_connections()  # idle timeout on the server side
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    sink.fail_next(421, stage="mail")  # "too many messages on this connection"
    assert isinstance(transport.send("b@example.com", ["r@example.org"], message()), Accepted)
    transport.close()
    assert len(sink.messages) == 3 and sink.connections == 3


def test_smtputf8_and_starttls_with_auth_are_pipelined_too(make_smtp_sink):
    sink = make_smtp_sink(
        tls="starttls", auth=("u", "p"), pipelining=True, record_reads=True
    )  # fmt: skip
    transport = transport_for(
        sink, security="starttls", username="u", password="p", ssl_context=sink.client_context()
    )
    built = TEMPLATE.render(to=("Jürgen", "jürgen@bücher.example"), subject="Grüße", text="x")
    result = transport.send("b@example.com", built.recipients, built.data)
    transport.close()
    assert isinstance(result, Accepted)
    assert envelope_reads(sink) == [
        b"MAIL FROM:<b@example.com> SMTPUTF8\r\nRCPT TO:<j\xc3\xbcrgen@xn--bcher-kva.example>\r\n"
        b"DATA\r\n"
    ]
    assert sink.messages[0].data == built.data


def test_a_message_to_very_many_recipients_goes_in_lock_step(sink):
    recipients = [f"r{i}@example.org" for i in range(PIPELINE_RECIPIENTS + 1)]
    transport = transport_for(sink)
    assert isinstance(transport.send("b@example.com", recipients, message()), Accepted)
    transport.close()
    assert envelope_reads(sink) == [b"mail FROM:<b@example.com>\r\n"]  # smtplib's case
    assert sink.messages[0].recipients == recipients


# --- a server that accepts DATA after refusing every recipient (RFC 2920 3.1) -------------------


class ScriptedServer:
    """One connection on loopback: EHLO offers PIPELINING, MAIL/RCPT/DATA/end of data get the
    scripted replies, everything the client writes is kept in `received`."""

    def __init__(
        self, replies: dict[str, str], hold: threading.Event | None = None, pipelining: bool = True
    ) -> None:
        self.replies = {"MAIL": "250 OK", "RSET": "250 OK", "QUIT": "221 Bye", **replies}
        self.extensions = "250-PIPELINING\r\n250 8BITMIME" if pipelining else "250 8BITMIME"
        self.hold = hold  # set: the reply to an end of data may go out
        self.data_ends = 0
        self.received = b""
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self.listener.getsockname()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _addr = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 scripted ESMTP\r\n")
            in_data = False
            for line in lines:
                self.received += line
                verb = "." if in_data else line[:4].decode().upper()
                if in_data and line != b".\r\n":
                    continue
                in_data = False
                if verb == "EHLO":
                    reply = "250-scripted\r\n" + self.extensions
                elif verb == "." and self.hold is not None:
                    self.data_ends += 1
                    self.hold.wait(30)
                    reply = self.replies["."]
                else:
                    reply = self.replies.get(verb, "500 unexpected")
                conn.sendall(reply.encode() + b"\r\n")
                in_data = verb == "DATA" and reply.startswith("354")
                if verb == "QUIT":
                    return

    def stop(self) -> None:
        self.thread.join(10)
        self.listener.close()


@pytest.mark.parametrize(
    ("mail", "rcpt", "expected"),
    [
        ("250 OK", "550 5.1.1 unknown", "550 5.1.1 unknown"),
        ("550 5.7.1 sender refused", "503 need MAIL", "550 5.7.1 sender refused"),
    ],
)
def test_data_accepted_after_a_refused_transaction_gets_an_empty_message(mail, rcpt, expected):
    server = ScriptedServer(
        {"MAIL": mail, "RCPT": rcpt, "DATA": "354 go ahead", ".": "554 no valid recipients"}
    )
    transport = transport_for(server)
    result = transport.send("b@example.com", ["x@example.org", "y@example.org"], message())
    transport.close()
    server.stop()
    assert isinstance(result, PermanentFailure) and result.reason == expected
    transaction = server.received.split(b"\r\n", 1)[1]  # after EHLO
    assert transaction == (
        b"MAIL FROM:<b@example.com>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
        b"DATA\r\n.\r\nquit\r\n"  # QUIT by smtplib
    )


@pytest.mark.parametrize(
    ("data", "exact"),
    [
        (b".first line\r\n..two dots\r\n.\r\nmiddle\r\n. \r\nend\r\n", True),
        (b"Subject: x\r\n\r\n.no final line break", False),  # a CRLF is added
        (b"Subject: x\r\n\r\nbare\n.lf\r\n", False),  # stuffed; aiosmtpd unstuffs after CRLF only
    ],
)
def test_the_data_arrives_as_in_lock_step(sink, make_smtp_sink, data, exact):
    """Dot-stuffing and the final line break as smtplib's `data` does them."""
    plain = make_smtp_sink()
    for server in (sink, plain):
        transport = transport_for(server)
        assert isinstance(transport.send("b@example.com", ["r@example.org"], data), Accepted)
        transport.close()
    assert sink.messages[0].data == plain.messages[0].data
    if exact:
        assert sink.messages[0].data == data  # stuffed on the wire, unstuffed by the sink


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "lock-step"])
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 2.0.0 Ok: queued as 4Xyz", Accepted("4Xyz")),
        ("554 5.7.1 rejected as spam", PermanentFailure("554 5.7.1 rejected as spam", 554)),
        ("451 4.3.0 try later", TemporaryFailure("451 4.3.0 try later", None, 451)),
    ],
)
def test_start_returns_before_the_reply_to_the_data_and_maps_it_when_asked(
    reply, expected, pipelining
):
    """The server holds its reply to the data until the test lets it go: `start` has returned by
    then (the outbox composes the next message meanwhile), and the result maps that reply."""
    release = threading.Event()
    replies = {"RCPT": "250 OK", "DATA": "354 go ahead", ".": reply}
    server = ScriptedServer(replies, hold=release, pipelining=pipelining)
    transport = SmtpTransport(server.host, server.port, security="none", timeout=10)
    verdict = transport.start("b@example.com", ["r@example.org"], message())
    release.set()  # had `start` waited for the reply, it would have timed out: another result
    assert verdict() == expected
    transport.close()  # the connection went back to the pool: QUIT on it
    server.stop()
    assert server.received.endswith(b".\r\nquit\r\n")


def test_plain_addresses_are_quoted_as_smtplib_quotes_them():
    import smtplib

    from server.mail.smtp import quote_address

    for address in ["zoe@example.org", "bounces+42@org.example", "a.b-c_d@x.y", "é@ü.de", "",
                    '"a b"@example.org', "Name <n@example.org>", "x(comment)@example.org",
                    "a@b@c", "<already@example.org>"]:  # fmt: skip
        assert quote_address(address) == smtplib.quoteaddr(address), address
