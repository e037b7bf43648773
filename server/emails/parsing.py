"""Raw MIME or structured JSON → one `ParsedEmail` (LOG-1), robust to real-world shapes.

Uses the stdlib `email` package (policy `default`). Unknown or wrong charsets fall back to a
lossless-enough decode (`errors="replace"`) instead of failing; a header that cannot be parsed is
read as its raw text. Bodies: the first text/html and the first text/plain that are not
attachments, searching nested alternatives; everything else (files, winmail.dat, calendar invites,
forwarded message/rfc822 parts) is listed in `attachments` with its name, type, size and SHA-256,
and kept in `parts` (the MIME part, or the bytes of a structured attachment) for storage (LOG-7).
The X-Liaison-Intent header (a send intent's signed token) is read into `intent`.
"""

from __future__ import annotations

import email
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, BinaryIO

MAX_KEY = 255
BODY_KEY_BYTES = 1024


@dataclass
class ParsedEmail:
    """What logging needs from one message."""

    message_id: str | None
    subject: str
    from_address: dict  # {"name", "email"}
    to: list[dict]
    cc: list[dict]
    bcc: list[dict]
    sent_at: datetime | None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    html: str | None = None
    text: str | None = None
    attachments: list[dict] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list, repr=False)  # one per attachment
    intent: str | None = None

    @property
    def key(self) -> str:
        """The per-org dedupe key (LOG-3): see `message_key`."""
        return message_key(self)

    @property
    def thread_key(self) -> str:
        """The conversation root: the first Reference, else In-Reply-To, else the message itself."""
        root = self.references[0] if self.references else self.in_reply_to
        return fit_key("mid:" + root) if root else self.key


def normalize_message_id(value: str | None) -> str | None:
    """A Message-ID without angle brackets and whitespace, its domain part lower-cased."""
    if not value:
        return None
    text = "".join(str(value).split()).strip("<>")
    if "<" in text:  # several ids or junk around one: take the first bracketed one
        text = text.split("<", 1)[1].split(">", 1)[0]
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if at else text


def fit_key(key: str) -> str:
    """`key` itself when it fits the key column, else a digest of it."""
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def message_key(parsed: ParsedEmail) -> str:
    """`mid:<normalized Message-ID>`; without one, `sha256:` of From, Date, Subject and the first
    1 KiB of the body, so each delivery of the same message derives the same key."""
    if parsed.message_id:
        return fit_key("mid:" + parsed.message_id)
    date = parsed.sent_at.isoformat() if parsed.sent_at else ""
    body = (parsed.text or parsed.html or "").strip().encode("utf-8", "replace")[:BODY_KEY_BYTES]
    digest = hashlib.sha256()
    for part in (parsed.from_address.get("email", "").lower(), date, parsed.subject.strip()):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    digest.update(body)
    return "sha256:" + digest.hexdigest()


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # a header the policy cannot parse: its raw text
        raw = message.get_all(name, failobj=[None])[0] if hasattr(message, "get_all") else None
        return str(raw or "")


def _addresses(message: Message, name: str) -> list[dict]:
    values = []
    try:
        values = [str(v) for v in message.get_all(name, [])]
    except Exception:
        values = [_header(message, name)]
    found: list[dict] = []
    seen: set[str] = set()
    for display, address in getaddresses(values):
        address = address.strip()
        if "@" not in address or address.lower() in seen:
            continue
        seen.add(address.lower())
        found.append({"name": display.strip(), "email": address})
    return found


def _date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is not None and when.tzinfo is None:
        return None
    return when


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, KeyError, AttributeError):
        pass
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1")


def part_bytes(part: Message | bytes) -> bytes:
    """The decoded content of an attachment part (a forwarded message: its RFC 5322 bytes)."""
    if isinstance(part, (bytes, bytearray)):
        return bytes(part)
    payload = part.get_payload(decode=True)
    if payload is None and part.get_content_type() == "message/rfc822":
        payload = b"".join(p.as_bytes() for p in part.get_payload() if hasattr(p, "as_bytes"))
    return payload or b""


