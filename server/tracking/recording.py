"""Record a batch of raw events: classify, append, update counters, notify (TRK-5, TRK-6, TRK-8).

One transaction per batch. Rows of the batch's tracked emails are locked (FOR UPDATE, in id
order) so concurrent drains and direct writes keep the counters right; events whose uid is
already stored are skipped (a batch re-read after a crash). Events for unknown or untracked
emails, unknown links or malformed entries are dropped: they record nothing.

Burst rule: when the clicks of one message within one second cover every distinct URL of the
message (at least two), or include the trap link, all of them are a scanner's (`all_links` /
`trap_link`); clicks recorded earlier as human are reclassified and the counters moved.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from .classify import RawEvent, classify
from .models import HUMAN, TrackedEmail, TrackedLink, TrackingEvent, TrackingSenderIp
from .signatures import load_signatures

BURST = timedelta(seconds=1)


def _sender_ips(emails: dict[int, TrackedEmail]) -> dict[int, set[str]]:
    hours = float(current_app.config.get("TRACKING_SENDER_IP_HOURS") or 0)
    users = {e.user_id for e in emails.values() if e.user_id}
    found: dict[int, set[str]] = defaultdict(set)
    if users and hours > 0:
        rows = db.session.execute(
            select(TrackingSenderIp.user_id, TrackingSenderIp.ip).where(
                TrackingSenderIp.user_id.in_(users),
                TrackingSenderIp.last_seen_at >= utcnow() - timedelta(hours=hours),
            )
        )
        for user_id, ip in rows:
            found[user_id].add(ip)
    return found


def _count(email: TrackedEmail, link: TrackedLink | None, event: TrackingEvent, sign: int) -> None:
    human = event.classification == HUMAN
    if event.kind == "open":
        if human:
            email.opens_human += sign
            email.first_open_at = min(filter(None, [email.first_open_at, event.at]))
            email.last_open_at = max(filter(None, [email.last_open_at, event.at]))
        else:
            email.opens_machine += sign
        return
    if human:
        email.clicks_human += sign
        link.clicks_human += sign
        for row in (email, link):
            row.first_click_at = min(filter(None, [row.first_click_at, event.at]))
            row.last_click_at = max(filter(None, [row.last_click_at, event.at]))
    else:
        email.clicks_machine += sign
        link.clicks_machine += sign


def _reclassify(email, links, event: TrackingEvent, reason: str) -> None:
    """Move an event recorded as human to a machine reason (counters follow)."""
    link = links.get(event.link_index)
    _count(email, link, event, -1)
    event.classification = reason
    _count(email, link, event, +1)
    for row in (email, link):
        if row.clicks_human == 0:
            row.first_click_at = row.last_click_at = None


def _burst_reason(window: list[TrackingEvent], links: dict[int, TrackedLink]) -> str | None:
    positions = {e.link_index for e in window}
    if any(links[p].is_trap for p in positions if p in links):
        return "trap_link"
    all_urls = {link.url for link in links.values() if not link.is_trap}
    clicked = {links[p].url for p in positions if p in links and not links[p].is_trap}
    if len(all_urls) >= 2 and clicked == all_urls:
        return "all_links"
    return None


def _load(events: list[RawEvent]):
    ids = sorted({e.tracked_email_id for e in events})
    emails = {
        e.id: e
        for e in db.session.scalars(
            select(TrackedEmail)
            .where(TrackedEmail.id.in_(ids))
            .order_by(TrackedEmail.id)
            .with_for_update()
        )
    }
    links: dict[int, dict[int, TrackedLink]] = defaultdict(dict)
    for link in db.session.scalars(
        select(TrackedLink).where(TrackedLink.tracked_email_id.in_(ids))
    ):
        links[link.tracked_email_id][link.position] = link
    clicks: dict[int, list[TrackingEvent]] = defaultdict(list)
    earliest = min(e.at for e in events) - BURST
    for row in db.session.scalars(
        select(TrackingEvent).where(
            TrackingEvent.tracked_email_id.in_(ids),
            TrackingEvent.kind == "click",
            TrackingEvent.at >= earliest,
        )
    ):
        clicks[row.tracked_email_id].append(row)
    return emails, links, clicks


def record_events(events: list[RawEvent]) -> int:
    """Record a batch in one transaction (commits); answers how many events were stored."""
    events = [e for e in events if e is not None]
    if not events:
        return 0
    known = set(
        db.session.scalars(
            select(TrackingEvent.uid).where(TrackingEvent.uid.in_([e.uid for e in events]))
        )
    )
    fresh: dict[str, RawEvent] = {}
    for event in events:  # a line shipped twice is in a batch twice
        if event.uid not in known:
            fresh.setdefault(event.uid, event)
    events = sorted(fresh.values(), key=lambda e: e.at)
    if not events:
        return 0
    emails, links, clicks = _load(events)
    sender_ips = _sender_ips(emails)
    signatures = load_signatures(current_app.config.get("TRACKING_SIGNATURES"))
    window = float(current_app.config.get("TRACKING_MACHINE_WINDOW_SECONDS") or 0)
    notices: list[tuple[TrackedEmail, TrackingEvent, TrackedLink | None]] = []
    stored = 0
    for raw in events:
        email = emails.get(raw.tracked_email_id)
        if email is None or not email.tracked:
            continue
        email_links = links[email.id]
        link = email_links.get(raw.position) if raw.kind == "click" else None
        if raw.kind == "click" and link is None:
            continue
        reason = classify(
            raw,
            sender_id=email.user_id,
            sender_ips=sender_ips.get(email.user_id, set()) | {email.sender_ip} - {None},
            sent_at=email.sent_at,
            is_trap=bool(link and link.is_trap),
            signatures=signatures,
            window_seconds=window,
        )
        event = TrackingEvent(
            uid=raw.uid,
            org_id=email.org_id,
            tracked_email_id=email.id,
            kind=raw.kind,
            link_index=raw.position if raw.kind == "click" else None,
            at=raw.at,
            ip=raw.ip,
            user_agent=raw.user_agent,
            classification=reason,
        )
        if raw.kind == "click" and reason in (HUMAN, "trap_link"):
            recent = [c for c in clicks[email.id] if c.at >= raw.at - BURST] + [event]
            burst = _burst_reason(recent, email_links)
            if burst:
                for earlier in recent[:-1]:
                    if earlier.classification == HUMAN:
                        _reclassify(email, email_links, earlier, burst)
                event.classification = burst if reason == HUMAN else reason
            clicks[email.id].append(event)
        was_unopened = email.opens_human == 0
        _count(email, link, event, +1)
        db.session.add(event)
        stored += 1
        if event.classification == HUMAN and (raw.kind == "click" or was_unopened):
            notices.append((email, event, link))
    db.session.flush()
    for email, event, link in notices:
        if event.classification == HUMAN:  # a later click of the batch may have reclassified it
            _notify(email, event, link)
    db.session.commit()
    return stored


def _notify(email: TrackedEmail, event: TrackingEvent, link: TrackedLink | None) -> None:
    if email.user_id is None:
        return
    from ..notifications.service import notify
    from .status import who_text

    subject = email.subject or "(no subject)"
    if event.kind == "open":
        kind, title = "tracking.open", f"Opened: {subject}"
    else:
        kind, title = "tracking.click", f"Clicked: {subject}"
    data = {
        "tracked_email_id": email.id,
        "event_id": event.id,
        "at": event.at.isoformat(),
        "url": link.url if link is not None else None,
    }
    notify(email.org_id, email.user_id, kind, title, who_text(email), data)
