"""Encryption at rest for provider tokens (MSAL token caches, Google OAuth tokens).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under the key
in TOKEN_KEY (env LIAISON_TOKEN_KEY): a Fernet key, i.e. 32 random bytes in url-safe base64 —
make one with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()
.decode())"`. To rotate, put the new key first and keep the old ones after it, comma-separated:
new values use the first key, every listed key decrypts, `reencrypt()` moves a value to the first.

Without TOKEN_KEY the key is derived from SECRET_KEY with HKDF-SHA256 (a fixed salt and a
purpose label), so a deployment works out of the box; changing SECRET_KEY then makes stored
tokens unreadable (mailboxes must be reconnected). Set TOKEN_KEY explicitly in production so the
session secret and the token key can be rotated independently.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from .errors import ServiceError

_HKDF_SALT = b"liaison/token-encryption/v1"
_HKDF_INFO = b"liaison provider tokens at rest"


class UnreadableSecret(ServiceError):
    """A stored value that no configured key decrypts (key changed or value tampered with)."""

    status, code = 500, "unreadable_secret"


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY with HKDF-SHA256 (used when TOKEN_KEY is unset)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


def _keys(config: dict) -> list[bytes]:
    raw = config.get("TOKEN_KEY")
    if raw:
        return [part.strip().encode("ascii") for part in str(raw).split(",") if part.strip()]
    secret = config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("Neither TOKEN_KEY nor SECRET_KEY is set: tokens cannot be encrypted.")
    return [derive_key(str(secret))]


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys(current_app.config)])
    except (ValueError, TypeError) as exc:
        raise RuntimeError(
            "LIAISON_TOKEN_KEY must be Fernet keys (32 bytes, url-safe base64), comma-separated."
        ) from exc


def encrypt(plaintext: bytes | str) -> str:
    """Encrypt `plaintext` under the first configured key; returns ASCII text for a column."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    return _fernet().encrypt(data).decode("ascii")


def decrypt(ciphertext: str) -> bytes:
    """Decrypt a value made by `encrypt` with any configured key."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise UnreadableSecret(
            "A stored token cannot be decrypted with the configured LIAISON_TOKEN_KEY "
            "(the key changed or the value was altered); reconnect the mailbox."
        ) from exc


def reencrypt(ciphertext: str) -> str:
    """The same value encrypted under the first (newest) configured key."""
    try:
        return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise UnreadableSecret("A stored token cannot be decrypted for re-encryption.") from exc
