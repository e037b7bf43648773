"""Low-level encoders for message building: header fields (RFC 5322 folding, RFC 2047 encoded
words, RFC 2231 parameters, IDNA / SMTPUTF8 addresses) and body transfer encodings.

Everything here returns `str` for header text (the caller encodes the finished header block as
UTF-8, which is plain ASCII unless an address needs SMTPUTF8) and `bytes` for bodies, always with
CRLF line ends and no line longer than 78 characters where the input allows it (998 at most).

Safety of fixed MIME boundaries: boundaries start with "=_". Quoted-printable never produces "=_"
(a "=" is always followed by two hex digits or a line end), base64 has no "_" at all, and
`encode_body` only chooses 7bit for text that does not contain "=_". So no body line produced
here can ever equal a boundary delimiter, whatever the content — one skeleton per send is safe.
"""

from __future__ import annotations

import binascii
import re
from urllib.parse import quote

MAX_LINE = 78
_EW_PREFIX = "=?utf-8?b?"
_ATEXT_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_HEADER_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_UNSAFE_7BIT = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|=_|(?:^|\n)From |[ \t]\n")
_NEWLINES = re.compile(r"[\r\n]+")
_HIGH_BYTES = bytes(range(128, 256))
_BLANKS = re.compile(r"[ \t]+")


class HeaderError(ValueError):
    """A header value that cannot be represented (bad address, forbidden characters...)."""


def one_line(value: str) -> str:
    """A header value on one line: line breaks become spaces, ends stripped."""
    return _NEWLINES.sub(" ", value).strip()


def check_header_name(name: str) -> str:
    """The name if it is a valid header field name, else HeaderError."""
    if not _HEADER_NAME.match(name):
        raise HeaderError(f"invalid header name {name!r}")
    return name


# --- encoded words and folding -------------------------------------------------------------------


def encoded_words(text: str, first_room: int = 45) -> list[str]:
    """RFC 2047 B encoded words for `text`, whole characters each, at most 75 characters long."""
    data = text.encode("utf-8", "replace")
    words, start, room = [], 0, max(3, min(first_room, 45))
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and end > start + 1 and (data[end] & 0xC0) == 0x80:
            end -= 1  # never split a UTF-8 sequence between two words
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"{_EW_PREFIX}{chunk}?=")
        start, room = end, 45
    return words


def fold(name: str, tokens: list[str], separator: str = " ") -> str:
    """`Name: tokens` folded before a token where a line would pass 78 characters."""
    lines, line = [], f"{name}:"
    for index, token in enumerate(tokens):
        piece = (" " if index == 0 else separator) + token
        if index and len(line) + len(piece) > MAX_LINE:
            lines.append(line + separator.rstrip())
            line = " " + token
        else:
            line += piece
    lines.append(line)
    return "\r\n".join(lines)


def unstructured(name: str, value: str) -> str:
    """An unstructured header (Subject...), plain ASCII folded at spaces or RFC 2047 encoded."""
    value = one_line(value)
    words = value.split(" ")
    plain = (
        _PRINTABLE.match(value) is not None
        and "=?" not in value
        and max(map(len, words)) < 990 - len(name)
    )
    if plain:
        return _fold_plain(name, words)
    room = (MAX_LINE - len(name) - 2 - 12) // 4 * 3
    return fold(name, encoded_words(value, room))


def _fold_plain(name: str, words: list[str]) -> str:
    """Fold at single spaces, keeping every space (unfolding gives the value back exactly)."""
    lines, line = [], f"{name}: {words[0]}"
    for word in words[1:]:
        if word and len(line) + 1 + len(word) > MAX_LINE and line.strip():
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines)


def structured(name: str, value: str) -> str:
    """An ASCII structured header (List-Unsubscribe...) folded at its spaces; else encoded."""
    value = one_line(value)
    if not _PRINTABLE.match(value):
        return unstructured(name, value)
    words = value.split(" ")
    if max(map(len, words)) >= 990 - len(name):
        raise HeaderError(f"{name} has a word too long for one header line")
    return _fold_plain(name, words)


# --- addresses -----------------------------------------------------------------------------------


def idna_domain(domain: str) -> str:
    """The domain as ASCII (IDNA A-labels), HeaderError when it cannot be."""
    domain = domain.strip().rstrip(".")
    if domain.isascii():
        if not domain or not re.match(r"^[A-Za-z0-9.-]+$|^\[[^\]\s]+\]$", domain):
            raise HeaderError(f"invalid domain {domain!r}")
        return domain
    try:
        import idna

        return idna.encode(domain, uts46=True).decode("ascii")
    except Exception as exc:  # idna raises several error types
        raise HeaderError(f"invalid domain {domain!r}: {exc}") from exc


