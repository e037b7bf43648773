"""Shared helpers of the email logging tests."""

from __future__ import annotations

import base64
from pathlib import Path

DATA = Path(__file__).parent / "data"


def sample(name: str) -> bytes:
    """One message of the MIME corpus."""
    return (DATA / name).read_bytes()


def b64(raw: bytes) -> str:
    """Base64 text of raw bytes, as POST /api/emails/log takes them."""
    return base64.b64encode(raw).decode()
