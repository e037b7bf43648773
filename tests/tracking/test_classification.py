"""Human or machine (TRK-8) and the sender's own views (TRK-5), each a fixture request sequence.
Raw events are kept with their reason; only human ones count."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from server.clock import utcnow

from .scenario import PERSON_UA, events, hit_click, hit_open, reloaded, tracked

GOOGLE_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)

OPEN_SEQUENCES = {
    "apple_mail_privacy": {"ip": "17.58.101.4", "ua": "Mozilla/5.0"},
    "google_image_proxy": {"ip": "66.249.84.19", "ua": GOOGLE_UA},
    "scanner:microsoft_safe_links": {"ip": "40.107.28.7", "ua": PERSON_UA},
    "scanner:mimecast": {"ip": "198.51.100.20", "ua": "Mimecast URL Protect/1.0"},
    "scanner:proofpoint": {"ip": "148.163.130.5", "ua": PERSON_UA},
    "scanner:barracuda": {"ip": "64.235.150.1", "ua": PERSON_UA},
    "scanner:automated_client": {"ip": "198.51.100.21", "ua": "python-requests/2.32"},
    "prefetch": {"ip": "198.51.100.22", "headers": {"Sec-Purpose": "prefetch;prerender"}},
}


@pytest.mark.parametrize("reason", sorted(OPEN_SEQUENCES))
def test_machine_opens_and_clicks_are_kept_with_their_reason(world, client, reason):
    """Proxies (by network or user agent), scanners and prefetches: kept, not counted."""
    email = tracked(world)
    hit_open(client, email.id, **OPEN_SEQUENCES[reason])
    hit_click(client, email.id, 0, **OPEN_SEQUENCES[reason])
    assert [e.classification for e in events(email.id)] == [reason, reason]
    email = reloaded(email)
    assert (email.opens_human, email.opens_machine) == (0, 1)
    assert (email.clicks_human, email.clicks_machine) == (0, 1)
    assert email.first_open_at is None


def test_purpose_prefetch_header_is_a_machine(world, client):
    email = tracked(world)
    hit_open(client, email.id, headers={"Purpose": "prefetch"})
    assert [e.classification for e in events(email.id)] == ["prefetch"]


def test_person_open_is_human_and_counted(world, client):
    email = tracked(world)
    hit_open(client, email.id)
    hit_open(client, email.id)
    email = reloaded(email)
    assert [e.classification for e in events(email.id)] == ["human", "human"]
    assert (email.opens_human, email.opens_machine) == (2, 0)
    assert email.first_open_at <= email.last_open_at


def test_event_within_the_window_after_sending_is_a_machine(world, client, app):
    """An open seconds after the send is a gateway's, not the recipient's."""
    email = tracked(world, sent_ago=1)
    hit_open(client, email.id)
    later = tracked(world, sent_ago=app.config["TRACKING_MACHINE_WINDOW_SECONDS"] + 60)
    hit_open(client, later.id)
    assert [e.classification for e in events(email.id)] == ["too_soon"]
    assert [e.classification for e in events(later.id)] == ["human"]


def test_all_links_clicked_within_a_second_are_a_scanner(world, client):
    """The first click counted as human is moved to machine when the second completes the set."""
    email = tracked(world)
    with time_machine.travel(utcnow(), tick=False):
        hit_click(client, email.id, 0)
        assert reloaded(email).clicks_human == 1
        hit_click(client, email.id, 1)
    assert [e.classification for e in events(email.id)] == ["all_links", "all_links"]
    email = reloaded(email)
    assert (email.clicks_human, email.clicks_machine) == (0, 2)
    assert email.first_click_at is None
    assert all(link.clicks_human == 0 for link in email.links)


def test_a_person_clicking_every_link_slowly_is_human(world, client):
    email = tracked(world)
    start = utcnow()
    with time_machine.travel(start, tick=False):
        hit_click(client, email.id, 0)
    with time_machine.travel(start + timedelta(seconds=4), tick=False):
        hit_click(client, email.id, 1)
    assert [e.classification for e in events(email.id)] == ["human", "human"]
    assert reloaded(email).clicks_human == 2


def test_trap_link_click_marks_the_clicks_around_it(world, client):
    """The hidden link: its click and the other clicks of the same second are a scanner's."""
    email = tracked(world)
    trap = next(link.position for link in email.links if link.is_trap)
    with time_machine.travel(utcnow(), tick=False):
        hit_click(client, email.id, 0)
        hit_click(client, email.id, trap)
    assert [e.classification for e in events(email.id)] == ["trap_link", "trap_link"]
    assert reloaded(email).clicks_human == 0


def test_senders_own_view_from_the_web_app_is_not_counted(world, client):
    """TRK-5: a request carrying the sender's web session is the sender's own open."""
    email = tracked(world)
    with client.session_transaction() as session:
        session["user_id"] = world.sender.id
    hit_open(client, email.id)
    assert [e.classification for e in events(email.id)] == ["sender"]
    assert reloaded(email).opens_human == 0


def test_senders_own_view_from_their_ip_is_not_counted(world, client):
    """TRK-5: Outlook showing the Sent item loads the pixel from the rep's own address, which
    their add-in's authenticated calls to /api/tracking were seen from."""
    email = tracked(world)
    world.api.get("/api/tracking/emails", environ_base={"REMOTE_ADDR": "192.0.2.50"})
    hit_open(client, email.id, ip="192.0.2.50")
    hit_open(client, email.id, ip="192.0.2.51")
    assert [e.classification for e in events(email.id)] == ["sender", "human"]


def test_admin_signatures_file_extends_the_shipped_one(world, client, app, tmp_path):
    """LIAISON_TRACKING_SIGNATURES: new reasons come first, a shipped reason can be replaced."""
    path = tmp_path / "signatures.json"
    path.write_text(
        json.dumps(
            {
                "signatures": [
                    {"reason": "scanner:acme_gateway", "networks": ["192.0.2.128/25"]},
                    {"reason": "apple_mail_privacy", "networks": [], "user_agent": ["^Never$"]},
                ]
            }
        )
    )
    app.config["TRACKING_SIGNATURES"] = str(path)
    try:
        email = tracked(world)
        hit_open(client, email.id, ip="192.0.2.200")
        hit_open(client, email.id, ip="17.58.101.4", ua="Mozilla/5.0")
    finally:
        app.config["TRACKING_SIGNATURES"] = None
    assert [e.classification for e in events(email.id)] == ["scanner:acme_gateway", "human"]
