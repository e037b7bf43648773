"""The compose card: recipients' legal-basis status and the GDPR prompt (GDPR-1..3), Log and
Track preset from the effective settings with locks shown (ADM-2) and Track's reason (TRK-10),
and Apply answering Gmail draft actions: the logging address in Bcc, the pixel at the end."""

from __future__ import annotations

from factories import make_contact
from sqlalchemy import select

from server.consent.models import OneTimeBasis
from server.extensions import db
from server.mail.inbound_addresses import logging_address
from server.orgs.settings import set_org_settings

try:  # the tracking service gives Track's reason; without it the card says it is not offered
    from server.tracking.service import NO_CONTACT
except ImportError:  # pragma: no cover - tracking not installed in this checkout
    NO_CONTACT = None

from .conftest import button_state, pushed, rendered, texts, widgets


def switches(card: dict) -> dict[str, bool]:
    controls = [w["decoratedText"].get("switchControl") for w in widgets(card)
                if "decoratedText" in w]  # fmt: skip
    return {c["name"]: c["selected"] for c in controls if c}


def compose(addon, to, **kwargs) -> dict:
    return pushed(addon.post("/gmail/compose", event=addon.compose_event(to, **kwargs)))


def apply(addon, card, to, form=None, **kwargs):
    _, state = button_state(card, "Apply")
    event = addon.compose_event(to, path="/gmail/actions/apply", state=state, form=form, **kwargs)
    return addon.post("/gmail/actions/apply", event=event)


def test_toggles_preset_from_the_effective_settings(addon, org, rep):
    make_contact(org, "ada@client.example")

    card = compose(addon, ["ada@client.example"])

    assert switches(card)["log"] is True  # log_by_default's declared default
    assert "Legal basis: OK" in texts(card)
    assert any("cannot rewrite links" in t for t in texts(card))


def test_locked_log_is_shown_as_set_by_the_admin(addon, org, rep):
    set_org_settings(None, {"apply_default_log": True, "log_by_default": True}, org_id=org.id)

    card = compose(addon, ["ada@client.example"])

    assert "log" not in switches(card)
    assert "Log: on" in texts(card)
    assert "Set by your administrator for everyone." in texts(card)


def test_track_is_disabled_with_the_reason(addon, org, rep):
    card = compose(addon, ["nobody@client.example"])  # no contact: never tracked (TRK-10)

    assert "track" not in switches(card)
    assert "Track: off" in texts(card)
    if NO_CONTACT:
        assert f"nobody@client.example: {NO_CONTACT}" in texts(card)
    else:  # pragma: no cover
        assert "Email tracking is not available on this server yet." in texts(card)


def test_apply_adds_the_logging_address_to_the_existing_bcc(addon, org, rep):
    make_contact(org, "ada@client.example")
    card = compose(addon, ["ada@client.example"], bcc=["boss@initech.example"])

    response = apply(addon, card, ["ada@client.example"], form={"log": "on"},
                     bcc=["boss@initech.example"])  # fmt: skip

    assert response.status_code == 200
    markup = response.json["renderActions"]["hostAppAction"]["gmailAction"][
        "updateDraftActionMarkup"]  # fmt: skip
    assert markup["updateBccRecipients"] == {"bccRecipients": [
        {"email": "boss@initech.example"}, {"email": logging_address(rep.id)}]}  # fmt: skip
    assert "updateBody" not in markup


def test_apply_inserts_the_tracking_pixel_at_the_end(addon, org, rep):
    make_contact(org, "ada@client.example")
    card = compose(addon, ["ada@client.example"])
    if NO_CONTACT is None:  # pragma: no cover - tracking not offered by this server
        assert "track" not in switches(card)
        return
    assert switches(card)["track"] is True  # track_by_default's declared default

    response = apply(addon, card, ["ada@client.example"], form={"track": "on"})

    markup = response.json["renderActions"]["hostAppAction"]["gmailAction"][
        "updateDraftActionMarkup"]  # fmt: skip
    [content] = markup["updateBody"]["insertContents"]
    assert markup["updateBody"]["type"] == "INSERT_AT_END"
    assert content["contentType"] == "IMMUTABLE_HTML"
    assert content["content"].startswith('<img src="http') and "/t/o/" in content["content"]
    assert "updateBccRecipients" not in markup  # Log was switched off


