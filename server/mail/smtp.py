"""SMTP transport: smtplib to the org's relay, STARTTLS or implicit TLS, AUTH, and a small pool of
connections reused across messages.

Answers: 2xx accepted (queue id taken from the DATA reply when it has one), 4xx temporary, 5xx
permanent, connection trouble (refused, reset, timeout, TLS) temporary. A pooled connection that
the server closed while idle (a disconnect or a 421 at MAIL) is replaced once, transparently:
nothing of the message had been sent on it. Each recipient gets its own RCPT answer; when some are
refused and others accepted, the message is Accepted with the refusals in `rejected`.

When the server advertises PIPELINING (RFC 2920), MAIL FROM, every RCPT TO and DATA go in one
write and their replies are read in order, then the data and its reply: two round trips per
message instead of 3 + recipients. Every reply is checked and mapped as in lock-step: a refused
MAIL or every RCPT refused sends no data (RSET after a refused DATA; a single "." if DATA got 354
all the same, RFC 2920 section 3.1). Messages to more than `PIPELINE_RECIPIENTS` recipients, and
servers without PIPELINING, go in lock-step.

`start` leaves the reply to the data unread and returns what reads it (pipelined or not: nothing
else is sent on the connection before that reply is read): the outbox composes its next message
while the relay takes this one in, instead of waiting idle for the verdict. The message still
counts as sent only once that reply is read and is a 250.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
from collections.abc import Callable

from .transport import Accepted, PermanentFailure, SendResult, TemporaryFailure

_QUEUE_ID = re.compile(
    r"queued as ([A-Za-z0-9._-]+)|\bid=([A-Za-z0-9._-]+)|^(?:[245]\.\d+\.\d+ )?(<[^<>\s]+>)"
)


# what quote_address passes as is: one @, no spaces, brackets, quotes, comments or route syntax
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\\",;:@]+@[^\s<>()\[\]\\\",;:@]+")
PIPELINE_RECIPIENTS = 100  # a bigger group would go in lock-step (replies stay far below buffers)


class _Stale(Exception):
    """The server had closed a pooled connection before this message started."""


def _reason(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"[:500]


def _answer(code: int, reply: bytes | str) -> SendResult:
    """Temporary for 4xx (and -1: connection closed), permanent for 5xx."""
    if 500 <= code < 600:
        return PermanentFailure(_reason(code, reply), code)
    return TemporaryFailure(_reason(code, reply), None, code)


def queue_id(reply: bytes | str) -> str | None:
    """The queue id in a DATA reply (Postfix/aiosmtpd 'queued as X', Exim 'id=X', Exchange
    '<message-id>'), or None."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    match = _QUEUE_ID.search(text)
    return next((group for group in match.groups() if group), None) if match else None


