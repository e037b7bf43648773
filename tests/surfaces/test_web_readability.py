"""What the web pages say, found by trying the demo as a newcomer (UI-3): consent entries on a
company's timeline name the contact, settings values read as words, the activity feed tells a
machine's open from a person's, and the tracked emails table keeps its column names on a phone."""

from __future__ import annotations

from datetime import timedelta

from server.auth.models import ApiToken
from server.clock import utcnow
from server.consent.service import grant_basis
from server.extensions import db
from server.orgs.settings import set_org_settings
from server.tracking.recording import record_events
from server.tracking.service import create_tracked_email
from tests.factories import make_company, make_contact, make_org, make_user
from tests.surfaces.test_web_pages import sign_in
from tests.surfaces.test_web_tracking import APPLE_MPP, _open


def _timeline(page: str) -> str:
    return page[page.index('id="timeline"') :]


def test_consent_entry_on_a_company_timeline_names_its_contact(app, client):
    """REC-6: a company's timeline merges its contacts' consent changes; each says whose."""
    org = make_org()
    rep = make_user(org)
    company = make_company(org, "Buyer Ltd", domains=["buyer.example"])
    contact = make_contact(
        org, emails=["anna@buyer.example"], company=company, first_name="Anna", last_name="Berg"
    )
    grant_basis(org.id, rep.id, contact.id, "consent", "Asked at the fair", "web")
    sign_in(client, rep)

    on_company = _timeline(client.get(f"/companies/{company.id}").get_data(as_text=True))
    assert "Legal basis recorded: Anna Berg" in on_company
    on_contact = _timeline(client.get(f"/contacts/{contact.id}").get_data(as_text=True))
    assert "Legal basis recorded" in on_contact and "recorded: Anna Berg" not in on_contact


def test_settings_show_the_privacy_minimum_in_words(app, client):
    """LOG-9: the least privacy for logged emails is a sentence, not the code 'metadata'."""
    org = make_org()
    rep = make_user(org)
    set_org_settings(None, {"email_privacy_minimum": "metadata"}, org_id=org.id)
    sign_in(client, rep)
    page = client.get("/settings").get_data(as_text=True)
    assert "Metadata: parties and time only" in page
    assert "<td>metadata</td>" not in page


def test_activity_feed_marks_machine_events_and_has_one_back_arrow(app, client):
    """TRK-8: a privacy proxy's open is labelled as a machine's, a person's open is not."""
    org = make_org()
    rep = make_user(org)
    make_contact(org, emails=["anna@buyer.test"])
    make_contact(org, emails=["bob@buyer.test"])
    sent = utcnow() - timedelta(hours=3)
    html = '<p>Offer <a href="https://shop.example/offer">here</a></p>'
    read, _ = create_tracked_email(org.id, rep.id, ["anna@buyer.test"], "Read", html, None,
                                   sent_at=sent)  # fmt: skip
    proxied, _ = create_tracked_email(org.id, rep.id, ["bob@buyer.test"], "Proxied", html, None,
                                      sent_at=sent)  # fmt: skip
    record_events([
        _open(read, sent + timedelta(hours=1)),
        _open(proxied, sent + timedelta(hours=1), ip="17.58.0.9", agent=APPLE_MPP),
    ])  # fmt: skip
    sign_in(client, rep)

    page = client.get("/tracking/activity?machine=1").get_data(as_text=True)
    items = page.split("<li")[1:]
    machine = [i for i in items if "Proxied" in i]
    person = [i for i in items if "“Read”" in i]
    assert machine and "machine, not a person" in machine[0]
    assert person and "machine, not a person" not in person[0]
    assert "← Tracked emails" not in page  # the breadcrumb's arrow comes from the stylesheet


def test_tracked_emails_cells_carry_their_column_names(app, client):
    """TRK-5: on a phone the table becomes cards; the bare figures keep their labels."""
    org = make_org()
    rep = make_user(org)
    make_contact(org, emails=["anna@buyer.test"])
    create_tracked_email(org.id, rep.id, ["anna@buyer.test"], "Offer", "<p>Hi</p>", None,
                         sent_at=utcnow() - timedelta(hours=1))  # fmt: skip
    sign_in(client, rep)
    page = client.get("/tracking").get_data(as_text=True)
    for label in ("Sent to", "Status", "Opens", "Clicks", "Sent"):
        assert f'data-label="{label}"' in page


def test_settings_page_creates_shows_once_and_revokes_an_api_token(app, client):
    """ADM-2 / API: a newcomer gets a personal API token from the web app, not only the CLI."""
    org = make_org()
    rep = make_user(org)
    csrf = sign_in(client, rep)
    assert "You have no API tokens yet." in client.get("/settings").get_data(as_text=True)

    created = client.post("/settings/tokens", data={"csrf_token": csrf, "name": "Reporting"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    plaintext = page.split('<code class="token-value">')[1].split("</code>")[0]
    assert plaintext.startswith("lia_") and "cannot be shown again" in page
    me = client.get("/api/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.status_code == 200 and me.get_json()["user"]["id"] == rep.id
    again = client.get("/settings").get_data(as_text=True)
    assert "Reporting" in again and plaintext not in again  # shown once

    token = db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == rep.id))
    revoked = client.post(f"/settings/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert (
        client.get("/api/me", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
    )
    assert "Revoked" in client.get("/settings").get_data(as_text=True)


def test_token_forms_need_the_csrf_token_and_a_name(app, client):
    org = make_org()
    rep = make_user(org)
    csrf = sign_in(client, rep)
    assert client.post("/settings/tokens", data={"name": "x"}).status_code == 403
    nameless = client.post("/settings/tokens", data={"csrf_token": csrf, "name": "  "})
    assert nameless.status_code == 422 and "A token needs a name." in nameless.get_data(True)


def test_home_links_to_the_api_tokens(app, client):
    org = make_org()
    sign_in(client, make_user(org))
    assert 'href="/settings#tokens">API tokens</a>' in client.get("/").get_data(as_text=True)