def test_with_data_privacy_the_prompt_offers_both_bases_and_records_a_one_time_basis(
    addon, org, rep
):
    set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    ada = make_contact(org, "ada@client.example")
    card = compose(addon, ["ada@client.example"])

    assert "Needs a legal basis" in texts(card)
    [basis] = [w["selectionInput"] for w in widgets(card)
               if w.get("selectionInput", {}).get("name") == f"basis_{ada.id}"]  # fmt: skip
    assert [i["value"] for i in basis["items"]] == ["subscription", "one_time"]
    blocked = rendered(apply(addon, card, ["ada@client.example"], form={"log": "on"}))
    assert "ada@client.example" in texts(blocked)

    _, state = button_state(card, "Record legal basis")
    form = {f"basis_{ada.id}": "one_time", f"reason_{ada.id}": "Sending the signed contract"}
    event = addon.compose_event(["ada@client.example"], path="/gmail/actions/consent",
                                state=state, form=form)  # fmt: skip
    response = addon.post("/gmail/actions/consent", event=event)

    assert response.json["renderActions"]["action"]["notification"]["text"] == (
        "One-time legal basis recorded for ada@client.example."
    )
    assert "Legal basis: OK" in texts(rendered(response))
    row = db.session.scalar(select(OneTimeBasis))
    assert (row.contact_id, row.surface) == (ada.id, "gmail")
    assert row.reason == "Sending the signed contract"


def test_a_short_reason_is_refused_with_a_card(addon, org, rep):
    set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    ada = make_contact(org, "ada@client.example")
    card = compose(addon, ["ada@client.example"])
    _, state = button_state(card, "Record legal basis")

    form = {f"basis_{ada.id}": "one_time", f"reason_{ada.id}": "because"}
    event = addon.compose_event(["ada@client.example"], path="/gmail/actions/consent",
                                state=state, form=form)  # fmt: skip
    result = rendered(addon.post("/gmail/actions/consent", event=event))

    assert any("10 characters" in t for t in texts(result))
    assert db.session.scalar(select(OneTimeBasis)) is None


def test_subscription_basis(addon, org, rep):
    set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    ada = make_contact(org, "ada@client.example")
    card = compose(addon, ["ada@client.example"])
    _, state = button_state(card, "Record legal basis")

    event = addon.compose_event(["ada@client.example"], path="/gmail/actions/consent",
                                state=state, form={f"basis_{ada.id}": "subscription"})  # fmt: skip
    response = addon.post("/gmail/actions/consent", event=event)

    assert "subscribed" in response.json["renderActions"]["action"]["notification"]["text"]
    assert "Legal basis: OK" in texts(rendered(response))


def test_a_recipient_not_in_crm_can_be_created_from_compose(addon, org, rep):
    set_org_settings(None, {"data_privacy": True}, org_id=org.id)
    card = compose(addon, ["new@client.example"])
    assert "Not in CRM: create the contact, then give a legal basis." in texts(card)
    _, state = button_state(card, "Create contact")

    event = addon.compose_event(["new@client.example"], path="/gmail/actions/create_contact",
                                state=state)  # fmt: skip
    response = addon.post("/gmail/actions/create_contact", event=event)

    assert response.json["renderActions"]["action"]["notification"]["text"] == (
        "Contact created: new@client.example"
    )
    again = rendered(response)
    assert "Record legal basis" in texts(again)  # now a contact: the GDPR prompt (GDPR-2)
