"""The homepage card: recent tracked emails with their status, unread notifications (TRK-5,
TRK-6) and a contact search that answers a results card (REC-3)."""

from __future__ import annotations

from factories import make_contact, make_org

from server.extensions import db
from server.notifications.service import notify

from .conftest import button_state, pushed, rendered, texts


def test_homepage_has_tracked_emails_notifications_and_search(addon, org, rep):
    notify(org.id, rep.id, "tracking.open", "Ada opened “Our offer”", "2 minutes ago")
    db.session.commit()

    card = pushed(addon.post("/gmail/homepage"))

    headers = [s.get("header") for s in card["sections"]]
    assert headers == ["My tracked emails", "Notifications", "Contacts"]
    shown = texts(card)
    assert "1 unread" in shown
    assert "Ada opened “Our offer”" in shown
    assert "Find a contact" in shown
    function, _ = button_state(card, "Search")
    assert function == "https://liaison.example/gmail/actions/search"


def test_search_finds_contacts_of_my_org_only(addon, org, rep):
    make_contact(org, "ada@client.example", first_name="Ada", last_name="Lovelace")
    make_contact(make_org("Other"), "ada@other.example", first_name="Ada", last_name="Other")
    card = pushed(addon.post("/gmail/homepage"))
    _, state = button_state(card, "Search")

    event = addon.event("/gmail/actions/search", state=state, form={"q": "ada"})
    result = rendered(addon.post("/gmail/actions/search", event=event))

    shown = texts(result)
    assert "Ada Lovelace" in shown and "ada@client.example" in shown
    assert "Ada Other" not in shown


def test_search_with_nothing_found_says_so(addon, org, rep):
    card = pushed(addon.post("/gmail/homepage"))
    _, state = button_state(card, "Search")

    event = addon.event("/gmail/actions/search", state=state, form={"q": "zebra"})

    assert "No contact matches “zebra”." in texts(rendered(addon.post("/gmail/actions/search",
                                                                       event=event)))  # fmt: skip


def test_state_signed_for_another_user_is_refused(addon, org, rep):
    card = pushed(addon.post("/gmail/homepage"))
    _, state = button_state(card, "Search")
    other = addon.user_token("/gmail/actions/search", email="linus@initech.example")

    event = addon.event("/gmail/actions/search", state=state, form={"q": "ada"}, user_token=other)
    result = rendered(addon.post("/gmail/actions/search", event=event))

    assert "made for another user" in " ".join(texts(result))


def test_unknown_action_renders_a_card(addon, org, rep):
    response = addon.post("/gmail/actions/nope")

    assert "This button is not known to Liaison." in texts(rendered(response))
