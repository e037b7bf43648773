"""The inbound SMTP listener (aiosmtpd): takes mail for our inbound domain and routes it (LOG-2).

RCPT is refused (550) for other domains and for forged VERP addresses; a message over the size
limit is refused (552) whether announced with MAIL FROM SIZE= or found while reading DATA. The
routing (database work) runs on a thread pool, each call in its own Flask app context, so the
event loop keeps serving other connections; a failure there answers 451 so the sender retries.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask

from .inbound import route_inbound
from .inbound_addresses import classify

log = logging.getLogger(__name__)


def _size_text(limit: int) -> str:
    return f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"


class InboundHandler:
    """aiosmtpd handler: checks recipients at RCPT, routes the message after DATA."""

    def __init__(self, app: Flask, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        """Accept only our domain's addresses (and only genuine VERP return paths)."""
        with self.app.app_context():
            target = classify(address)
        if target.kind == "foreign":
            return f"550 5.1.1 <{address}>: relay denied, not an address of this server"
        if target.problem:
            return f"550 5.1.1 <{address}>: {target.problem}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def _route(self, raw: bytes, recipients: list[str]) -> str:
        with self.app.app_context():
            result = route_inbound(raw, recipients, "smtp")
        if result.dead_letter_id is not None:
            return f"250 2.0.0 Accepted; held for review as dead letter {result.dead_letter_id}"
        return "250 2.0.0 Accepted"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Route the message on the thread pool; 451 (try again later) if that fails."""
        raw = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.executor, self._route, raw, list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("inbound message could not be stored or routed")
            return "451 4.3.0 Temporary failure storing the message, try again later"


class InboundSMTP(SMTP):
    """aiosmtpd's SMTP with a size refusal that says what the limit is."""

    async def push(self, status: str | bytes) -> None:
        """Send a reply; aiosmtpd's terse 552 replies get the limit spelled out."""
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("552 Error"):
            limit = _size_text(self.data_size_limit or 0)
            text = f"552 5.3.4 Message too big: this server accepts messages up to {limit}"
        await super().push(text)


class InboundController(Controller):
    """A Controller serving InboundSMTP on its own thread, with the routing thread pool."""

    def __init__(self, app: Flask, workers: int = 4, **kwargs) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound")
        super().__init__(InboundHandler(app, self.executor), **kwargs)

    def factory(self) -> SMTP:
        """The protocol instance for one connection."""
        return InboundSMTP(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        """Stop listening, then let messages being routed finish."""
        super().stop(no_assert)
        self.executor.shutdown(wait=True)


def start_listener(
    app: Flask,
    host: str = "127.0.0.1",
    port: int = 2525,
    max_bytes: int | None = None,
    workers: int = 4,
) -> InboundController:
    """Start the listener on a background thread; call .stop() on the result to end it."""
    controller = InboundController(
        app,
        workers,
        hostname=host,
        port=port,
        data_size_limit=int(max_bytes or app.config["INBOUND_MAX_BYTES"]),
        enable_SMTPUTF8=True,
        ident="Liaison inbound",
    )
    controller.start()
    return controller
