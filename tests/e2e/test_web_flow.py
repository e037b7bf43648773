"""The web app in a real browser: sign in as a rep, walk from home to a contact to its deal, use
the keyboard only, and read the API docs without internet (UI-3, UI-4). Screenshots at 1280 and
390 px go to test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.extensions import db
from server.records.models import Association, Contact, Deal

pytestmark = pytest.mark.e2e


def _contact_with_a_deal(app) -> tuple[int, str, str, str]:
    """(contact id, its name, its primary address, the name of one of its deals)."""
    with app.app_context():
        link = db.session.scalars(
            select(Association)
            .where(Association.a_type == "contact", Association.b_type == "deal")
            .order_by(Association.id)
        ).first()
        contact = db.session.get(Contact, link.a_id)
        deal = db.session.get(Deal, link.b_id)
        return contact.id, contact.display_name, contact.primary_email, deal.name


def test_rep_signs_in_and_follows_a_contact_to_its_deal(live_server, watched):
    page = watched.page
    contact_id, name, email, deal_name = _contact_with_a_deal(live_server.app)
    heading = page.get_by_role("heading", level=1)

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    expect(heading).to_have_text("Sign in to Liaison")
    watched.shot("signin")

    page.get_by_role("button", name=re.compile("Sign in as Lena Fischer")).click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(heading).to_have_text("Hello, Lena")
    expect(page.get_by_role("heading", name="My open deals")).to_be_visible()
    watched.shot("home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(heading).to_have_text("Contacts")
    expect(page.get_by_role("link", name="Next page")).to_be_visible()
    watched.shot("contacts")

    page.get_by_label("Search contacts").fill(email)
    page.get_by_label("Search contacts").press("Enter")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.locator(f'a[href="/contacts/{contact_id}"]').click()
    expect(heading).to_have_text(name)
    expect(page.get_by_role("heading", name="Associated records")).to_be_visible()
    watched.shot("contact")

    page.get_by_role("link", name=deal_name).first.click()
    expect(heading).to_have_text(deal_name)
    expect(page.get_by_text("Amount")).to_be_visible()
    watched.shot("deal")

    page.goto(f"{live_server.url}/settings")
    expect(page.get_by_text("Set by your organization").first).to_be_visible()
    watched.shot("settings")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/signin")
    assert watched.problems == []


def test_sign_in_with_the_keyboard_only(live_server, watched):
    page = watched.page
    page.goto(f"{live_server.url}/signin")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    first_user = page.get_by_role("button", name=re.compile("^Sign in as")).first
    for _ in range(5):
        page.keyboard.press("Tab")
        if first_user.evaluate("el => el === document.activeElement"):
            break
    expect(first_user).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Hello, "))
    assert watched.problems == []


def test_api_docs_render_without_internet(live_server, watched):
    page = watched.page
    page.goto(f"{live_server.url}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Liaison API")
    expect(page.locator(".opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    watched.shot("api-docs", full_page=False)
    assert watched.problems == []
