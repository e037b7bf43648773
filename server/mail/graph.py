"""Microsoft Graph transport: POST /v1.0/users/{mailbox}/sendMail as the user, with requests.

The message goes as MIME (the body is the base64 of the RFC 5322 bytes, Content-Type text/plain),
not as a Graph JSON message: it is the exact message our builder made — our Message-ID (threads
and bounce matching rely on it), List-Unsubscribe / List-Unsubscribe-Post, inline images with
their Content-IDs, the text and HTML alternatives — which the JSON form cannot all carry (it only
takes custom headers named X-..., and rebuilds the MIME itself). Graph reads the recipients from
the To/Cc/Bcc headers and saves a copy in Sent Items.

Answers: 202 accepted (provider id: Graph's request-id); 429, 500, 502, 503, 504 temporary with
Retry-After; 401 temporary (the token provider renews the token on the next try, or raises
MailboxNeedsReconnect, which is permanent); other 4xx permanent with Graph's error code and
message; network errors temporary. Graph refuses requests over 4 MB (413, permanent).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote

import requests

from .transport import (
    Accepted,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    credential_failure,
    parse_retry_after,
)

GRAPH_BASE = "https://graph.microsoft.com"
RETRYABLE = frozenset({401, 429, 500, 502, 503, 504})


def _graph_error(response: requests.Response) -> str:
    """'status code: message' from a Graph error body (or the raw text)."""
    try:
        error = response.json().get("error", {})
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        detail = response.text[:200]
    return f"Graph {response.status_code} {detail}".strip()


class GraphTransport:
    """Sends as a Microsoft 365 user; `token_provider(mailbox)` returns a Graph access token."""

    def __init__(
        self,
        token_provider: Callable[[str], str],
        *,
        base_url: str = GRAPH_BASE,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.token_provider = token_provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> SendResult:
        """sendMail with the MIME message; `mailbox` (default: envelope_from) is the user."""
        user = mailbox or envelope_from
        try:
            token = self.token_provider(user)
        except Exception as exc:  # the provider's own errors say permanent or not
            return credential_failure(exc, f"no Graph token for {user}")
        url = f"{self.base_url}/v1.0/users/{quote(user, safe='@')}/sendMail"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        try:
            response = self.session.post(
                url, data=base64.b64encode(message), headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return TemporaryFailure(f"Graph unreachable: {exc!r}")
        status = response.status_code
        if 200 <= status < 300:
            return Accepted(response.headers.get("request-id"))
        reason = _graph_error(response)
        if status in RETRYABLE:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return TemporaryFailure(reason, retry_after, status)
        if 400 <= status < 500:
            return PermanentFailure(reason, status)
        return TemporaryFailure(reason, None, status)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.session.close()
