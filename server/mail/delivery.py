"""Turns outbox rows into sent mail: builds each row's message and picks its transport.

A row's `content` is what to render, as JSON::

    {"from": {"email", "name"}, "reply_to": [{"email", "name"}], "to": [{"email", "name"}],
     "cc": [...], "subject": str, "html": str | None, "text": str | None,
     "headers": {name: value}, "in_reply_to": str | None, "references": [str]}

SMTP sends are DKIM-signed when a key exists for the sender's domain and the configured selector
(`liaison dkim generate`). One `Delivery` keeps its transports (and so their pooled connections)
for a whole run of batches.
"""

from __future__ import annotations

from flask import current_app

from .builder import Address, build_message
from .dkim import DkimSigner, load_signer
from .models import OutboxMessage
from .smtp import SmtpTransport
from .transport import PermanentFailure, SendResult


def _addresses(values: list[dict] | None) -> list[Address]:
    return [Address(v["email"], v.get("name") or "") for v in values or []]


class _Unavailable:
    """Stands for a transport this deployment cannot use; every send fails permanently."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def send(self, *_args, **_kwargs) -> SendResult:
        return PermanentFailure(self.reason)

    def close(self) -> None:
        return None


class Delivery:
    """Compose and transport for outbox rows, with transports reused across messages."""

    def __init__(self) -> None:
        self.config = current_app.config
        self.instance_path = current_app.instance_path
        self._smtp: SmtpTransport | None = None
        self._signers: dict[str, DkimSigner | None] = {}

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *_exc) -> None:
        if self._smtp is not None:
            self._smtp.close()

    def _signer_for(self, domain: str) -> DkimSigner | None:
        if domain not in self._signers:
            try:
                self._signers[domain] = load_signer(
                    self.instance_path, domain, self.config["DKIM_SELECTOR"]
                )
            except ValueError:
                self._signers[domain] = None
        return self._signers[domain]

    def compose(self, row: OutboxMessage) -> bytes:
        """The message bytes for one row (DKIM-signed for SMTP when the domain has a key)."""
        content = row.content
        sender = content["from"]
        built = build_message(
            sender=Address(sender["email"], sender.get("name") or ""),
            to=_addresses(content.get("to")) or [Address(row.recipient)],
            cc=_addresses(content.get("cc")),
            reply_to=_addresses(content.get("reply_to")),
            subject=content.get("subject") or "",
            html=content.get("html"),
            text=content.get("text"),
            headers=content.get("headers") or None,
            in_reply_to=content.get("in_reply_to"),
            references=content.get("references") or (),
            message_id=row.message_id,
            domain=self.config["MAIL_DOMAIN"],
        )
        if row.transport == "smtp":
            signer = self._signer_for(sender["email"].rpartition("@")[2])
            if signer is not None:
                return signer.sign(built.data)
        return built.data

    def transport_for(self, row: OutboxMessage):
        """The transport that sends this row."""
        if row.transport == "smtp":
            if not self.config.get("SMTP_HOST"):
                return _Unavailable("no SMTP relay configured (LIAISON_SMTP_HOST)")
            if self._smtp is None:
                self._smtp = SmtpTransport(
                    self.config["SMTP_HOST"],
                    int(self.config["SMTP_PORT"]),
                    security=self.config["SMTP_SECURITY"],
                    username=self.config.get("SMTP_USERNAME"),
                    password=self.config.get("SMTP_PASSWORD"),
                )
            return self._smtp
        return _Unavailable(f"transport {row.transport!r} is not available for this row")
