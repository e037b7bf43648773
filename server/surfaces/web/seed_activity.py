"""Demo activity on top of the demo records: logged email threads, legal bases and notifications,
made through the same services as the API, so timelines and the bell have something to show."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from ...bulk.templates import create_template
from ...clock import utcnow
from ...consent.service import grant_basis
from ...emails.service import log_email
from ...extensions import db
from ...orgs.models import User
from ...records.models import Contact
from ...tracking.classify import RawEvent
from ...tracking.recording import record_events
from ...tracking.service import create_tracked_email

THREADS = [  # (subject, first message, reply)
    ("Pricing for the next quarter",
     "<p>Hi {first},</p><p>as promised, our <b>pricing for Q3</b> is attached in the summary "
     "below. Volume discounts start at 50 seats.</p><p>Best,<br>{rep}</p>",
     "<p>Thanks {rep}, we will review it on Thursday.</p>"),
    ("Follow-up from our call",
     "<p>Hello {first},</p><p>thanks for your time today. Next steps:</p><ul><li>Security "
     "review</li><li>Pilot with two teams</li></ul><p>{rep}</p>",
     "<p>Sounds good. Can we start the pilot on Monday?</p>"),
    ("Your support request",
     "<p>Dear {first},</p><p>we have reproduced the issue and a fix ships this week.</p>",
     "<p>Great, thank you for the quick answer!</p>"),
    ("Contract renewal",
     "<p>Hi {first},</p><p>your contract renews next month. Shall we go through the options?</p>",
     "<p>Yes please. Tuesday 10:00 works for me.</p>"),
]  # fmt: skip
TEMPLATES = [  # (name, subject, html): shared, for the pane's and the card's "Insert a template"
    ("Meeting follow-up", "Great meeting you, {{ first_name | default('there') }}",
     "<p>Hi {{ first_name | default('there') }},</p><p>thank you for your time today. As promised, "
     "here is a summary for {{ company | default('your team') }}.</p><p>Best regards,<br>"
     "{{ sender_name }}</p>"),
    ("Price list", "Our prices for {{ company | default('you') }}",
     "<p>Hello {{ first_name | default('there') }},</p><p>please find our current price list "
     "below. Volume discounts start at 50 seats.</p><p>{{ sender_name }}</p>"),
]  # fmt: skip
BASES = ["consent", "legitimate_interest_prospect", "legitimate_interest_customer", "contract"]


def _party(contact: Contact) -> dict:
    return {"email": contact.primary_email, "name": f"{contact.first_name} {contact.last_name}"}


def _thread(rep: User, contact: Contact, topic: tuple, n: int, when: datetime) -> None:
    subject, first_html, reply_html = topic
    first_name, rep_name = contact.first_name or "there", rep.name.split()[0]
    first_id = f"<demo-{n}-1@northwind.example>"
    me = {"email": rep.email, "name": rep.name}
    log_email(rep, source="api", direction="out", structured={
        "message_id": first_id, "subject": subject, "from": me, "to": [_party(contact)],
        "sent_at": when, "html": first_html.format(first=first_name, rep=rep_name),
    })  # fmt: skip
    log_email(rep, source="api", direction="in", structured={
        "message_id": f"<demo-{n}-2@mail.example>", "subject": f"Re: {subject}",
        "from": _party(contact), "to": [me], "sent_at": when + timedelta(hours=3),
        "in_reply_to": first_id, "references": [first_id],
        "html": reply_html.format(first=first_name, rep=rep_name),
    })  # fmt: skip


def seed_activity(org_id: int, seed: int = 7) -> dict:
    """Email threads logged by the reps, legal bases for some contacts and a few notifications."""
    rng, now = random.Random(seed), utcnow()
    reps = list(db.session.scalars(
        select(User).where(User.org_id == org_id, User.role == "rep").order_by(User.id)
    ))  # fmt: skip
    contacts = list(db.session.scalars(
        select(Contact).where(Contact.org_id == org_id).order_by(Contact.id).limit(40)
    ))  # fmt: skip
    threads: list[tuple[User, Contact, int, datetime]] = []
    for n, contact in enumerate(contacts[:24]):
        rep = reps[n % len(reps)]
        when = now - timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8))
        _thread(rep, contact, THREADS[n % len(THREADS)], n, when)
        threads.append((rep, contact, n, when))
    bases = 0
    for contact in contacts[:16]:
        grant_basis(org_id, reps[0].id, contact.id, rng.choice(BASES),
                    "Met at the Hannover trade fair", "web")  # fmt: skip
        bases += 1
    db.session.commit()
    tracked = _tracking(org_id, threads[:12])
    for name, subject, html in TEMPLATES:
        create_template(reps[0], {"name": name, "subject": subject, "html": html, "shared": True})
    return {"threads": len(threads), "legal_bases": bases, "tracked": tracked,
            "templates": len(TEMPLATES)}  # fmt: skip


def _tracking(org_id: int, threads: list[tuple[User, Contact, int, datetime]]) -> int:
    """The first message of these threads was tracked when sent: human opens and clicks, and
    machine ones (a privacy proxy), recorded through the tracking pipeline, so statuses, the
    feed, the bell and the records' timelines are real."""
    events: list[RawEvent] = []
    for rep, contact, n, sent in threads:
        subject, first_html, _reply = THREADS[n % len(THREADS)]
        html = first_html.format(first=contact.first_name or "there", rep=rep.name.split()[0])
        html += '<p><a href="https://northwind.example/pricing">Our price list</a></p>'
        email, _ = create_tracked_email(
            org_id, rep.id, [contact.primary_email], subject, html, None,
            message_id=f"<demo-{n}-1@northwind.example>", sent_at=sent,
        )  # fmt: skip
        if n % 3 != 2:  # two in three opened by a person, some of them clicked
            events.append(_event(email.id, "open", sent + timedelta(hours=2), HUMAN_AGENT, n))
        if n % 3 == 0:
            events.append(_event(email.id, "click", sent + timedelta(hours=2, minutes=3),
                                 HUMAN_AGENT, n, position=0))  # fmt: skip
        if n % 2 == 0:  # Apple Mail Privacy Protection fetches the image: a machine open
            events.append(_event(email.id, "open", sent + timedelta(minutes=1), APPLE_PROXY, n,
                                 ip="17.58.0.9"))  # fmt: skip
    db.session.commit()
    record_events(events)
    return len(threads)


HUMAN_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
)
APPLE_PROXY = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)


def _event(email_id, kind, at, agent, n, ip=None, position=None) -> RawEvent:
    return RawEvent(uid=f"demo-{email_id}-{kind}-{at.timestamp()}", kind=kind,
                    tracked_email_id=email_id, position=position, at=at,
                    ip=ip or f"203.0.113.{10 + n}", user_agent=agent, headers={},
                    viewer_id=None)  # fmt: skip