def _filename(part: Message) -> str:
    try:
        return str(part.get_filename() or "")[:500]
    except Exception:  # an undecodable RFC 2231 name
        return ""


def _attachment(part: Message) -> dict:
    payload = part_bytes(part)
    return {
        "filename": _filename(part),
        "content_type": part.get_content_type()[:255],
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "inline": (part.get_content_disposition() == "inline"),
        "content_id": _header(part, "Content-ID").strip().strip("<>").strip()[:998] or None,
    }


def _walk(message: Message, parsed: ParsedEmail) -> None:
    stack = [message]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        if part.is_multipart() and ctype != "message/rfc822":
            stack[0:0] = list(part.get_payload())
            continue
        if disposition != "attachment" and ctype == "text/html" and parsed.html is None:
            parsed.html = _text_of(part)
        elif disposition != "attachment" and ctype == "text/plain" and parsed.text is None:
            parsed.text = _text_of(part)
        else:
            parsed.attachments.append(_attachment(part))
            parsed.parts.append(part)


def parse_mime(raw: bytes | BinaryIO) -> ParsedEmail:
    """Parse RFC 5322 bytes or a binary file (never raises for odd but readable messages)."""
    if isinstance(raw, (bytes, bytearray)):
        return parse_message(email.message_from_bytes(raw, policy=default_policy))
    return parse_message(email.message_from_binary_file(raw, policy=default_policy))


def parse_message(message: EmailMessage | Message) -> ParsedEmail:
    """A ParsedEmail from a parsed message."""
    senders = _addresses(message, "From")
    references = [normalize_message_id(r) for r in _header(message, "References").split()]
    parsed = ParsedEmail(
        message_id=normalize_message_id(_header(message, "Message-ID")),
        subject=" ".join(_header(message, "Subject").split()),
        from_address=senders[0] if senders else {"name": "", "email": ""},
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        bcc=_addresses(message, "Bcc"),
        sent_at=_date(_header(message, "Date")),
        in_reply_to=normalize_message_id(_header(message, "In-Reply-To")),
        references=[r for r in references if r],
        intent=_header(message, "X-Liaison-Intent").strip() or None,
    )
    _walk(message, parsed)
    return parsed


def _party(value: Any) -> dict:
    if isinstance(value, str):
        return {"name": "", "email": value.strip()}
    return {"name": str(value.get("name") or "").strip(), "email": str(value["email"]).strip()}


def _structured_attachment(item: dict) -> dict:
    content = item.get("content") or b""
    return {
        "filename": str(item.get("filename") or "")[:500],
        "content_type": str(item.get("content_type") or "application/octet-stream")[:255],
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "inline": bool(item.get("inline")),
        "content_id": (str(item.get("content_id") or "").strip().strip("<>") or None),
    }


def parse_structured(data: dict) -> ParsedEmail:
    """A ParsedEmail from the API's structured form (already validated by the route's schema;
    attachments' `content` already decoded to bytes)."""
    items = data.get("attachments") or []
    parsed = ParsedEmail(
        message_id=normalize_message_id(data.get("message_id")),
        subject=" ".join((data.get("subject") or "").split()),
        from_address=_party(data["from"]),
        to=[_party(v) for v in data.get("to") or []],
        cc=[_party(v) for v in data.get("cc") or []],
        bcc=[_party(v) for v in data.get("bcc") or []],
        sent_at=data.get("sent_at"),
        in_reply_to=normalize_message_id(data.get("in_reply_to")),
        references=[r for r in map(normalize_message_id, data.get("references") or []) if r],
        html=data.get("html"),
        text=data.get("text"),
        attachments=[_structured_attachment(item) for item in items],
        parts=[item.get("content") or b"" for item in items],
        intent=(data.get("intent") or "").strip() or None,
    )
    return parsed
