"""DKIM signing (RFC 6376) with an organization's key, and the keys themselves.

Signatures are rsa-sha256 with relaxed/relaxed canonicalization over From, To, Subject, Date,
Message-ID, List-Unsubscribe and List-Unsubscribe-Post (those the message has). dkimpy does the
message parsing, canonicalization, header selection and folding; the RSA operation itself is done
by `cryptography` (OpenSSL), ~15x faster than dkimpy's pure-Python RSA (about 1 ms instead of
17 ms per signature here), which matters for bulk sends. The output is byte-for-byte what
`dkim.sign(..., canonicalize=(b"relaxed", b"relaxed"))` produces (a test checks it), and it
verifies with `dkim.verify`.

Keys: `generate_key()` makes an RSA 2048 key; `store_key()` writes it to the instance folder
(dkim/<domain>/<selector>.pem, mode 0600); `dns_record()` is the TXT record to publish.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_NAME = b"DKIM-Signature"
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class DkimSigner:
    """Signs messages for one (selector, domain) with an RSA private key in PEM."""

    def __init__(self, selector: str, domain: str, private_key_pem: bytes | str) -> None:
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("DKIM key must be an RSA private key")
        if not all(_LABEL.match(label) for label in selector.split(".")):
            raise ValueError(f"invalid DKIM selector {selector!r}")
        self._key = key
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("idna")

    def signature_header(self, message: bytes, timestamp: int | None = None) -> bytes:
        """The `DKIM-Signature: ...` header line (CRLF-terminated) for `message`."""
        headers, body = dkim.rfc822_parse(message)
        present = {name.lower() for name, _ in headers}
        include = [name for name in SIGNED_HEADERS if name in present]
        if b"from" not in include:
            raise ValueError("a message without From cannot be DKIM-signed")
        body_hash = base64.b64encode(hashlib.sha256(_POLICY.canonicalize_body(body)).digest())
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", self.domain),
            (b"i", b"@" + self.domain),
            (b"q", b"dns/txt"),
            (b"s", self.selector),
            (b"t", str(int(time.time() if timestamp is None else timestamp)).encode("ascii")),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
            (b"b", b"0" * 60),  # as dkimpy: forces b= onto its own line, so refolding is stable
        ]
        unsigned = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_NAME))
        unsigned = dkim.RE_BTAG.sub(b"\\1", unsigned)
        hasher = hashlib.sha256()
        canonical = _POLICY.canonicalize_headers(headers)
        dkim.hash_headers(hasher, _POLICY, canonical, include, (_NAME, b" " + unsigned), None)
        signature = self._key.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        fields[-1] = (b"b", base64.b64encode(signature))
        value = b"; ".join(b"=".join(f) for f in fields) + b"\r\n"
        return _NAME + b": " + dkim.fold(value, namelen=len(_NAME), linesep=b"\r\n")

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        return self.signature_header(message) + message


# --- keys ---------------------------------------------------------------------------------------


def generate_key(bits: int = 2048) -> bytes:
    """A new RSA private key as PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_base64(private_key_pem: bytes) -> str:
    """The p= value of the DNS record: the DER SubjectPublicKeyInfo, base64."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def txt_value(private_key_pem: bytes) -> str:
    """The TXT record's text: v=DKIM1; k=rsa; p=..."""
    return f"v=DKIM1; k=rsa; p={public_key_base64(private_key_pem)}"


def dns_record(selector: str, domain: str, private_key_pem: bytes) -> str:
    """A zone-file line for the TXT record, split into strings of at most 255 characters."""
    text = txt_value(private_key_pem)
    chunks = " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))
    return f"{selector}._domainkey.{domain}. IN TXT ( {chunks} )"


def key_path(instance_path: str | Path, domain: str, selector: str) -> Path:
    """Where the key of (domain, selector) is kept in the instance folder."""
    if not all(_LABEL.match(label) for label in selector.split(".")):
        raise ValueError(f"invalid DKIM selector {selector!r}")
    domain = domain.strip().lower().rstrip(".").encode("idna").decode("ascii")
    if not all(_LABEL.match(label) for label in domain.split(".")):
        raise ValueError(f"invalid domain {domain!r}")
    return Path(instance_path) / "dkim" / domain / f"{selector}.pem"


def store_key(path: Path, private_key_pem: bytes, *, overwrite: bool = False) -> None:
    """Write a key file readable by its owner only (0600); refuse to replace one unless asked."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem)
    os.chmod(path, 0o600)


def load_signer(instance_path: str | Path, domain: str, selector: str) -> DkimSigner | None:
    """The signer for a stored key, or None when there is no key for (domain, selector)."""
    path = key_path(instance_path, domain, selector)
    if not path.exists():
        return None
    return DkimSigner(selector, domain, path.read_bytes())
