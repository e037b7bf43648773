"""Non-standard bounces: the plain-text shapes of major mail servers, as far as reasonable.

Each parser reads the human-readable notice (the first text part outside any attached message)
and returns per-recipient results; the status comes from an enhanced code in the diagnostic, an
SMTP reply code, or the notice's own words ("permanent error", "THIS IS A WARNING ONLY").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message

from .dsn import (
    DeliveryReport,
    RecipientResult,
    _outside_attached_messages,
    original_message_id,
    squash,
    status_from_text,
)

ADDRESS = r"[^\s<>()\"',;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
ANGLE_PARAGRAPH = re.compile(rf"^<({ADDRESS})>:[ \t]*\n?(.*?)(?=\n[ \t]*\n|\Z)", re.M | re.S)


def notice_text(message: Message) -> str:
    """The bounce's human-readable text: first text/plain (else text/html made text)."""
    html = None
    for part in _outside_attached_messages(message):
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html") or part.is_multipart():
            continue
        data = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            text = data.decode(charset, errors="replace")
        except LookupError:
            text = data.decode("utf-8", errors="replace")
        if kind == "text/plain":
            return text.replace("\r\n", "\n")
        html = html or text
    if html is None:
        return ""
    from .html_text import html_to_text

    return html_to_text(html).replace("\r\n", "\n")


def _between(text: str, start: str, ends: tuple[str, ...]) -> str:
    index = text.find(start)
    body = text[index + len(start) :] if index >= 0 else text
    cut = min((i for end in ends if (i := body.find(end)) >= 0), default=len(body))
    return body[:cut]


def _result(address: str, diagnostic: str | None, permanent: bool) -> RecipientResult:
    default = "5.0.0" if permanent else "4.0.0"
    diagnostic = squash(diagnostic)
    status = status_from_text(diagnostic, default) or default
    if status[0] not in "45":
        status = default
    return RecipientResult(
        recipient=address.strip("<>").strip(),
        action="failed" if status.startswith("5") else "delayed",
        status=status,
        diagnostic=diagnostic,
    )


def _angle_paragraphs(text: str, permanent: bool) -> list[RecipientResult]:
    return [_result(m.group(1), m.group(2), permanent) for m in ANGLE_PARAGRAPH.finditer(text)]


def parse_qmail(text: str) -> list[RecipientResult]:
    """qmail-send: "<addr>:" paragraphs before "--- Below this line is a copy of the message."."""
    permanent = "temporary" not in text.split("\n\n", 1)[0].lower()
    body = _between(text, "\n\n", ("--- Below this line", "--- Enclosed are"))
    return _angle_paragraphs(body, permanent)


def parse_exim(text: str) -> list[RecipientResult]:
    """Exim: two-space indented addresses, four-space indented details, before the copy."""
    permanent = "has not yet been delivered" not in text
    marker = "address(es) failed:" if permanent else "not yet been delivered"
    body = _between(text, marker, ("------ This is a copy", "------ The body of the message"))
    results: list[RecipientResult] = []
    current: str | None = None
    details: list[str] = []
    for line in body.split("\n") + ["  "]:
        address = re.fullmatch(rf"  ({ADDRESS})(?:\s.*)?", line.rstrip())
        if (address or not line.startswith("    ")) and current:
            results.append(_result(current, " ".join(details), permanent))
            current, details = None, []
        if address:
            current = address.group(1)
        elif current and line.startswith("    "):
            details.append(line.strip())
    return results


def parse_postfix(text: str) -> list[RecipientResult]:
    """Postfix without report headers: "<addr>: host ... said: 550 ..." paragraphs."""
    permanent = "THIS IS A WARNING ONLY" not in text
    return _angle_paragraphs(_between(text, "The mail system", ()), permanent)


def parse_exchange(text: str) -> list[RecipientResult]:
    """Exchange / Office 365 NDR: the diagnostic section's "addr" + "#550 5.1.1 ... ##" lines."""
    permanent = "Delivery is delayed" not in text
    results: dict[str, RecipientResult] = {}
    diagnostics = _between(text, "Diagnostic information for administrators", ("Original message",))
    lines = [line.strip() for line in diagnostics.split("\n") if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if re.fullmatch(ADDRESS, line) and "#" in lines[i + 1]:
            code = lines[i + 1].split("#", 1)[1].rstrip("#").strip()
            results.setdefault(line.lower(), _result(line, code, permanent))
    for found in re.finditer(rf"({ADDRESS})[\s\S]{{0,400}}?Remote Server returned '([^']*)'", text):
        results.setdefault(found.group(1).lower(), _result(*found.groups(), permanent))
    if not results:
        listed = _between(text, "recipients or groups:", ("Diagnostic information",))
        for address in dict.fromkeys(re.findall(ADDRESS, listed)):
            results[address.lower()] = _result(address, None, permanent)
    return list(results.values())


def parse_gmail(text: str) -> list[RecipientResult]:
    """Gmail: "Your message wasn't delivered to X" + "The response from the remote server was:"."""
    permanent = "temporary problem" not in text and "Delivery incomplete" not in text
    response = re.search(
        r"The response (?:from the remote server )?was:\s*\n(.+?)(?:\n\s*\n|\Z)", text, re.S
    )
    diagnostic = response.group(1) if response else None
    addresses = re.findall(
        rf"(?:wasn['’]t delivered to|delivering your message to|couldn['’]t be delivered to)"
        rf"\s+({ADDRESS})",
        text,
    )
    return [_result(a.rstrip("."), diagnostic, permanent) for a in dict.fromkeys(addresses)]


# (shape, phrases of which one must appear, parser), tried in order
SHAPES: list[tuple[str, tuple[str, ...], Callable[[str], list[RecipientResult]]]] = [
    ("qmail", ("This is the qmail-send program",), parse_qmail),
    ("exim", ("This message was created automatically by mail delivery software",), parse_exim),
    ("postfix", ("This is the mail system at host", "This is the Postfix program"), parse_postfix),
    (
        "exchange",
        (
            "Delivery has failed to these recipients or groups",
            "Delivery is delayed to these recipients or groups",
            "Remote Server returned '",
        ),
        parse_exchange,
    ),
    (
        "gmail",
        (
            "Address not found",
            "Your message wasn't delivered",
            "Your message wasn’t delivered",
            "Message not delivered",
            "Delivery incomplete",
        ),
        parse_gmail,
    ),
]


def parse_text_bounce(message: Message) -> DeliveryReport | None:
    """Recognize a non-standard bounce by its wording and parse it; None when none matches."""
    text = notice_text(message)
    if not text:
        return None
    for shape, phrases, parser in SHAPES:
        if any(phrase in text for phrase in phrases):
            results = parser(text)
            if results:
                return DeliveryReport(
                    shape=shape,
                    results=results,
                    original_message_id=original_message_id(message, text),
                )
    return None
