"""The one check both identity providers' tokens get before any key is fetched."""

from __future__ import annotations

import jwt

from ..errors import Unauthorized


def rs256_key_id(token: str, what: str) -> str | None:
    """The `kid` of an RS256-signed JWT; refuses malformed, unsigned and other-algorithm tokens.

    `what` names the token in the messages ("The Microsoft token", "The Google ID token").
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise Unauthorized(f"{what} is not a well-formed JWT.") from exc
    alg = header.get("alg")
    if not alg or str(alg).lower() == "none":
        raise Unauthorized(f"{what} is unsigned (alg 'none'); it must be RS256-signed.")
    if alg != "RS256":
        raise Unauthorized(f"{what} is signed with {alg}; only RS256 is accepted.")
    return header.get("kid")
