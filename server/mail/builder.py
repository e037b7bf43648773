"""Build RFC 5322 / MIME messages as bytes, fast enough for bulk sends.

`MessageTemplate` encodes once what every recipient of a send shares (From, Reply-To, static
headers, attachments, inline images, MIME boundaries); `render()` then encodes only the
per-recipient parts (To/Cc, Subject, bodies, Message-ID, Date, per-recipient headers such as
List-Unsubscribe) and joins bytes. `build_message()` is the one-off form of the same thing.

Structure: text only → text/plain; with HTML → multipart/alternative (text, html), the text part
derived from the HTML when none is given; inline images (attachments with a content_id, referenced
as `cid:` from the HTML) → the HTML becomes multipart/related (html, images); attachments →
multipart/mixed around all of it. Lines end in CRLF and never exceed 998 octets (bodies: 76-78).
A `Bcc` header is written only when `bcc` is given: Graph and Gmail read recipients from it and
strip it; for SMTP pass Bcc recipients in the envelope only.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr

from ..clock import utcnow
from .encoding import (
    HeaderError,
    address_list,
    base64_lines,
    check_header_name,
    content_header,
    encode_body,
    idna_domain,
    mime_type,
    msg_id,
    param,
    structured,
    unstructured,
)
from .html_text import html_to_text

__all__ = ["Address", "Attachment", "BuiltMessage", "HeaderError", "MessageTemplate"]

_RESERVED = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    ]
)
_CONTENT_ID = re.compile(r"^[\x21-\x3b\x3d\x3f-\x7e]+$")


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: address and optional display name."""

    email: str
    name: str = ""


AddressLike = Address | str | tuple[str, str]


