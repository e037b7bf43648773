"""A counting SMTP sink for benchmarks: aiosmtpd on 127.0.0.1 in a child process of its own.

It advertises PIPELINING (RFC 2920) at EHLO, as the relays mail goes through do (Postfix,
Exchange Online, Gmail's smtp-relay); aiosmtpd reads commands line by line, so it answers
pipelined commands in order. It accepts every message ("250 2.0.0 Ok: queued as Q…"), keeps
nothing but counts (messages, distinct recipients, bytes), and answers its parent over a pipe:
"count" → the counts since the last "reset", "stop" → it stops and exits. The parent kills it
if it does not.

    with Sink() as sink:      # started (Sink(pipelining=False): no PIPELINING); always ended
        ... smtplib.SMTP("127.0.0.1", sink.port) ...
        messages, recipients, size = sink.counts()
        sink.reset()
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Counter:
    """The aiosmtpd handler: counts what it accepts."""

    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.lock = threading.Lock()
        self.messages = 0
        self.size = 0
        self.recipients: set[str] = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            self.size += len(envelope.original_content or b"")
            self.recipients.update(envelope.rcpt_tos)
            number = self.messages
        return f"250 2.0.0 Ok: queued as Q{number:07d}"


def _serve(port: int, conn, pipelining: bool) -> None:
    """The child process: run the sink until told to stop (or the parent goes away)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class BufferingSMTP(SMTP):
        """Replies to pipelined commands leave together, once no further command line waits,
        as Postfix's smtpd flushes its replies only before it would wait for input."""

        held: list[bytes] = []

        async def push(self, status) -> None:
            held = self.held = [*self.held, status.encode() if isinstance(status, str) else status]
            if b"\n" in self._reader._buffer:  # the next pipelined command is already here
                return
            self.held = []
            self._writer.write(b"\r\n".join(held) + b"\r\n")
            await self._writer.drain()

    class SinkController(Controller):
        def factory(self):
            return (BufferingSMTP if pipelining else SMTP)(self.handler, **self.SMTP_kwargs)

    counter = _Counter(pipelining)
    controller = SinkController(
        counter, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True, server_hostname="sink"
    )
    controller.start()
    conn.send("ready")
    try:
        while True:
            try:
                command = conn.recv()
            except EOFError:
                break
            if command == "count":
                with counter.lock:
                    conn.send((counter.messages, len(counter.recipients), counter.size))
            elif command == "reset":
                with counter.lock:
                    counter.messages, counter.size = 0, 0
                    counter.recipients.clear()
                conn.send("ok")
            elif command == "stop":
                break
    finally:
        controller.stop()
        conn.close()


class Sink:
    """Starts the sink process on a free loopback port; a context manager that always ends it."""

    def __init__(self, *, pipelining: bool = True) -> None:
        self.host, self.port = "127.0.0.1", _free_port()
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(self.port, child, pipelining), daemon=True
        )

    def __enter__(self) -> Sink:
        self._process.start()
        if not self._conn.poll(30) or self._conn.recv() != "ready":
            self.stop()
            raise RuntimeError("the SMTP sink did not start")
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def counts(self) -> tuple[int, int, int]:
        """(messages, distinct recipients, bytes) since the last reset."""
        self._conn.send("count")
        return self._conn.recv()

    def reset(self) -> None:
        """Start counting from zero."""
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        """Ask the sink to stop; terminate, then kill it, if it does not."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()
