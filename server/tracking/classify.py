"""Human or machine (TRK-8), and the sender's own views (TRK-5), for one raw event.

Order, first match wins:
1. `sender`: the request carried the sender's web session (the web app, same origin), or came
   from an IP the sender used for an authenticated Liaison call in the last
   TRACKING_SENDER_IP_HOURS (the add-ins call /api/tracking/* from the rep's machine, so
   Outlook showing the Sent item from there is recognised). Not counted, kept with the reason.
2. `trap_link`: the hidden link no person sees was clicked.
3. `prefetch`: Sec-Purpose / Purpose: prefetch, X-Purpose: preview, X-Moz: prefetch.
4. a signature of the data file: privacy proxies (`apple_mail_privacy`, `google_image_proxy`)
   and security scanners (`scanner:...`) by network or user agent.
5. `too_soon`: within TRACKING_MACHINE_WINDOW_SECONDS of sending.
Clicks of all of a message's links within one second (`all_links`) are found when recording,
which sees the message's other clicks (server/tracking/recording.py). HEAD is never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import HUMAN
from .signatures import Signatures

PREFETCH_FIELDS = {"hsp": "Sec-Purpose", "hp": "Purpose", "hxp": "X-Purpose", "hxm": "X-Moz"}


@dataclass(frozen=True)
class RawEvent:
    """An event as the endpoint captured it (strings from the stream, or direct)."""

    uid: str
    kind: str  # open | click
    tracked_email_id: int
    position: int | None
    at: datetime
    ip: str | None
    user_agent: str | None
    headers: dict  # the prefetch headers present, by header name
    viewer_id: int | None  # user id of a web session the request carried


def classify(
    event: RawEvent,
    *,
    sender_id: int | None,
    sender_ips: set[str],
    sent_at: datetime,
    is_trap: bool,
    signatures: Signatures,
    window_seconds: float,
) -> str:
    """`human` or the machine reason for one event."""
    if sender_id is not None and event.viewer_id == sender_id:
        return "sender"
    if event.ip and event.ip in sender_ips:
        return "sender"
    if is_trap:
        return "trap_link"
    if signatures.is_prefetch(event.headers):
        return "prefetch"
    reason = signatures.reason_for(event.ip, event.user_agent)
    if reason:
        return reason
    if (event.at - sent_at).total_seconds() < window_seconds:
        return "too_soon"
    return HUMAN
