"""The web app's bell and notification list (TRK-6, UI-3)."""

from __future__ import annotations

from server.extensions import db
from server.notifications.service import notify
from tests.factories import make_org, make_user
from tests.surfaces.test_web_pages import sign_in


def test_bell_shows_the_unread_count_and_the_list_marks_read(app, client):
    org = make_org()
    rep, other = make_user(org, name="Rita Rep"), make_user(org)
    first = notify(org.id, rep.id, "tracking.open", "Anna opened “Offer”", "first open")
    notify(org.id, rep.id, "tracking.click", "Anna clicked a link")
    notify(org.id, other.id, "tracking.open", "Someone else's")
    db.session.commit()
    csrf = sign_in(client, rep)

    home = client.get("/").get_data(as_text=True)
    assert 'aria-label="Notifications, 2 unread"' in home
    assert 'data-stream="/api/notifications/stream"' in home

    page = client.get("/notifications").get_data(as_text=True)
    assert "Anna opened “Offer”" in page and "Anna clicked a link" in page
    assert "Someone else" not in page

    response = client.post(f"/notifications/{first.id}/read", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert "Anna opened" not in client.get("/notifications?show=unread").get_data(as_text=True)
    client.post("/notifications/read-all", data={"csrf_token": csrf})
    assert 'aria-label="Notifications, 0 unread"' in client.get("/").get_data(as_text=True)


def test_marking_read_needs_the_csrf_token(app, client):
    org = make_org()
    rep = make_user(org)
    mine = notify(org.id, rep.id, "tracking.open", "opened")
    db.session.commit()
    sign_in(client, rep)
    assert client.post(f"/notifications/{mine.id}/read").status_code == 403
    assert client.get("/notifications?show=unread").get_data(as_text=True).count("Mark read") == 1
