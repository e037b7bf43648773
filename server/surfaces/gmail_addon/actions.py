"""What the add-on's buttons do. Each handler takes the verified user, the event and the state
that was signed into the button, calls the services and answers a card or draft actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import NotFound, ValidationFailed
from ...orgs.models import User
from ...records.associations import create_association
from ...records.service import create_contact, create_record
from .cards import card, decorated, paragraph, render, section
from .compose import apply_to_draft, compose_card, insert_template, record_basis
from .homepage import search_card
from .message import log_open_message, message_card
from .state import read_state


def form_inputs(event: dict) -> dict[str, list[str]]:
    """commonEventObject.formInputs as {name: [values]}."""
    inputs = (event.get("commonEventObject") or {}).get("formInputs") or {}
    found: dict[str, list[str]] = {}
    for name, value in inputs.items() if isinstance(inputs, dict) else ():
        strings = ((value or {}).get("stringInputs") or {}).get("value") or []
        found[str(name)] = [str(v) for v in strings if isinstance(v, (str, int))]
    return found


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _context_card(user: User, event: dict) -> dict:
    """The card to show again after a change: the message's, else the draft's."""
    if (event.get("gmail") or {}).get("messageId"):
        return message_card(user, event)
    return compose_card(user, event)


def search(user: User, event: dict, state: dict, form: dict) -> dict:
    return render(search_card(user, _one(form, "q")), how="pushCard")


def new_contact(user: User, event: dict, state: dict, form: dict) -> dict:
    name = " ".join(str(state.get("name") or "").split())
    first, _, last = name.partition(" ")
    contact = create_contact(
        user, {"emails": [state["email"]], "first_name": first[:100], "last_name": last[:100]}
    )
    label = f"{contact.first_name} {contact.last_name}".strip() or state["email"]
    return render(_context_card(user, event), notification=f"Contact created: {label}")


def _new_record(kind: str) -> Callable[..., dict]:
    def handler(user: User, event: dict, state: dict, form: dict) -> dict:
        name = _one(form, "record_name")
        if not name:
            raise ValidationFailed(f"Give the {kind} a name first.", field="record_name")
        field = "name" if kind == "deal" else "subject"
        record = create_record(user, kind, {field: name[:200]})
        for contact_id in state.get("contacts") or []:
            create_association(user, "contact", int(contact_id), kind, record.id)
        linked = len(state.get("contacts") or [])
        lines = [
            f"{kind.capitalize()} “{name}” created"
            + (f" and linked to {linked} contact(s)." if linked else ".")
        ]
        return render(
            card(f"{kind.capitalize()} created", [section([paragraph(lines[0])])]), how="pushCard"
        )

    return handler


def log(user: User, event: dict, state: dict, form: dict) -> dict:
    privacy = _one(form, "privacy") or None
    result = log_open_message(user, event, state, form.get("associate", []), privacy)
    return render(result, how="pushCard")


def apply(user: User, event: dict, state: dict, form: dict) -> dict:
    outcome = apply_to_draft(user, event, form)
    if "draft" in outcome:
        return outcome["draft"]
    if "blocked" in outcome:
        lines = [
            "Nothing was changed: these recipients still need a legal basis:",
            ", ".join(outcome["blocked"]),
        ]
    else:
        lines = ["Nothing to add: Log and Track are both off."]
    return render(card("Liaison", [section([decorated(line) for line in lines])]), how="pushCard")


def template(user: User, event: dict, state: dict, form: dict) -> dict:
    return insert_template(user, event, form)


def consent(user: User, event: dict, state: dict, form: dict) -> dict:
    done = record_basis(user, state, form)
    return render(compose_card(user, event), notification=done)


HANDLERS: dict[str, tuple[str, Callable[..., dict]]] = {
    "search": ("search", search),
    "create_contact": ("create_contact", new_contact),
    "create_deal": ("create_record", _new_record("deal")),
    "create_ticket": ("create_record", _new_record("ticket")),
    "log": ("log", log),
    "apply": ("apply", apply),
    "consent": ("consent", consent),
    "insert_template": ("insert_template", template),
}


def run_action(name: str, user: User, event: dict) -> dict[str, Any]:
    """Run the button `name` with its signed state (checked for this user and this button)."""
    if name not in HANDLERS:
        raise NotFound("This button is not known to Liaison.", field="action")
    kind, handler = HANDLERS[name]
    parameters = (event.get("commonEventObject") or {}).get("parameters") or {}
    state = read_state(parameters.get("state") if isinstance(parameters, dict) else None, user)
    if state.pop("kind", None) != kind:
        raise ValidationFailed("This card's data does not fit this button.", field="state")
    return handler(user, event, state, form_inputs(event))
