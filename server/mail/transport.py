"""The one interface every outgoing-mail transport implements, and its three possible answers.

A transport takes finished message bytes (built by server.mail.builder, DKIM-signed when the org
has a key) and hands them to a provider; it never retries by itself and never sleeps. Its answer
is one of:

- `Accepted(provider_id)`: the provider took responsibility for the message. `provider_id` is
  what the provider calls it (SMTP queue id, Graph request-id, Gmail message id), or None.
- `TemporaryFailure(reason, retry_after)`: try again later; `retry_after` (seconds) is the
  provider's own Retry-After when it gave one, None to let the caller choose its backoff.
- `PermanentFailure(reason)`: do not retry; the reason is kept on the outbox row.

Connection problems (refused, reset, timeout, TLS errors) are temporary; a transport catches
them and answers, it does not raise. Programming errors (a bad argument) do raise.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider accepted the message (for at least one recipient)."""

    provider_id: str | None = None
    thread_id: str | None = None  # Gmail's threadId
    rejected: dict[str, str] = field(default_factory=dict)  # recipient → reason, SMTP only


@dataclass(frozen=True, slots=True)
class TemporaryFailure:
    """Not sent this time; send again after `retry_after` seconds (None: caller's backoff)."""

    reason: str
    retry_after: float | None = None
    code: int | None = None  # SMTP reply code or HTTP status


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """Will never be sent as it is; `reason` says why."""

    reason: str
    code: int | None = None


SendResult = Accepted | TemporaryFailure | PermanentFailure


@runtime_checkable
class Transport(Protocol):
    """Hands built messages to one provider (SMTP relay, Microsoft Graph, Gmail API).

    `mailbox` names whose mailbox sends (Graph: the user id or UPN; Gmail: the key the
    credentials provider knows the account by); the SMTP relay ignores it. Graph and Gmail read
    the recipients from the message's To/Cc/Bcc headers: `recipients` is what the SMTP envelope
    uses and what throttles count.
    """

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> SendResult:
        """Send one message and say what became of it."""
        ...

    def close(self) -> None:
        """Release connections; the transport may be used again afterwards (it reconnects)."""
        ...


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP Retry-After value (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def credential_failure(exc: Exception, what: str) -> SendResult:
    """The answer when a token/credentials provider raised: the service errors below 500 (e.g.
    MailboxNeedsReconnect, 409) are permanent, anything else (provider unreachable) temporary."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status < 500:
        return PermanentFailure(f"{what}: {exc}", status)
    return TemporaryFailure(f"{what}: {exc}", None, status if isinstance(status, int) else None)
