"""Signed tracking tokens (TRK-9): ids and an HMAC, never a URL.

An open token is `<email id, base 36>.<mac>`, a click token `<email id>.<link position>.<mac>`,
both base 36 ids and a 16-byte keyed BLAKE2b MAC (URL-safe base64) over the kind and the ids,
keyed by a key derived from SECRET_KEY. A click token cannot be used as an open token or the
reverse. BLAKE2b's keyed mode is a MAC by design (RFC 7693) and, unlike OpenSSL's HMAC, takes no
library lock: every pixel request checks one, from several threads at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from flask import current_app

_KEYS: dict[str, bytes] = {}
_CANONICAL = re.compile(r"0|[1-9a-z][0-9a-z]{0,12}")
MAC_BYTES = 16
MAX_TOKEN = 80


def _key() -> bytes:
    # through the app object, not the `current_app.config` proxy: every pixel asks
    secret = current_app._get_current_object().config["SECRET_KEY"]  # type: ignore[attr-defined]
    key = _KEYS.get(secret)
    if key is None:
        key = hashlib.sha256(b"liaison.tracking.v1\0" + str(secret).encode()).digest()
        _KEYS[secret] = key
    return key


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _mac(message: str) -> str:
    digest = hashlib.blake2b(
        message.encode(), key=_key(), digest_size=MAC_BYTES, person=b"liaison.track"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def open_token(tracked_email_id: int) -> str:
    """The pixel token of a tracked email."""
    ids = _b36(tracked_email_id)
    return f"{ids}.{_mac('o:' + ids)}"


def click_token(tracked_email_id: int, position: int) -> str:
    """The redirect token of one link of a tracked email."""
    ids = f"{_b36(tracked_email_id)}.{_b36(position)}"
    return f"{ids}.{_mac('c:' + ids)}"


def _parse_ids(parts: list[str]) -> list[int] | None:
    # canonical form only: "0a", "+a" or "A" would verify with another spelling of the same id
    if not all(_CANONICAL.fullmatch(p) for p in parts):
        return None
    return [int(p, 36) for p in parts]


def _verified(token: str, kind: str, n_ids: int) -> list[int] | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) != n_ids + 1:
        return None
    ids = _parse_ids(parts[:-1])
    if ids is None:
        return None
    expected = _mac(f"{kind}:{'.'.join(parts[:-1])}")
    if not hmac.compare_digest(expected.encode(), parts[-1].encode("utf-8", "replace")):
        return None
    return ids


def verify_open(token: str) -> int | None:
    """The tracked email id of a genuine open token, else None."""
    ids = _verified(token, "o", 1)
    return ids[0] if ids and ids[0] > 0 else None


def verify_click(token: str) -> tuple[int, int] | None:
    """(tracked email id, link position) of a genuine click token, else None."""
    ids = _verified(token, "c", 2)
    return (ids[0], ids[1]) if ids and ids[0] > 0 else None