class SmtpTransport:
    """Sends through one SMTP relay; thread-safe (each send checks a connection out of the pool)."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        pool_size: int = 4,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self._ssl_context = ssl_context  # the default one is made when TLS first needs it
        self.timeout, self.local_hostname, self.pool_size = timeout, local_hostname, pool_size
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config) -> SmtpTransport:
        """The org relay from SMTP_* settings."""
        return cls(
            config["SMTP_HOST"],
            int(config.get("SMTP_PORT") or 587),
            security=config.get("SMTP_SECURITY") or "starttls",
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
        )

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The context given, else the system's default (made once; loading CAs takes ms)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    # --- connections ---------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except BaseException:
            _discard(conn)
            raise
        return conn

    def _checkout(self) -> tuple[smtplib.SMTP, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), False
        return self._connect(), True

    def _checkin(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        _discard(conn)

    def close(self) -> None:
        """Say QUIT on every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                _discard(conn)

    # --- sending -------------------------------------------------------------------------------

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> SendResult:
        """Send one message over a pooled connection and map the server's replies."""
        return self.start(envelope_from, recipients, message)()

    def start(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> Callable[[], SendResult]:
        """Send one message up to its last reply and return what reads that reply and maps it.

        The data goes out (pipelined or in lock-step) and the server's verdict on it is read only
        when the result is called: the caller composes its next message meanwhile, while the
        server takes this one in. Until then the connection stays checked out; call the result
        before starting another message that should reuse it."""
        if not recipients:
            raise ValueError("no recipients")
        addresses = [envelope_from, *recipients]
        utf8 = not all(address.isascii() for address in addresses)
        for attempt in (1, 2):
            try:
                conn, fresh = self._checkout()
            except smtplib.SMTPAuthenticationError as exc:
                return _done(_answer(exc.smtp_code, exc.smtp_error))
            except smtplib.SMTPNotSupportedError as exc:
                return _done(PermanentFailure(f"SMTP server: {exc}"))
            except smtplib.SMTPResponseException as exc:
                return _done(_answer(exc.smtp_code, exc.smtp_error))
            except (smtplib.SMTPException, OSError) as exc:
                return _done(
                    TemporaryFailure(f"cannot connect to {self.host}:{self.port}: {exc!r}")
                )
            try:
                result = self._transaction(conn, envelope_from, recipients, message, utf8)
            except _Stale:
                _discard(conn)
                if fresh or attempt == 2:
                    return _done(TemporaryFailure("SMTP server closed the connection", None, 421))
                continue
            except (smtplib.SMTPException, OSError) as exc:
                _discard(conn)
                return _done(TemporaryFailure(f"SMTP connection lost: {exc!r}"))
            if isinstance(result, _LastReply):
                return lambda: self._finish(conn, result)
            self._release(conn)
            return _done(result)
        raise AssertionError("unreachable")

    def _finish(self, conn: smtplib.SMTP, last_reply: _LastReply) -> SendResult:
        try:
            result = last_reply.read()
        except (smtplib.SMTPException, OSError) as exc:
            _discard(conn)
            return TemporaryFailure(f"SMTP connection lost: {exc!r}")
        self._release(conn)
        return result

    def _release(self, conn: smtplib.SMTP) -> None:
        if getattr(conn, "sock", None) is None:
            _discard(conn)
        else:
            self._checkin(conn)

    def _transaction(
        self, conn: smtplib.SMTP, sender: str, recipients: list[str], message: bytes, utf8: bool
    ) -> SendResult | _LastReply:
        options: list[str] = []
        if utf8:
            if not conn.has_extn("smtputf8"):
                return PermanentFailure("an address needs SMTPUTF8, which the server lacks")
            options.append("SMTPUTF8")
        elif not message.isascii():
            if not conn.has_extn("8bitmime"):
                return PermanentFailure("8-bit message and the server lacks 8BITMIME")
            options.append("BODY=8BITMIME")
        if conn.has_extn("pipelining") and len(recipients) <= PIPELINE_RECIPIENTS:
            return _pipelined(conn, sender, recipients, message, options)
        try:
            code, reply = conn.mail(sender, options)
        except smtplib.SMTPServerDisconnected as exc:
            raise _Stale from exc
        if code == 421:
            raise _Stale
        if code != 250:
            _reset(conn)
            return _answer(code, reply)
        rejected: dict[str, tuple[int, bytes]] = {}
        for recipient in recipients:
            code, reply = conn.rcpt(recipient)
            if code == 421:
                _discard(conn)
                return _answer(code, reply)
            if code not in (250, 251):
                rejected[recipient] = (code, reply)
        if len(rejected) == len(recipients):
            _reset(conn)
            return _all_refused(recipients, rejected)
        code, reply = conn.docmd("DATA")
        if code == 421:
            _discard(conn)
            return _answer(code, reply)
        if code != 354:
            _reset(conn)
            return _answer(code, reply)
        return _send_data(conn, message, rejected)


def _done(result: SendResult) -> Callable[[], SendResult]:
    return lambda: result


class _LastReply:
    """The data went out; reading the server's reply to it is left for later."""

    def __init__(self, conn: smtplib.SMTP, rejected: dict[str, tuple[int, bytes]]) -> None:
        self.conn, self.rejected = conn, rejected

    def read(self) -> SendResult:
        """Read and map the reply to the data."""
        code, reply = self.conn.getreply()
        if code == 421:
            _discard(self.conn)
        if code != 250:
            return _answer(code, reply)
        return _accepted(reply, self.rejected)


def quote_address(address: str) -> str:
    """`<address>` for a plain address (what we send from and to); smtplib's parser otherwise."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _pipelined(
    conn: smtplib.SMTP, sender: str, recipients: list[str], message: bytes, options: list[str]
) -> SendResult | _LastReply:
    """One transaction with MAIL, the RCPTs and DATA in one write (RFC 2920), replies in order;
    the reply to the data is left to read (`_LastReply`)."""
    params = "".join(f" {option}" for option in options)
    commands = [
        f"MAIL FROM:{quote_address(sender)}{params}",
        *(f"RCPT TO:{quote_address(recipient)}" for recipient in recipients),
        "DATA",
    ]
    if any("\r" in command or "\n" in command for command in commands):
        raise ValueError("command and arguments contain prohibited newline characters")
    try:  # nothing read yet: a closed connection had been closed while idle
        conn.send("".join(f"{command}\r\n" for command in commands).encode())
        mail = conn.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        raise _Stale from exc
    if mail[0] == 421:  # the server closes the channel; the group's other replies never come
        raise _Stale
    rejected: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = conn.getreply()
        if code == 421:
            _discard(conn)
            return _answer(code, reply)
        if code not in (250, 251):
            rejected[recipient] = (code, reply)
    code, reply = conn.getreply()  # DATA
    if code == 421:
        _discard(conn)
        return _answer(code, reply)
    if mail[0] != 250 or len(rejected) == len(recipients):
        if code == 354:  # accepted all the same: end with an empty message (RFC 2920 3.1)
            try:
                conn.send(b".\r\n")
                if conn.getreply()[0] == 421:
                    _discard(conn)
            except smtplib.SMTPException:  # the refusal above is the answer all the same
                _discard(conn)
        else:
            _reset(conn)
        return _answer(*mail) if mail[0] != 250 else _all_refused(recipients, rejected)
    if code != 354:
        _reset(conn)
        return _answer(code, reply)
    return _send_data(conn, message, rejected)


def _send_data(
    conn: smtplib.SMTP, message: bytes, rejected: dict[str, tuple[int, bytes]]
) -> _LastReply:
    """The message after a 354, dot-stuffed and ended as smtplib's `data` does; its reply is
    left to read."""
    data = message.replace(b"\n.", b"\n..")  # dot-stuffing, as smtplib's (?m)^\. at 1/4 the cost
    if data.startswith(b"."):
        data = b"." + data
    conn.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
    return _LastReply(conn, rejected)


def _all_refused(recipients: list[str], rejected: dict[str, tuple[int, bytes]]) -> SendResult:
    """Every RCPT refused: the first temporary refusal if any (worth a retry), else the first."""
    temporary = [item for item in rejected.values() if item[0] < 500]
    return _answer(*(temporary[0] if temporary else rejected[recipients[0]]))


def _accepted(reply: bytes, rejected: dict[str, tuple[int, bytes]]) -> Accepted:
    return Accepted(queue_id(reply), rejected={r: _reason(c, t) for r, (c, t) in rejected.items()})


def _discard(conn: smtplib.SMTP) -> None:
    """Drop a connection without waiting for the server."""
    with contextlib.suppress(OSError):
        conn.close()


def _reset(conn: smtplib.SMTP) -> None:
    """RSET after a refused transaction; a connection that fails it is closed."""
    try:
        conn.rset()
    except (smtplib.SMTPException, OSError):
        _discard(conn)
