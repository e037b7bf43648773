"""The compose card's "Insert a template" (BULK-2, ONE-1): a dropdown of the templates the rep
sees; the button answers Gmail draft actions putting the template, rendered for the first To
recipient, at the cursor, and its subject when the draft has none."""

from __future__ import annotations

from factories import make_company, make_contact, make_user

from server.bulk.models import EmailTemplate
from server.extensions import db

from .conftest import button_state, pushed, rendered, texts, widgets

HTML = '<p>Hi {{ first_name | default("there") }} from {{ company | default("nowhere") }}</p>'


def seed(org, owner, name="Intro", shared=False, **fields) -> EmailTemplate:
    fields.setdefault("subject", "Hello {{ first_name | default('there') }}")
    fields.setdefault("html", HTML)
    template = EmailTemplate(org_id=org.id, owner_id=owner.id, name=name, name_key=name.lower(),
                             shared=shared, **fields)  # fmt: skip
    db.session.add(template)
    db.session.commit()
    return template


def dropdown(card: dict) -> list[dict]:
    [found] = [w["selectionInput"] for w in widgets(card)
               if w.get("selectionInput", {}).get("name") == "template"]  # fmt: skip
    return found["items"]


def insert(addon, card, to, template_id, subject=""):
    _, state = button_state(card, "Insert a template")
    event = addon.compose_event(to, path="/gmail/actions/insert_template", state=state,
                                form={"template": str(template_id)})  # fmt: skip
    event["gmail"]["subject"] = subject
    return addon.post("/gmail/actions/insert_template", event=event)


def markup_of(response) -> dict:
    assert response.status_code == 200, response.data
    return response.json["renderActions"]["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"]


def test_the_card_lists_the_reps_and_the_shared_templates(addon, org, rep):
    colleague = make_user(org)
    seed(org, rep, "Mine")
    seed(org, colleague, "Shared one", shared=True)
    seed(org, colleague, "Their private")

    card = pushed(addon.post("/gmail/compose", event=addon.compose_event(["x@client.example"])))

    assert [i["text"] for i in dropdown(card)] == ["Mine", "Shared one"]
    assert "Insert a template" in texts(card)


def test_insert_renders_for_the_first_recipient_at_the_cursor_with_the_subject(addon, org, rep):
    company = make_company(org, name="Client Co")
    make_contact(org, "ada@client.example", first_name="Ada", company=company)
    template = seed(org, rep)
    card = pushed(addon.post("/gmail/compose", event=addon.compose_event(["ada@client.example"])))

    markup = markup_of(
        insert(addon, card, ["ada@client.example", "bo@client.example"], template.id)
    )

    assert markup["updateBody"] == {
        "insertContents": [{"content": "<p>Hi Ada from Client Co</p>",
                            "contentType": "MUTABLE_HTML"}],
        "type": "IN_PLACE_INSERT",
    }  # fmt: skip
    assert markup["updateSubject"] == {"subject": "Hello Ada"}


def test_a_draft_with_a_subject_keeps_it_and_an_unknown_recipient_gets_the_fallbacks(
    addon, org, rep
):
    template = seed(org, rep)
    card = pushed(addon.post("/gmail/compose", event=addon.compose_event(["new@client.example"])))

    markup = markup_of(insert(addon, card, ["new@client.example"], template.id, subject="Ours"))

    [content] = markup["updateBody"]["insertContents"]
    assert content["content"] == "<p>Hi there from nowhere</p>"
    assert "updateSubject" not in markup


def test_a_text_only_template_is_inserted_as_text(addon, org, rep):
    template = seed(org, rep, html="", text="Dear {{ first_name | default('you') }}")
    card = pushed(addon.post("/gmail/compose", event=addon.compose_event([])))

    markup = markup_of(insert(addon, card, [], template.id))

    assert markup["updateBody"]["insertContents"] == [
        {"content": "Dear you", "contentType": "TEXT"}
    ]


def test_someone_elses_private_template_answers_a_card_not_a_draft(addon, org, rep):
    seed(org, rep, "Mine")
    hidden = seed(org, make_user(org), "Hidden")
    card = pushed(addon.post("/gmail/compose", event=addon.compose_event(["a@client.example"])))

    answer = rendered(insert(addon, card, ["a@client.example"], hidden.id))

    assert "No such template." in texts(answer)


def test_without_templates_the_card_says_so(addon, org, rep):
    card = pushed(addon.post("/gmail/compose", event=addon.compose_event(["a@client.example"])))

    assert "No templates yet." in texts(card)
    assert "Insert a template" not in texts(card)