def addr_spec(email: str) -> tuple[str, bool]:
    """(local@ascii-domain, needs SMTPUTF8) for an address; HeaderError when malformed."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or any(c in email for c in "\r\n<>") or len(email) > 320:
        raise HeaderError(f"invalid email address {email!r}")
    domain = idna_domain(domain)
    if _DOT_ATOM.match(local):
        return f"{local}@{domain}", False
    if local.isascii():
        if not _PRINTABLE.match(local):
            raise HeaderError(f"invalid email address {email!r}")
        if local.startswith('"') and local.endswith('"') and len(local) > 1:
            local = local[1:-1]
        escaped = local.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"@{domain}', False
    if any(c.isspace() or ord(c) < 32 for c in local):
        raise HeaderError(f"invalid email address {email!r}")
    return f"{local}@{domain}", True


def address_tokens(email: str, name: str) -> tuple[list[str], str, bool]:
    """(tokens to fold, addr-spec, needs SMTPUTF8) for one mailbox with a display name."""
    spec, utf8 = addr_spec(email)
    name = _BLANKS.sub(" ", one_line(name))  # a phrase's blanks are one space to any reader
    if not name:
        return [spec], spec, utf8
    if _ATEXT_PHRASE.match(name) and "=?" not in name:
        return [*name.split(" "), f"<{spec}>"], spec, utf8
    if _PRINTABLE.match(name) and "=?" not in name and len(name) < 900:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{quoted}"', f"<{spec}>"], spec, utf8
    return [*encoded_words(name), f"<{spec}>"], spec, utf8


def address_list(name: str, mailboxes: list[tuple[str, str]]) -> tuple[str, list[str], bool]:
    """(folded header, addr-specs, needs SMTPUTF8) for a list of (email, display name)."""
    tokens: list[str] = []
    specs: list[str] = []
    utf8 = False
    for email, display in mailboxes:
        parts, spec, needs = address_tokens(email, display)
        if tokens:
            tokens[-1] += ","
        tokens.extend(parts)
        specs.append(spec)
        utf8 = utf8 or needs
    return fold(name, tokens), specs, utf8


def msg_id(value: str) -> str:
    """A message id in angle brackets, HeaderError when it is not one."""
    value = value.strip()
    if not (value.startswith("<") and value.endswith(">")):
        value = f"<{value}>"
    if not re.match(r"^<[\x21-\x3b\x3d\x3f-\x7e]+>$", value) or "@" not in value:
        raise HeaderError(f"invalid message id {value!r}")
    return value


# --- MIME parameters (RFC 2231) ------------------------------------------------------------------


def mime_type(value: str) -> str:
    """A lower-cased type/subtype, HeaderError when malformed."""
    major, slash, minor = value.strip().lower().partition("/")
    if not slash or not _TOKEN.match(major) or not _TOKEN.match(minor):
        raise HeaderError(f"invalid content type {value!r}")
    return f"{major}/{minor}"


def param(name: str, value: str) -> list[str]:
    """`name=value` segments for a MIME parameter: quoted when short ASCII, else RFC 2231."""
    value = one_line(value)
    if _PRINTABLE.match(value) and len(value) <= 60:
        return [f'{name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"']
    pieces, current = [], "utf-8''"
    for char in value:
        encoded = quote(char, safe="!#$&+-.^_`|~", encoding="utf-8")
        if len(current) + len(encoded) > 60:
            pieces.append(current)
            current = ""
        current += encoded
    pieces.append(current)
    if len(pieces) == 1:
        return [f"{name}*={pieces[0]}"]
    return [f"{name}*{index}*={piece}" for index, piece in enumerate(pieces)]


def content_header(name: str, value: str, params: list[str]) -> str:
    """`Name: value; p1; p2` with each parameter on its own folded line when long."""
    line = f"{name}: {value}"
    if sum(map(len, params)) + len(line) + 2 * len(params) <= MAX_LINE:
        return "; ".join([line, *params])
    return ";\r\n ".join([line, *params])


# --- bodies --------------------------------------------------------------------------------------


def base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines (no trailing line break)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)])


def encode_body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes) for UTF-8 text: 7bit only when safe, else
    quoted-printable for mostly-ASCII text and base64 for the rest; CRLF line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    raw = text.encode("utf-8", "replace")
    if raw.isascii():
        if not _UNSAFE_7BIT.search(raw) and max(map(len, raw.split(b"\n"))) <= MAX_LINE:
            return "7bit", raw.replace(b"\n", b"\r\n")
        non_ascii = 0
    else:
        non_ascii = len(raw) - len(raw.translate(None, _HIGH_BYTES))
    if non_ascii * 6 > len(raw):
        return "base64", base64_lines(raw)
    encoded = binascii.b2a_qp(raw, quotetabs=False, istext=True, header=False)
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")
