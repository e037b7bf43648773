"""The compose card: each recipient's legal-basis status with the GDPR prompt when the gate asks
for one (GDPR-1..3), the Log and Track toggles preset from the effective settings (ADM-2; a
locked one is shown as such; Track disabled with the tracking service's reason, TRK-10), and
Apply, which answers Gmail draft actions: the user's logging address in Bcc when Log is on, the
tracking pixel at the end of the body when Track is on. Every decision is re-made on Apply.
"Insert a template" puts a template rendered for the first To recipient at the cursor (BULK-2).
"""

from __future__ import annotations

from typing import Any

from ...bulk.templates import list_templates, render_for
from ...consent.gate import check_recipients
from ...consent.service import give_one_time_basis, set_subscription
from ...errors import ValidationFailed
from ...fields import MAX_ID
from ...mail.inbound_addresses import is_ours, logging_address
from ...orgs.models import User
from ...orgs.settings import effective_settings
from . import contracts
from .cards import (
    COMPOSE_LIMITS,
    button,
    buttons,
    card,
    decorated,
    draft_update,
    paragraph,
    section,
    selection,
    switch,
    text_input,
)
from .state import sign_state

TEMPLATES_SHOWN = 100
PIXEL = '<img src="{url}" width="1" height="1" alt="" style="display:none;border:0">'


def draft_recipients(event: dict) -> tuple[list[str], list[str]]:
    """(To + Cc + Bcc other than our addresses, the draft's Bcc as it is) from the event."""
    gmail = event.get("gmail") or {}
    lists = {
        k: [str(a).strip() for a in gmail.get(k) or [] if str(a).strip()]
        for k in ("toRecipients", "ccRecipients", "bccRecipients")
    }
    everyone = lists["toRecipients"] + lists["ccRecipients"] + lists["bccRecipients"]
    people = list(dict.fromkeys(a for a in everyone if not is_ours(a)))
    return people, lists["bccRecipients"]


def choices(user: User, recipients: list[str]) -> dict[str, Any]:
    """What the services decide for this draft: consent per recipient, Log and Track."""
    settings = effective_settings(user)
    log = dict(settings["log_by_default"])
    options = contracts.tracking_options(user, recipients, "html")
    if options is None:
        track = {
            "value": False,
            "locked": True,
            "allowed": False,
            "reason": "Email tracking is not available on this server yet.",
        }
    else:
        track = dict(options["track"])
    decisions = check_recipients(user.org_id, recipients, "commercial") if recipients else {}
    return {"log": log, "track": track, "consent": decisions}


def _toggle(name: str, label: str, choice: dict) -> dict:
    if choice.get("allowed", True) is False:
        return decorated(f"{label}: off", bottom=choice.get("reason") or "Not allowed.")
    if choice["locked"]:
        state = "on" if choice["value"] else "off"
        return decorated(f"{label}: {state}", bottom="Set by your administrator for everyone.")
    return switch(name, label, bool(choice["value"]))


def _consent_widgets(user: User, address: str, decision, recipients: list[str]) -> list[dict]:
    if decision.status == "allowed":
        return [decorated(address, top="Legal basis: OK")]
    if decision.status == "refused":
        return [decorated(address, top="Cannot be emailed", bottom=decision.reason)]
    if decision.contact_id is None:
        create = sign_state(user, kind="create_contact", email=address, name="")
        return [
            decorated(
                address,
                top="Needs a legal basis",
                bottom="Not in CRM: create the contact, then give a legal basis.",
            ),
            buttons(button("Create contact", "/gmail/actions/create_contact", create)),
        ]
    state = sign_state(
        user,
        kind="consent",
        contact=decision.contact_id,
        address=address,
        options=decision.options,
        transactional=decision.transactional_only,
        recipients=recipients,
    )
    labels = {
        "subscription": "Subscribe to one-to-one email (lasting)",
        "one_time": "One-time basis for this email (give the reason)",
    }
    items = [
        {"text": labels[o], "value": o, "selected": i == 0} for i, o in enumerate(decision.options)
    ]
    only = " (transactional only)" if decision.transactional_only else ""
    return [
        decorated(address, top=f"Needs a legal basis{only}"),
        selection(f"basis_{decision.contact_id}", "Legal basis", items, kind="DROPDOWN"),
        text_input(
            f"reason_{decision.contact_id}",
            "Reason (for a one-time basis)",
            hint="e.g. sending the signed contract",
        ),
        buttons(button("Record legal basis", "/gmail/actions/consent", state)),
    ]


