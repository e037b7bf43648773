"""The opened-message card against the fake Gmail API: parties with their records or "not in
CRM", open deals and tickets, Log with the default ticks (LOG-4) and a privacy level (LOG-1).
Gmail is read headers first (format=metadata) and in full (format=raw) only to log, and one
Message-ID is one logged email whichever path logs it (LOG-3)."""

from __future__ import annotations

from factories import associate, make_contact, make_deal, make_ticket
from sqlalchemy import func, select

import server.emails.bcc  # noqa: F401  (the BCC log handler)
from server.emails.models import LoggedEmail
from server.extensions import db
from server.mail.inbound import route_inbound
from server.mail.inbound_addresses import logging_address
from server.records.models import Contact, ContactEmail, Deal

from .conftest import USER_EMAIL, button_state, make_mime, pushed, rendered, texts, widgets


def _scene(org, gmail_api, rep, sender="ada@client.example", **kwargs):
    ada = make_contact(org, "ada@client.example", first_name="Ada", last_name="Lovelace")
    deal = make_deal(org, "Analytical engine", stage="proposal")
    ticket = make_ticket(org, "Broken gear", status="open")
    associate(org, ada, deal)
    associate(org, ada, ticket)
    mime = make_mime(sender, [USER_EMAIL], "Engine order", cc=["bob@unknown.example"], **kwargs)
    return ada, deal, ticket, gmail_api.add_message(mime)


def test_message_card_shows_parties_records_and_log_ticks(addon, org, rep, gmail_api):
    ada, deal, ticket, message_id = _scene(org, gmail_api, rep)

    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))

    assert card["header"]["title"] == "Engine order"
    shown = texts(card)
    assert "Ada Lovelace" in shown
    assert "Analytical engine" in shown and "Broken gear" in shown
    assert "Not in CRM" in shown and "bob@unknown.example" in shown
    [ticks] = [w["selectionInput"] for w in widgets(card) if "selectionInput" in w
               and w["selectionInput"]["name"] == "associate"]  # fmt: skip
    values = {i["value"]: i["selected"] for i in ticks["items"]}
    assert ticks["type"] == "CHECK_BOX"
    assert values == {
        f"contact:{ada.id}": True,
        f"deal:{deal.id}": True,
        f"ticket:{ticket.id}": True,
    }  # fmt: skip (incoming: the sender only)
    function, _ = button_state(card, "Log this email")
    assert function == "https://liaison.example/gmail/actions/log"
    assert gmail_api.gets(message_id) == ["metadata"]
    [get] = [r for r in gmail_api.requests if "/messages/" in r.path]
    assert get.headers["x-goog-gmail-access-token"] == "msg-access-token"
    assert "metadataHeaders=Message-ID" in get.path


def test_log_this_email_reads_the_whole_message_and_logs_the_ticked_records(
    addon, org, rep, gmail_api
):
    ada, deal, ticket, message_id = _scene(org, gmail_api, rep)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    _, state = button_state(card, "Log this email")

    form = {"associate": [f"contact:{ada.id}", f"deal:{deal.id}"]}
    event = addon.message_event(message_id, path="/gmail/actions/log", state=state, form=form)
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert result["header"]["title"] == "Logged"
    assert gmail_api.gets(message_id) == ["metadata", "raw"]
    email = db.session.scalar(select(LoggedEmail))
    assert (email.subject, email.source, email.direction) == ("Engine order", "gmail", "in")
    assert {(a.record_type, a.record_id) for a in email.associations} == {
        ("contact", ada.id), ("deal", deal.id)}  # fmt: skip


def test_same_email_from_bcc_and_gmail_is_logged_once(addon, org, rep, gmail_api):
    """LOG-3: the rep's sent email reached the logging address by Bcc and is logged again from
    the Gmail add-on: one logged email, the add-on's ticks added to it."""
    ada = make_contact(org, "ada@client.example", first_name="Ada", last_name="Lovelace")
    deal = make_deal(org, "Analytical engine")
    mime = make_mime(USER_EMAIL, ["ada@client.example"], "Our offer", message_id="<offer-1@x>")
    route_inbound(mime, [logging_address(rep.id)], "smtp")
    message_id = gmail_api.add_message(mime)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    assert "Sent by you" in texts(card)
    _, state = button_state(card, "Log this email")

    form = {"associate": [f"contact:{ada.id}", f"deal:{deal.id}"]}
    event = addon.message_event(message_id, path="/gmail/actions/log", state=state, form=form)
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert result["header"]["title"] == "Already logged"
    assert db.session.scalar(select(func.count()).select_from(LoggedEmail)) == 1
    email = db.session.scalar(select(LoggedEmail))
    assert email.source == "bcc"
    assert ("deal", deal.id) in {(a.record_type, a.record_id) for a in email.associations}


