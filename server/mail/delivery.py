"""Turns outbox rows into sent mail: builds each row's message and picks its transport.

A row's `content` is what to render, as JSON::

    {"from": {"email", "name"}, "reply_to": [{"email", "name"}], "to": [{"email", "name"}],
     "cc": [...], "subject": str, "html": str | None, "text": str | None,
     "headers": {name: value}, "in_reply_to": str | None, "references": [str],
     "attachments": [{"blob_key", "filename", "content_type", "content_id"}]}

Attachments are read from the blob store (server/emails/blobs.py) when the message is built; one
that is no longer stored fails the row with that reason rather than sending without it.

With "merge" ({field: value}) and an optional "template_key", subject / html / text are merge
templates rendered per recipient in a sandbox (server/mail/merge.py), each compiled once per
Delivery, with one shared MessageTemplate per (template_key, sender).

SMTP sends use the row's VERP return path (bounce+<id>-<hmac>@<inbound domain>) so that
delivery status notifications are matched to the row, and are DKIM-signed when a key exists for
the sender's domain and the configured selector (`liaison dkim generate`). One `Delivery`
keeps its transports (and so their pooled connections) for a whole run of batches.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from ..extensions import db
from .bounces import verp_address
from .builder import Address, Attachment, BuiltMessage, build_message
from .dkim import DkimSigner, load_signer
from .gmail import GmailTransport
from .graph import GRAPH_BASE, GraphTransport
from .mailbox_models import ConnectedMailbox
from .mailbox_tokens import google_credentials_for, graph_token_for
from .merge import MergeComposer
from .models import OutboxMessage
from .smtp import SmtpTransport
from .throttle import Throttle, throttle_for
from .transport import PermanentFailure, SendResult

# Functions that adjust a row's content just before it is built, at send time (not at queue
# time), e.g. List-Unsubscribe headers (consent) or the tracking pixel and links (tracking).
# Each takes the row and a copy of its content and returns the content to build.
CONTENT_PREPARERS: list[Callable[[OutboxMessage, dict], dict]] = []


def register_content_preparer(preparer: Callable[[OutboxMessage, dict], dict]) -> None:
    """Add `preparer` to the send-time content adjustments (once)."""
    if preparer not in CONTENT_PREPARERS:
        CONTENT_PREPARERS.append(preparer)


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


class _MailboxSender:
    """A connected mailbox's provider transport, sending as that mailbox within its throttle."""

    def __init__(self, transport, throttle: Throttle, mailbox: ConnectedMailbox) -> None:
        self.transport, self.throttle = transport, throttle
        self.mailbox_id, self.address = mailbox.id, mailbox.address

    def reserve(self, row: OutboxMessage) -> float:
        """Seconds to wait before this mailbox may send again (0: go, and it is counted)."""
        return self.throttle.reserve(str(self.mailbox_id), 1)

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        return self.transport.send(envelope_from, recipients, message, mailbox=self.address)

    def close(self) -> None:
        return None


class Delivery:
    """Compose and transport for outbox rows, with transports reused across messages."""

    def __init__(self) -> None:
        self.config = current_app.config
        self.instance_path = current_app.instance_path
        self._smtp: SmtpTransport | None = None
        self._signers: dict[str, DkimSigner | None] = {}
        self._mailboxes: dict[str, ConnectedMailbox] = {}  # by address, for the token providers
        self._providers: dict[str, tuple[object, Throttle]] = {}
        self._merge: MergeComposer | None = None

    def __enter__(self) -> Delivery:
        return self

    def __exit__(self, *_exc) -> None:
        if self._smtp is not None:
            self._smtp.close()
        for transport, _throttle in self._providers.values():
            transport.close()

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
        for preparer in CONTENT_PREPARERS:
            content = preparer(row, dict(content))
        sender = content["from"]
        if "merge" in content:
            if self._merge is None:
                self._merge = MergeComposer(self.config["MAIL_DOMAIN"])
            built = self._merge.build(content, row.recipient, row.message_id)
        else:
            built = self._build(row, content)
        if row.transport == "smtp":
            signer = self._signer_for(sender["email"].rpartition("@")[2])
            if signer is not None:
                return signer.sign(built.data)
        return built.data

    def _attachments(self, content: dict) -> list[Attachment]:
        """The files `content["attachments"]` names in the blob store (a forward's originals)."""
        from ..emails.blobs import blob_store

        files = []
        for item in content.get("attachments") or []:
            try:
                with blob_store().open(item["blob_key"]) as handle:
                    data = handle.read()
            except (FileNotFoundError, ValueError) as exc:
                name = item.get("filename") or item.get("blob_key")
                raise ValueError(f"attachment {name!r} is no longer stored") from exc
            name = item.get("filename") or "attachment"
            files.append(
                Attachment(name, data, item.get("content_type") or "", item.get("content_id"))
            )
        return files

    def _build(self, row: OutboxMessage, content: dict) -> BuiltMessage:
        """A message without merge fields, built on its own."""
        sender = content["from"]
        return build_message(
            attachments=self._attachments(content),
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

    def envelope_for(self, row: OutboxMessage) -> str:
        """The SMTP return path: the row's signed VERP address, so a bounce finds its row."""
        return verp_address(row.id) if row.transport == "smtp" else row.envelope_from

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
        if row.transport in ("graph", "gmail"):
            return self._mailbox_sender(row)
        return _Unavailable(f"unknown transport {row.transport!r}")

    def _provider(self, name: str) -> tuple[object, Throttle]:
        if name not in self._providers:
            if name == "graph":
                transport = GraphTransport(
                    lambda address: graph_token_for(self._mailboxes[address]),
                    base_url=self.config.get("GRAPH_BASE_URL") or GRAPH_BASE,
                )
            else:
                transport = GmailTransport(
                    lambda address: google_credentials_for(self._mailboxes[address]),
                    discovery_url=self.config.get("GMAIL_DISCOVERY_URL"),
                )
            self._providers[name] = (transport, throttle_for(name, self.config))
        return self._providers[name]

    def _mailbox_sender(self, row: OutboxMessage):
        mailbox = db.session.get(ConnectedMailbox, row.mailbox_id) if row.mailbox_id else None
        expected = "microsoft" if row.transport == "graph" else "google"
        if mailbox is None or mailbox.org_id != row.org_id or mailbox.provider != expected:
            return _Unavailable(f"no {expected} mailbox {row.mailbox_id} for this message")
        if mailbox.status != "connected":
            return _Unavailable(f"mailbox {mailbox.address} is {mailbox.status}; reconnect it")
        self._mailboxes[mailbox.address] = mailbox
        transport, throttle = self._provider(row.transport)
        return _MailboxSender(transport, throttle, mailbox)
