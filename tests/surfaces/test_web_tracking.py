"""The web app's tracked emails page and activity feed (TRK-5, TRK-7, TRK-8, UI-3): human counts
with machine events apart, filters, and only the signed-in rep's own emails."""

from __future__ import annotations

from datetime import timedelta

from server.clock import utcnow
from server.tracking.classify import RawEvent
from server.tracking.recording import record_events
from server.tracking.service import create_tracked_email
from tests.factories import make_contact, make_org, make_user
from tests.surfaces.test_web_pages import sign_in

APPLE_MPP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)


def _open(email, at, ip="198.51.100.7", agent="Mozilla/5.0 (Windows NT 10.0) Thunderbird/128.0"):
    uid = f"u{email.id}-{at.timestamp()}-{ip}"
    return RawEvent(uid=uid, kind="open", tracked_email_id=email.id, position=None, at=at,
                    ip=ip, user_agent=agent, headers={}, viewer_id=None)  # fmt: skip


def test_tracked_emails_filter_and_count_people_not_machines(app, client):
    org = make_org()
    rep, other = make_user(org, name="Rita Rep"), make_user(org)
    for address in ("anna@buyer.test", "bob@buyer.test", "zed@buyer.test"):
        make_contact(org, emails=[address])
    sent = utcnow() - timedelta(hours=3)
    html = '<p>Offer <a href="https://shop.example/offer">here</a></p>'
    opened, _ = create_tracked_email(
        org.id, rep.id, ["anna@buyer.test"], "Offer", html, None, sent_at=sent
    )
    quiet, _ = create_tracked_email(
        org.id, rep.id, ["bob@buyer.test"], "Quiet one", html, None, sent_at=sent
    )
    create_tracked_email(org.id, other.id, ["zed@buyer.test"], "Not mine", html, None, sent_at=sent)
    record_events([
        _open(opened, sent + timedelta(hours=1)),
        _open(quiet, sent + timedelta(hours=1, seconds=5), ip="17.58.0.9", agent=APPLE_MPP),
    ])  # fmt: skip
    sign_in(client, rep)

    page = client.get("/tracking").get_data(as_text=True)
    assert "Offer" in page and "Quiet one" in page and "Not mine" not in page
    opened_only = client.get("/tracking?status=opened").get_data(as_text=True)
    assert "Offer" in opened_only and "Quiet one" not in opened_only  # a proxy's open is no open
    unopened = client.get("/tracking?status=unopened").get_data(as_text=True)
    assert "Quiet one" in unopened and "(+1 machine)" in unopened

    feed = client.get("/tracking/activity").get_data(as_text=True)
    assert feed.count("<strong>Opened</strong>") == 1
    with_machines = client.get("/tracking/activity?machine=1").get_data(as_text=True)
    assert with_machines.count("<strong>Opened</strong>") == 2 and "machine:" in with_machines


def test_empty_tracking_page_explains_itself(app, client):
    org = make_org()
    rep = make_user(org)
    sign_in(client, rep)
    assert "No tracked emails yet" in client.get("/tracking").get_data(as_text=True)
    assert "No tracked emails match" in client.get("/tracking?status=clicked").get_data(
        as_text=True
    )
