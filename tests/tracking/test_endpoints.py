"""The public endpoints (TRK-1, TRK-9): the pixel always answers its GIF, the redirect goes only
where the sent email pointed, and forged, altered, unknown or replayed tokens behave."""

from __future__ import annotations

from server.tracking.routes import GIF
from server.tracking.tokens import click_token, open_token

from .scenario import PERSON_UA, RECIPIENT_IP, events, hit_click, hit_open, tracked


def _no_cache(response) -> None:
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Pragma"] == "no-cache"


def test_pixel_answers_gif_uncached_and_records_one_open(world, client):
    email = tracked(world)
    response = hit_open(client, email.id)
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert response.data == GIF
    _no_cache(response)
    [event] = events(email.id)
    assert (event.kind, event.ip, event.user_agent) == ("open", RECIPIENT_IP, PERSON_UA)


def test_pixel_with_bad_token_still_answers_gif_and_records_nothing(world, client):
    """TRK-9: forged, altered and unknown tokens: the GIF, uncached, and no event."""
    email = tracked(world)
    good = open_token(email.id)
    for token in (good[:-2] + "xx", "1.forged", open_token(email.id + 1000), "..", "a" * 300):
        response = client.get(f"/t/o/{token}")
        assert response.status_code == 200 and response.data == GIF
        _no_cache(response)
    assert events(email.id) == []


def test_head_is_answered_not_recorded(world, client):
    email = tracked(world)
    assert hit_open(client, email.id, method="HEAD").status_code == 200
    head = hit_click(client, email.id, 0, method="HEAD")
    assert head.status_code == 302 and head.headers["Location"] == "https://example.com/pricing"
    assert events(email.id) == []


def test_click_redirects_to_the_stored_url_and_records(world, client):
    email = tracked(world)
    response = hit_click(client, email.id, 1)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/demo"
    [event] = events(email.id)
    assert (event.kind, event.link_index, event.classification) == ("click", 1, "human")


def test_forged_altered_and_unknown_click_tokens_get_a_plain_page(world, client):
    """TRK-9: never a redirect, nothing recorded; open-redirect attempts go nowhere."""
    email = tracked(world)
    good = click_token(email.id, 0)
    ids, mac = good.rsplit(".", 1)
    attempts = [
        f"{ids}.{mac[::-1]}",  # altered MAC
        f"{ids[:-1]}9.{mac}",  # another link with this MAC
        click_token(email.id, 57),  # genuine signature, no such link
        click_token(email.id + 999, 0),  # no such email
        open_token(email.id),  # an open token used as a click
        "https:%2F%2Fevil.example",
    ]
    for token in attempts:
        response = client.get(f"/t/c/{token}")
        assert response.status_code == 404, token
        assert "Location" not in response.headers and response.mimetype == "text/plain"
    for query in ("?url=https://evil.example", "?next=//evil.example"):
        response = client.get(f"/t/c/{good}{query}")
        assert response.headers["Location"] == "https://example.com/pricing"
    assert [e.link_index for e in events(email.id)] == [0, 0]


def test_replayed_tokens_are_further_events(world, client):
    """A token used again is recorded again (classification decides what it counts for)."""
    email = tracked(world)
    for _ in range(3):
        hit_open(client, email.id)
        hit_click(client, email.id, 0, ip="198.51.100.9")
    assert [e.kind for e in events(email.id)] == ["open", "click"] * 3


def test_trap_link_answers_a_blank_page(world, client):
    email = tracked(world)
    trap = next(link for link in email.links if link.is_trap)
    response = hit_click(client, email.id, trap.position)
    assert response.status_code == 200 and response.data == b""
    assert [e.classification for e in events(email.id)] == ["trap_link"]


def test_untracked_email_records_nothing(world, client):
    """TRK-10: an email that was not allowed to be tracked has no links and records nothing."""
    email = tracked(world, recipients=["stranger@nowhere.example"])
    assert not email.tracked and email.links == []
    assert hit_open(client, email.id).data == GIF
    assert hit_click(client, email.id, 0).status_code == 404
    assert events(email.id) == []


def test_bench_endpoints_exist_only_with_the_flag(client):
    assert client.get("/t/bench/o").status_code == 404
