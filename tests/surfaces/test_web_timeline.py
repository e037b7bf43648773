"""A record's page shows its timeline (REC-6, LOG-9, LOG-10, UI-3): logged emails with their
sanitized body, consent changes, newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.consent.service import grant_basis
from server.emails.service import log_email
from tests.factories import make_company, make_contact, make_org, make_user
from tests.surfaces.test_web_pages import sign_in


def _log(rep, contact, subject: str, when: datetime, html: str = "<p>Hello</p>"):
    structured = {
        "message_id": f"<{subject.replace(' ', '-')}@mail.example>",
        "subject": subject,
        "from": {"email": rep.email, "name": "Rita Rep"},
        "to": [{"email": contact.primary_email, "name": "Anna Buyer"}],
        "sent_at": when,
        "html": html,
    }
    return log_email(
        rep, structured=structured, associations=[{"type": "contact", "id": contact.id}]
    )


def test_contact_page_shows_emails_and_consent_newest_first(app, client):
    org = make_org()
    rep = make_user(org, email="rita@acme.example")
    contact = make_contact(org, emails=["anna@buyer.example"], first_name="Anna")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    hostile = '<p onclick="steal()">Our offer</p><script>alert(1)</script>'
    _log(rep, contact, "First offer", start, hostile + '<img src="https://t.example/p.gif">')
    _log(rep, contact, "Second offer", start + timedelta(days=1))
    grant_basis(org.id, rep.id, contact.id, "consent", "Asked at the fair", "web")
    sign_in(client, rep)

    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    assert timeline.index("Legal basis recorded") < timeline.index("Second offer")
    assert timeline.index("Second offer") < timeline.index("First offer")
    assert "Our offer" in timeline
    assert "<script>alert(1)" not in timeline and "onclick" not in timeline
    assert ' src="https://t.example/p.gif"' not in timeline  # held back as data-remote-src (LOG-10)
    assert "1 remote image not loaded" in timeline

    email_id = timeline.split('id="email-')[1].split('"')[0]  # the newest email first: Second
    shown = client.get(f"/contacts/{contact.id}?images={email_id}").get_data(as_text=True)
    shown = shown[shown.index('id="timeline"') :]
    first_id = shown.split('id="email-')[2].split('"')[0]
    shown = client.get(f"/contacts/{contact.id}?images={first_id}").get_data(as_text=True)
    assert ' src="https://t.example/p.gif"' in shown  # loaded because the viewer asked
    assert "<script>alert(1)" not in shown and "onclick" not in shown  # still sanitized


def test_company_page_pages_through_its_contacts_emails(app, client):
    org = make_org()
    rep = make_user(org, email="rita@acme.example")
    company = make_company(org, "Buyer Ltd", domains=["buyer.example"])
    contact = make_contact(org, emails=["anna@buyer.example"], company=company)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for n in range(23):
        _log(rep, contact, f"Note {n:02d}", start + timedelta(hours=n))
    sign_in(client, rep)

    first = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "Note 22" in first and "Note 03" in first and "Note 02" not in first
    older = first.split('href="?timeline_cursor=')[1].split('#timeline"')[0]
    second = client.get(f"/companies/{company.id}?timeline_cursor={older}").get_data(as_text=True)
    assert "Note 02" in second and "Note 00" in second and "Note 03" not in second


def test_empty_timeline_says_what_will_appear(app, client):
    org = make_org()
    rep = make_user(org)
    contact = make_contact(org)
    sign_in(client, rep)
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "No activity yet" in page


def test_opens_of_a_logged_email_show_on_the_contacts_timeline(app, client):
    from server.tracking.classify import RawEvent
    from server.tracking.recording import record_events
    from server.tracking.service import create_tracked_email

    org = make_org()
    rep = make_user(org, email="rita@acme.example")
    contact = make_contact(org, emails=["anna@buyer.example"], first_name="Anna")
    sent = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    _log(rep, contact, "First offer", sent)
    tracked, _ = create_tracked_email(org.id, rep.id, ["anna@buyer.example"], "First offer",
                                      "<p>Hi</p>", None, message_id="<First-offer@mail.example>",
                                      sent_at=sent)  # fmt: skip
    record_events([RawEvent(uid="o1", kind="open", tracked_email_id=tracked.id, position=None,
                            at=sent + timedelta(hours=2), ip="198.51.100.7",
                            user_agent="Mozilla/5.0 (Windows NT 10.0) Thunderbird/128.0",
                            headers={}, viewer_id=None)])  # fmt: skip
    sign_in(client, rep)
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    assert "Opened “First offer”" in timeline
    assert timeline.index("Opened “First offer”") < timeline.index("Sent · from")
