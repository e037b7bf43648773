"""The server-sent events stream of one user's notifications (TRK-6).

Wire format (text/event-stream): `retry:` once; `event: unread` with the unread count when the
stream opens; `id: <notification id>` + `event: notification` + `data: <json>` per
notification; a `: keep-alive` comment when nothing happened for a while (proxies close silent
connections). The stream ends after a maximum lifetime; EventSource reconnects by itself with
`Last-Event-ID`, and the notifications it missed are sent first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from .bus import Subscription

RETRY_MS = 3000


def format_event(event: str, data: dict, event_id: int | None = None) -> str:
    """One SSE message."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def event_stream(
    subscription: Subscription,
    missed: list[dict],
    unread: int,
    keepalive_seconds: float,
    max_seconds: float,
) -> Iterator[str]:
    """Yield the stream's messages until its lifetime ends or the client goes away."""
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield format_event("unread", {"count": unread})
        last_id = 0
        for message in missed:
            last_id = max(last_id, message["id"])
            yield format_event("notification", message, message["id"])
        deadline = time.monotonic() + max_seconds
        while (left := deadline - time.monotonic()) > 0:
            message = subscription.get(timeout=min(keepalive_seconds, left))
            if message is None:
                yield ": keep-alive\n\n"
            elif message["id"] > last_id:  # a catch-up already sent it otherwise
                last_id = message["id"]
                yield format_event("notification", message, message["id"])
    finally:
        subscription.close()
