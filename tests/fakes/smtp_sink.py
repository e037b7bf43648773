"""An SMTP sink on 127.0.0.1 (aiosmtpd): stores what it receives, counts connections, and answers
421/451/550/... on chosen addresses or for the next N messages. Optional STARTTLS or implicit TLS
(self-signed certificate made with `cryptography`) and AUTH.

    sink = SmtpSink(tls="starttls", auth=("user", "secret")).start()
    sink.reject("bounce@example.org", 550)        # at RCPT, for that address, every time
    sink.fail_next(451, count=2, stage="data")    # the next two messages, at the end of DATA
    sink.fail_next(421, stage="mail")             # 421 then closes the connection
    SmtpSink(pipelining=True)                     # advertises PIPELINING (RFC 2920) at EHLO
    SmtpSink(record_reads=True)                   # keeps each chunk read off a connection
    ... sink.messages, sink.connections ...
    sink.stop()

Fixtures: `smtp_sink` (plain) and `make_smtp_sink(**options)` (stopped after the test).
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLIES = {
    421: "421 4.3.2 Service shutting down, closing transmission channel",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary local problem, try again later",
    452: "452 4.5.3 Too many recipients",
    550: "550 5.1.1 Mailbox unavailable: user unknown",
    552: "552 5.3.4 Message size exceeds fixed limit",
    554: "554 5.7.1 Message rejected as spam",
}


@dataclass
class Received:
    """One message as the sink got it."""

    envelope_from: str
    recipients: list[str]
    data: bytes
    mail_options: list[str]
    queue_id: str
    connection: int


@dataclass
class _Failure:
    code: int
    stage: str
    remaining: int


@dataclass
class _State:
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    live: list[SMTP] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_after: int | None = None  # messages past this many wait for `released`
    holding: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    reads: list[tuple[int, bytes]] | None = None  # (connection, bytes of one read), if recorded


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state
        self.ids = itertools.count(1)

    def _scripted(self, stage: str) -> int | None:
        with self.state.lock:
            for failure in self.state.failures:
                if failure.stage == stage and failure.remaining > 0:
                    failure.remaining -= 1
                    return failure.code
        return None

    @staticmethod
    def _answer(server: SMTP, code: int) -> str:
        if code == 421:  # the server closes the channel after saying so
            server.loop.call_soon(server.transport.close)
        return REPLIES.get(code, f"{code} scripted failure")

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        code = self._scripted("mail")
        if code:
            return self._answer(server, code)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.state.rejections.get(address.lower()) or self._scripted("rcpt")
        if code:
            return self._answer(server, code)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self._scripted("data")
        if code:
            return self._answer(server, code)
        queue_id = f"Q{next(self.ids):06d}"
        received = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content,
            list(envelope.mail_options),
            queue_id,
            getattr(server, "connection_number", 0),
        )
        with self.state.lock:
            self.state.messages.append(received)
            hold = self.state.hold_after is not None and (
                len(self.state.messages) > self.state.hold_after
            )
        if hold:  # stored, but the client hears nothing until released (a crash test's moment)
            self.state.holding.set()
            await server.loop.run_in_executor(None, self.state.released.wait)
        return f"250 2.0.0 Ok: queued as {queue_id}"


class _PipeliningHandler(_Handler):
    """Also advertises PIPELINING: aiosmtpd reads commands line by line, so it takes them
    pipelined and answers each in order."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class _CountingSMTP(SMTP):
    def __init__(self, *args, state: _State, **kwargs) -> None:
        with warnings.catch_warnings():  # implicit TLS: AUTH is over TLS, aiosmtpd cannot tell
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            super().__init__(*args, **kwargs)
        self._state = state

    def connection_made(self, transport) -> None:
        with self._state.lock:  # STARTTLS calls this again for the same connection
            if not hasattr(self, "connection_number"):
                self._state.connections += 1
                self.connection_number = self._state.connections
                self._state.live.append(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._state.reads is not None:
            with self._state.lock:
                self._state.reads.append((getattr(self, "connection_number", 0), bytes(data)))
        super().data_received(data)

    def connection_lost(self, error) -> None:
        with self._state.lock:
            if self in self._state.live:
                self._state.live.remove(self)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, *args, state: _State, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._state = state

    def factory(self):
        return _CountingSMTP(self.handler, state=self._state, **self.SMTP_kwargs)


class SmtpSink:
    """A loopback SMTP server for tests (see the module docstring)."""

    def __init__(
        self,
        *,
        tls: str | None = None,
        auth: tuple[str, str] | None = None,
        pipelining: bool = False,
        record_reads: bool = False,
    ) -> None:
        assert tls in (None, "starttls", "implicit")
        self.tls, self.auth, self.pipelining = tls, auth, pipelining
        self.host, self.port = "127.0.0.1", free_port()
        self._state = _State(reads=[] if record_reads else None)
        self._dir = tempfile.TemporaryDirectory(prefix="smtp-sink-")
        self.cert_path: Path | None = None
        self._controller: Controller | None = None

    # --- scripting -----------------------------------------------------------------------------

    def reject(self, address: str, code: int = 550) -> None:
        """Answer `code` at RCPT for this address, every time."""
        self._state.rejections[address.lower()] = code

    def fail_next(self, code: int, count: int = 1, stage: str = "data") -> None:
        """Answer `code` for the next `count` messages at stage mail, rcpt or data."""
        assert stage in ("mail", "rcpt", "data")
        with self._state.lock:
            self._state.failures.append(_Failure(code, stage, count))

    def hold_after(self, count: int) -> threading.Event:
        """Once `count` messages are stored, hold the reply to every further one until
        `release()`; returns an event set when the first reply is being held."""
        self._state.hold_after = count
        return self._state.holding

    def release(self) -> None:
        """Answer the held replies and stop holding."""
        self._state.hold_after = None
        self._state.released.set()

    def drop_connections(self) -> None:
        """Close every open client connection from the server side (an idle timeout)."""
        for server in list(self._state.live):
            if server.transport is not None:
                self._controller.loop.call_soon_threadsafe(server.transport.close)

    # --- observing -----------------------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._state.lock:
            return list(self._state.messages)

    @property
    def reads(self) -> list[tuple[int, bytes]]:
        """(connection, bytes) of every read off a client connection, in order (record_reads)."""
        assert self._state.reads is not None, "SmtpSink(record_reads=True) records reads"
        with self._state.lock:
            return list(self._state.reads)

    @property
    def connections(self) -> int:
        """Client connections made since start()."""
        return self._state.connections

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the sink's certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        kwargs: dict = {"enable_SMTPUTF8": True, "server_hostname": "sink.test"}
        ssl_context = None
        if self.tls:
            self.cert_path, key_path = _self_signed(Path(self._dir.name))
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(self.cert_path, key_path)
            if self.tls == "starttls":
                kwargs.update(tls_context=server_context, require_starttls=True)
            else:
                ssl_context = server_context
        if self.auth:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls == "starttls",  # implicit TLS is TLS from the start
            )
        handler = (_PipeliningHandler if self.pipelining else _Handler)(self._state)
        self._controller = _Controller(
            handler,
            hostname=self.host,
            port=self.port,
            ssl_context=ssl_context,
            state=self._state,
            **kwargs,
        )
        self._controller.start()
        with self._state.lock:  # start() probes the port once; that is not a client
            self._state.connections = 0
        return self

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.auth
        )
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self.drop_connections()
            self._controller.stop()
            self._controller = None
        self._dir.cleanup()


@pytest.fixture
def smtp_sink():
    """A plain SMTP sink on 127.0.0.1."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def make_smtp_sink():
    """A factory of SMTP sinks (tls=..., auth=...), all stopped after the test."""
    sinks: list[SmtpSink] = []

    def make(**options) -> SmtpSink:
        sink = SmtpSink(**options).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


__all__ = ["SmtpSink", "Received", "make_smtp_sink", "smtp_sink", "free_port"]
