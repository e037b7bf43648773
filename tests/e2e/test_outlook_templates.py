"""The Outlook compose pane's "Insert a template" in a real browser (UI-1, BULK-2, ONE-1): the
template is rendered for the first To recipient by the server and goes in at the cursor of the
emulated item, with its subject when the message has none. Same set-up as
test_outlook_addin.py (the demo server, the fake Microsoft issuer, Office.js emulated)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.bulk.models import EmailTemplate
from server.extensions import db
from server.orgs.models import User
from server.records.models import Company, Contact

from .test_outlook_addin import REP_EMAIL, outlook, panes  # noqa: F401  (module fixtures)

pytestmark = pytest.mark.e2e

HTML = '<p>Hi {{ first_name | default("there") }} at {{ company | default("your company") }},</p>'


def _seed_template(app, name: str, **fields) -> int:
    with app.app_context():
        rep = db.session.scalar(select(User).where(User.email == REP_EMAIL))
        fields.setdefault("subject", "Offer for {{ company | default('you') }}")
        fields.setdefault("html", HTML)
        template = EmailTemplate(org_id=rep.org_id, owner_id=rep.id, name=name,
                                 name_key=name.lower(), **fields)  # fmt: skip
        db.session.add(template)
        db.session.commit()
        return template.id


def _contact_with_company(app) -> tuple[str, str, str]:
    """(address, first name, company name) of a seeded contact that has all three."""
    with app.app_context():
        query = (
            select(Contact, Company.name)
            .join(Company, Company.id == Contact.primary_company_id)
            .where(Contact.first_name != "")
            .order_by(Contact.id)
        )
        for contact, company in db.session.execute(query):
            if contact.primary_email:
                return contact.primary_email, contact.first_name, company
    raise AssertionError("the demo seed has no contact with a company")


def _open_templates(pane):
    page = pane.page
    expect(page.get_by_role("heading", name="Recipients")).to_be_visible()
    page.get_by_text("Insert a template", exact=True).click()
    return page


def test_insert_a_template_for_the_first_recipient_with_its_subject(outlook, panes):  # noqa: F811
    address, first_name, company = _contact_with_company(outlook.app)
    _seed_template(outlook.app, "Pane intro")
    item = {"to": [address, "someone.else@client.example"], "subject": "",
            "body": {"type": "html", "content": "<p>Start</p>"}}  # fmt: skip
    pane = panes(320, {"mode": "compose", "accessToken": outlook.token(), "item": item})
    page = _open_templates(pane.open("/addin/taskpane.html"))

    page.get_by_role("button", name="Insert template Pane intro").click()

    expect(
        page.get_by_text(f"Inserted “Pane intro” for {address} with its subject.")
    ).to_be_visible()
    pane.shot("compose-template-inserted")
    sent = pane.emulation()["item"]
    assert sent["body"]["content"] == f"<p>Start</p><p>Hi {first_name} at {company},</p>"
    assert sent["subject"] == f"Offer for {company}"
    assert pane.problems == []


def test_a_subject_already_typed_is_kept_and_unknown_recipients_get_the_fallbacks(
    outlook,  # noqa: F811
    panes,  # noqa: F811
):
    _seed_template(outlook.app, "Cold intro", text="Hello {{ first_name | default('there') }}")
    item = {"to": ["nobody.known@client.example"], "subject": "My own subject",
            "body": {"type": "text", "content": "Start. "}}  # fmt: skip
    pane = panes(450, {"mode": "compose", "accessToken": outlook.token(), "item": item})
    page = _open_templates(pane.open("/addin/taskpane.html"))

    page.get_by_role("button", name="Insert template Cold intro").click()

    expect(
        page.get_by_text("Inserted “Cold intro” for nobody.known@client.example.")
    ).to_be_visible()
    sent = pane.emulation()["item"]
    assert sent["body"]["content"] == "Start. Hello there"  # a plain-text body gets the text part
    assert sent["subject"] == "My own subject"
    assert pane.problems == []