def compose_card(user: User, event: dict) -> dict:
    """The compose card for the draft in the event."""
    recipients, _ = draft_recipients(event)
    decided = choices(user, recipients)
    consent = []
    for address in recipients:
        consent += _consent_widgets(user, address, decided["consent"][address], recipients)
    apply_state = sign_state(user, kind="apply")
    toggles = [
        _toggle("log", "Log", decided["log"]),
        _toggle("track", "Track", decided["track"]),
        buttons(button("Apply", "/gmail/actions/apply", apply_state)),
        paragraph(COMPOSE_LIMITS),
    ]
    return card(
        "Liaison",
        [
            section(
                consent or [decorated("Add recipients to check their legal basis.")],
                header="Recipients",
            ),
            section(toggles, header="This email"),
            section(_template_widgets(user), header="Templates"),
        ],
    )


def _template_widgets(user: User) -> list[dict]:
    """A dropdown of the templates the rep sees and "Insert a template" (BULK-2, ONE-1)."""
    found = list_templates(user, limit=TEMPLATES_SHOWN)["items"]
    if not found:
        return [decorated("No templates yet.", bottom="Create them in Liaison's web app or API.")]
    items = [{"text": t.name, "value": str(t.id), "selected": i == 0} for i, t in enumerate(found)]
    return [
        selection("template", "Template", items, kind="DROPDOWN"),
        buttons(button("Insert a template", "/gmail/actions/insert_template",
                       sign_state(user, kind="insert_template"))),
    ]  # fmt: skip


def insert_template(user: User, event: dict, form: dict[str, list[str]]) -> dict:
    """Draft actions putting the chosen template, rendered for the first To recipient, at the
    cursor (Gmail's IN_PLACE_INSERT), and its subject when the draft has none."""
    chosen = (form.get("template") or [""])[0].strip()
    if not chosen.isdigit() or not 0 < int(chosen) <= MAX_ID:
        raise ValidationFailed("Choose a template first.", field="template")
    gmail = event.get("gmail") or {}
    first = next((str(a).strip() for a in gmail.get("toRecipients") or [] if str(a).strip()), None)
    rendered = render_for(user, int(chosen), to=first)
    markup: dict[str, Any] = {}
    if rendered["html"]:
        content = {"content": rendered["html"], "contentType": "MUTABLE_HTML"}
    else:
        content = {"content": rendered["text"] or "", "contentType": "TEXT"}
    markup["updateBody"] = {"insertContents": [content], "type": "IN_PLACE_INSERT"}
    if not str(gmail.get("subject") or "").strip() and rendered["subject"]:
        markup["updateSubject"] = {"subject": rendered["subject"]}
    return {
        "renderActions": {"hostAppAction": {"gmailAction": {"updateDraftActionMarkup": markup}}}
    }


def _wanted(choice: dict, form_on: bool) -> bool:
    if choice.get("allowed", True) is False:
        return False
    return bool(choice["value"]) if choice["locked"] else form_on


def apply_to_draft(user: User, event: dict, form: dict[str, list[str]]) -> dict:
    """The draft actions for Apply, or a card saying what still blocks the email."""
    recipients, bcc = draft_recipients(event)
    decided = choices(user, recipients)
    blocked = [a for a, d in decided["consent"].items() if d.status != "allowed"]
    if blocked:
        return {"blocked": blocked}
    log = _wanted(decided["log"], "on" in form.get("log", []))
    track = _wanted(decided["track"], "on" in form.get("track", []))
    new_bcc = None
    if log:
        address = logging_address(user.id)
        new_bcc = list(dict.fromkeys([*bcc, address]))
    html = None
    if track:
        subject = (event.get("gmail") or {}).get("subject")
        prepared = contracts.prepare_pixel(user, recipients, subject)
        if prepared and prepared.get("pixel_url"):
            html = PIXEL.format(url=prepared["pixel_url"])
    if new_bcc is None and html is None:
        return {"nothing": True}
    return {"draft": draft_update(new_bcc, html)}


def record_basis(user: User, state: dict, form: dict[str, list[str]]) -> str:
    """Record the legal basis the rep chose (GDPR-2); the confirmation line."""
    contact_id = int(state["contact"])
    chosen = (form.get(f"basis_{contact_id}") or [state["options"][0]])[0]
    if chosen not in state["options"]:
        raise ValidationFailed("Choose one of the offered legal bases.", field="basis")
    if chosen == "subscription":
        set_subscription(user.org_id, user.id, contact_id, "one_to_one", "subscribed", "gmail")
        return f"{state['address']} is subscribed to one-to-one email."
    reason = " ".join((form.get(f"reason_{contact_id}") or [""])[0].split())
    purpose = "transactional" if state.get("transactional") else "commercial"
    give_one_time_basis(user.org_id, user.id, contact_id, reason, purpose, "gmail")
    return f"One-time legal basis recorded for {state['address']}."
