"""Checks shared by the builder tests: wire rules and a parse-back comparison with the inputs."""

from __future__ import annotations

import email
import email.policy
import re
from email.header import decode_header, make_header
from email.utils import getaddresses

from server.mail.builder import BuiltMessage
from server.mail.encoding import idna_domain


def wire_lines(data: bytes) -> list[bytes]:
    """The lines of a message, asserting CRLF endings and the 998-octet limit."""
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"bare line break in {line[:80]!r}"
        assert len(line) <= 998, f"line of {len(line)} octets"
    return lines


def utf8_header(value: str) -> str:
    """A header value parsed from raw UTF-8 bytes (RFC 6532), as text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # the parser keeps raw 8-bit header bytes as surrogate escapes
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    return value


def text_of(value: str) -> str:
    """Text as it reads after the wire: LF line ends, a final newline when not empty."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value + "\n" if value and not value.endswith("\n") else value


def lines_of(content: str) -> str:
    """Decoded body text with LF line ends (7bit parts keep the wire's CRLF, decoded ones not)."""
    return content.replace("\r\n", "\n")


def one_line(value: str) -> str:
    """A header value as the builder writes it: line breaks become spaces, ends stripped."""
    return re.sub(r"[\r\n]+", " ", value).strip()


def display_name(name: str) -> str:
    """A display name as the builder writes it: one line, runs of blanks as one space."""
    return re.sub(r"[ \t]+", " ", one_line(name))


def expected_mailbox(email_address: str, name: str) -> tuple[str, str, str]:
    """(display name, local part, domain) as a parser should read the mailbox back."""
    local, _, domain = email_address.rpartition("@")
    return display_name(name), local, idna_domain(domain)


def parse(built: BuiltMessage) -> email.message.EmailMessage:
    """Parse with the default policy, asserting wire rules and no parser defects anywhere."""
    wire_lines(built.data)
    msg = email.message_from_bytes(built.data, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, f"{part.get_content_type()}: {part.defects}"
    return msg


def mailboxes(msg, name: str, data: bytes) -> list[tuple[str, str, str]]:
    """(display name, local part, domain) of each address in header `name`.

    Local parts and domains come from the default-policy parser. Display names are decoded the
    RFC 2047 way (email.header.decode_header): CPython's header registry wrongly puts a space
    between adjacent encoded words of a phrase (RFC 2047 6.2 says whitespace between them is
    ignored), which any name longer than one encoded word (45 octets) runs into.
    """
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    unfolded = re.sub(r"\r\n(?=[ \t])", "", head).split("\r\n")
    raw = next(line for line in unfolded if line.lower().startswith(f"{name.lower()}:"))
    names = [
        str(make_header(decode_header(display))) if "=?" in display else display
        for display, _ in getaddresses([raw.split(":", 1)[1]])
    ]
    addresses = msg[name].addresses
    assert len(names) == len(addresses)
    return [
        (display, utf8_header(a.username), utf8_header(a.domain))
        for display, a in zip(names, addresses, strict=True)
    ]


def structure(msg) -> list[str]:
    """Content types of the MIME tree, depth-first, indented by depth."""
    out: list[str] = []

    def walk(part, depth):
        out.append("  " * depth + part.get_content_type())
        if part.is_multipart():
            for sub in part.iter_parts():
                walk(sub, depth + 1)

    walk(msg, 0)
    return out