def to_address(value: AddressLike) -> Address:
    """An Address from an Address, a (name, email) tuple or a "Name <email>" string."""
    if isinstance(value, Address):
        return value
    if isinstance(value, tuple):
        name, email = value
        return Address(email, name or "")
    value = value.strip()
    name, email = parseaddr(value)
    lossy = "<" not in value and email != value  # parseaddr drops what it cannot read
    if not email or "@" not in email or lossy or "\n" in value or "\r" in value:
        raise HeaderError(f"invalid email address {value!r}")
    return Address(email, name)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach; with a content_id it is an inline image referenced as cid:<content_id>."""

    filename: str
    content: bytes
    content_type: str = ""
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    """The message bytes, its Message-ID (with angle brackets) and envelope recipients."""

    data: bytes
    message_id: str
    recipients: list[str]
    smtputf8: bool


def _mailboxes(values) -> list[tuple[str, str]]:
    """(email, name) pairs from one AddressLike or a list of them (a tuple of two strings is one
    (name, email) pair; use a list for several addresses)."""
    single = isinstance(values, Address | str) or (
        isinstance(values, tuple) and len(values) == 2 and all(isinstance(v, str) for v in values)
    )
    if single:
        values = [values]
    result = []
    for value in values:
        address = to_address(value)
        result.append((address.email, address.name))
    return result


def _extra_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """Extra header lines keyed by lower-cased name; reserved names are refused."""
    lines: dict[str, str] = {}
    for name, value in (headers or {}).items():
        check_header_name(name)
        if name.lower() in _RESERVED:
            raise HeaderError(f"{name} is set by the builder, not as an extra header")
        lines[name.lower()] = structured(name, str(value))
    return lines


def _leaf(headers: list[str], body: bytes) -> bytes:
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + body


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> tuple[str, bytes]:
    delimiter = b"--" + boundary.encode("ascii")
    chunks = []
    for part in parts:
        chunks += (delimiter, b"\r\n", part, b"\r\n")
    chunks += (delimiter, b"--\r\n")
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"', b"".join(chunks)


def _text(text: str, subtype: str) -> tuple[str, bytes]:
    encoding, body = encode_body(text)
    head = f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}"
    return head, body


class MessageTemplate:
    """The shared, pre-encoded part of the messages of one send; `render()` makes each message."""

    def __init__(
        self,
        *,
        sender: AddressLike,
        domain: str,
        reply_to=(),
        attachments: list[Attachment] | tuple = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.domain = idna_domain(domain)
        self._from, _, self._from_utf8 = address_list("From", _mailboxes(sender))
        self._reply_to = ""
        if reply_to:
            self._reply_to, _, utf8 = address_list("Reply-To", _mailboxes(reply_to))
            self._from_utf8 = self._from_utf8 or utf8
        self._headers = _extra_headers(headers)
        self._inline = [self._file(a, inline=True) for a in attachments if a.content_id]
        self._files = [self._file(a, inline=False) for a in attachments if not a.content_id]
        token = secrets.token_urlsafe(18)
        while any(token.encode("ascii") in part for part in self._inline + self._files):
            token = secrets.token_urlsafe(18)  # only 7bit message/rfc822 parts could hold it
        self._boundaries = {kind: f"=_{kind[0]}{token}" for kind in ("mixed", "alt", "related")}
        self._text_cache: tuple[str, str] = ("", "")

    @staticmethod
    def _file(attachment: Attachment, *, inline: bool) -> bytes:
        """One attachment or inline image as an encoded MIME part."""
        guessed = mimetypes.guess_type(attachment.filename or "")[0]
        ctype = mime_type(attachment.content_type or guessed or "application/octet-stream")
        content, encoding = attachment.content, "base64"
        if ctype.startswith("message/"):
            normalized = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if normalized.isascii() and max(map(len, normalized.split(b"\n"))) <= 998:
                content, encoding = normalized.replace(b"\n", b"\r\n"), "7bit"
            else:  # message/* may not be base64 (RFC 2046): send the octets as a file
                ctype = "application/octet-stream"
        filename = attachment.filename
        disposition = "inline" if inline else "attachment"
        lines = [
            content_header("Content-Type", ctype, param("name", filename) if filename else []),
            content_header(
                "Content-Disposition", disposition, param("filename", filename) if filename else []
            ),
            f"Content-Transfer-Encoding: {encoding}",
        ]
        if attachment.content_id:
            cid = attachment.content_id.strip().removeprefix("<").removesuffix(">")
            if not _CONTENT_ID.match(cid):
                raise HeaderError(f"invalid content id {attachment.content_id!r}")
            lines.append(f"Content-ID: <{cid}>")
        body = content if encoding == "7bit" else base64_lines(content)
        return _leaf(lines, body)

    def new_message_id(self) -> str:
        """A fresh, unique Message-ID on our domain."""
        return f"<{uuid.uuid4().hex}@{self.domain}>"

    def _derived_text(self, html: str) -> str:
        cached_html, cached_text = self._text_cache
        if cached_html is not html and cached_html != html:
            cached_text = html_to_text(html)
            self._text_cache = (html, cached_text)
        return cached_text

    def render(
        self,
        *,
        to,
        subject: str,
        html: str | None = None,
        text: str | None = None,
        cc=(),
        bcc=(),
        headers: dict[str, str] | None = None,
        in_reply_to: str | None = None,
        references: list[str] | tuple = (),
        message_id: str | None = None,
        date: datetime | None = None,
    ) -> BuiltMessage:
        """One message for one recipient (or one group of To/Cc/Bcc recipients)."""
        message_id = msg_id(message_id) if message_id else self.new_message_id()
        to_list = _mailboxes(to)
        if not to_list:
            raise HeaderError("a message needs at least one To address")
        to_line, recipients, utf8 = address_list("To", to_list)
        lines = [f"Date: {format_datetime(date or utcnow())}", self._from]
        if self._reply_to:
            lines.append(self._reply_to)
        lines.append(to_line)
        for name, group in (("Cc", cc), ("Bcc", bcc)):
            if group:
                line, specs, needs = address_list(name, _mailboxes(group))
                lines.append(line)
                recipients += specs
                utf8 = utf8 or needs
        lines += (unstructured("Subject", subject), f"Message-ID: {message_id}")
        if in_reply_to:
            lines.append(f"In-Reply-To: {msg_id(in_reply_to)}")
        if references:
            lines.append(structured("References", " ".join(msg_id(r) for r in references)))
        extra = self._headers | _extra_headers(headers) if headers else self._headers
        lines += extra.values()
        lines.append("MIME-Version: 1.0")
        content, body = self._body(html, text)
        lines.append(content)
        data = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + body
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        return BuiltMessage(data, message_id, recipients, utf8 or self._from_utf8)

    def _body(self, html: str | None, text: str | None) -> tuple[str, bytes]:
        """(root Content-Type lines, body bytes) for the MIME tree of one message."""
        files = self._files
        if html is None:
            root = _text(text or "", "plain")
            files = self._inline + files
        else:
            plain = _text(self._derived_text(html) if text is None else text, "plain")
            root = _text(html, "html")
            if self._inline:
                html_part = _leaf([root[0]], root[1])
                root = _multipart(
                    "related", self._boundaries["related"], [html_part, *self._inline]
                )
            parts = [_leaf([plain[0]], plain[1]), _leaf([root[0]], root[1])]
            root = _multipart("alternative", self._boundaries["alt"], parts)
        if files:
            root = _multipart(
                "mixed", self._boundaries["mixed"], [_leaf([root[0]], root[1]), *files]
            )
        return root


def build_message(
    *,
    sender: AddressLike,
    domain: str,
    reply_to=(),
    attachments: list[Attachment] | tuple = (),
    **message,
) -> BuiltMessage:
    """Build one message; `message` takes MessageTemplate.render's arguments (to, subject, html,
    text, cc, bcc, headers, in_reply_to, references, message_id, date)."""
    template = MessageTemplate(
        sender=sender, domain=domain, reply_to=reply_to, attachments=attachments
    )
    return template.render(**message)