def test_altered_state_logs_nothing(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    _, state = button_state(card, "Log this email")

    event = addon.message_event(message_id, path="/gmail/actions/log", state=state[:-2] + "xx")
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert "altered" in " ".join(texts(result))
    assert db.session.scalar(select(func.count()).select_from(LoggedEmail)) == 0


def test_state_of_another_message_logs_nothing(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    other = gmail_api.add_message(make_mime("x@client.example", [USER_EMAIL], "Other"))
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    _, state = button_state(card, "Log this email")

    event = addon.message_event(other, path="/gmail/actions/log", state=state)
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert "another message" in " ".join(texts(result))
    assert db.session.scalar(select(func.count()).select_from(LoggedEmail)) == 0


def test_gmail_failure_renders_a_short_card(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    gmail_api.server_error()

    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))

    assert texts(card) == ["Liaison", "Something went wrong",
                           "Gmail answered 500; try again in a moment."]  # fmt: skip


def test_missing_message_access_token_renders_a_card(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    event = addon.message_event(message_id)
    event["gmail"]["accessToken"] = "stale"

    card = pushed(addon.post("/gmail/message", event=event))

    assert "Gmail refused access to this message; open it again." in texts(card)


def test_create_contact_for_a_party_not_in_crm(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    function, state = button_state(card, "Create contact")
    assert function.endswith("/gmail/actions/create_contact")

    event = addon.message_event(message_id, path="/gmail/actions/create_contact", state=state)
    response = addon.post("/gmail/actions/create_contact", event=event)

    assert response.json["renderActions"]["action"]["notification"]["text"].startswith(
        "Contact created"
    )
    assert db.session.scalar(
        select(Contact.id).join(ContactEmail).where(
            ContactEmail.email_normalized == "bob@unknown.example")
    )  # fmt: skip
    assert "Not in CRM" not in texts(rendered(response))


def test_create_deal_linked_to_the_parties(addon, org, rep, gmail_api):
    ada, _, _, message_id = _scene(org, gmail_api, rep)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    _, state = button_state(card, "Create deal")

    event = addon.message_event(message_id, path="/gmail/actions/create_deal", state=state,
                                form={"record_name": "Second engine"})  # fmt: skip
    result = rendered(addon.post("/gmail/actions/create_deal", event=event))

    assert result["header"]["title"] == "Deal created"
    deal = db.session.scalar(select(Deal).where(Deal.name == "Second engine"))
    assert deal.owner_id == rep.id
    missing = addon.message_event(message_id, path="/gmail/actions/create_deal", state=state)
    assert "Give the deal a name first." in texts(
        rendered(addon.post("/gmail/actions/create_deal", event=missing))
    )


def test_state_for_one_button_is_refused_by_another(addon, org, rep, gmail_api):
    _, _, _, message_id = _scene(org, gmail_api, rep)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    _, state = button_state(card, "Create deal")

    event = addon.message_event(message_id, path="/gmail/actions/log", state=state)
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert "does not fit this button" in " ".join(texts(result))


def test_log_with_the_chosen_privacy_level(addon, org, rep, gmail_api):
    make_contact(org, "ada@client.example")
    mime = make_mime("ada@client.example", [USER_EMAIL], "Private matter")
    message_id = gmail_api.add_message(mime)
    card = pushed(addon.post("/gmail/message", event=addon.message_event(message_id)))
    [privacy] = [w["selectionInput"] for w in widgets(card)
                 if w.get("selectionInput", {}).get("name") == "privacy"]  # fmt: skip
    assert privacy["type"] == "DROPDOWN"
    assert [i["value"] for i in privacy["items"]] == ["full", "subject", "metadata"]
    _, state = button_state(card, "Log this email")

    event = addon.message_event(message_id, path="/gmail/actions/log", state=state,
                                form={"privacy": "subject"})  # fmt: skip
    result = rendered(addon.post("/gmail/actions/log", event=event))

    assert result["header"]["title"] == "Logged"
    assert db.session.scalar(select(LoggedEmail.privacy)) == "subject"
