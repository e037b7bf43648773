"""Card v1 JSON for Gmail's HTTP runtime, built from views the actions gather from the services.

Nothing here decides anything: what is ticked, locked, allowed or refused (and why) arrives in
the view. Responses: a trigger answers `{"action": {"navigations": [{"pushCard": card}]}}`, a
button `{"renderActions": {"action": ...}}`, and compose's Apply a Gmail draft action
(`renderActions.hostAppAction.gmailAction.updateDraftActionMarkup`).
"""

from __future__ import annotations

from typing import Any

from .auth import audience_for

ADDON_NAME = "Liaison"
COMPOSE_LIMITS = (
    "Gmail lets an add-on change a draft only when you press Apply: Liaison then adds your logging "
    "address to Bcc and, when Track is on, puts the tracking pixel at the end of the message. It "
    "cannot rewrite links when you press Send, so clicks on links are not tracked from Gmail; the "
    "Bcc copy logs the email as sent, links included."
)

# --- widgets ------------------------------------------------------------------------------------


def card(title: str, sections: list[dict], subtitle: str | None = None) -> dict:
    """A card with a header and its sections."""
    header = {"title": title}
    if subtitle:
        header["subtitle"] = subtitle
    return {"header": header, "sections": [s for s in sections if s["widgets"]]}


def section(widgets: list[dict], header: str | None = None) -> dict:
    """A section of widgets, optionally titled."""
    return {"header": header, "widgets": widgets} if header else {"widgets": widgets}


def paragraph(text: str) -> dict:
    return {"textParagraph": {"text": text}}


def decorated(text: str, top: str | None = None, bottom: str | None = None, **extra: Any) -> dict:
    """A line of text with an optional label above and below (and a button or switch)."""
    widget: dict[str, Any] = {"text": text, "wrapText": True}
    if top:
        widget["topLabel"] = top
    if bottom:
        widget["bottomLabel"] = bottom
    widget.update(extra)
    return {"decoratedText": widget}


def action(path: str, state: str | None = None) -> dict:
    """An action posting back to one of our endpoints, with its signed state."""
    parameters = [{"key": "state", "value": state}] if state else []
    return {"action": {"function": audience_for(path), "parameters": parameters}}


def button(text: str, path: str, state: str | None = None, disabled: bool = False) -> dict:
    widget: dict[str, Any] = {"text": text, "onClick": action(path, state)}
    if disabled:
        widget["disabled"] = True
    return widget


def buttons(*items: dict) -> dict:
    return {"buttonList": {"buttons": list(items)}}


def text_input(name: str, label: str, hint: str | None = None, multiline: bool = False) -> dict:
    widget = {"name": name, "label": label, "type": "MULTIPLE_LINE" if multiline else "SINGLE_LINE"}
    if hint:
        widget["hintText"] = hint
    return {"textInput": widget}


def selection(name: str, label: str, items: list[dict], kind: str = "CHECK_BOX") -> dict:
    """Checkboxes (CHECK_BOX) or a DROPDOWN; items {"text", "value", "selected"}."""
    return {"selectionInput": {"name": name, "label": label, "type": kind, "items": items}}


def switch(name: str, text: str, selected: bool, bottom: str | None = None) -> dict:
    control = {"name": name, "value": "on", "selected": selected, "controlType": "SWITCH"}
    return decorated(text, bottom=bottom, switchControl=control)


# --- responses ----------------------------------------------------------------------------------


def push(card_json: dict) -> dict:
    """The answer to a trigger (homepage, message, compose)."""
    return {"action": {"navigations": [{"pushCard": card_json}]}}


def render(card_json: dict, how: str = "updateCard", notification: str | None = None) -> dict:
    """The answer to a button: replace (updateCard) or stack (pushCard) a card."""
    answer: dict[str, Any] = {"navigations": [{how: card_json}]}
    if notification:
        answer["notification"] = {"text": notification}
    return {"renderActions": {"action": answer}}


def draft_update(bcc: list[str] | None, html: str | None) -> dict:
    """Gmail draft actions: the Bcc list (it replaces the draft's) and HTML put at the end."""
    markup: dict[str, Any] = {}
    if bcc is not None:
        markup["updateBccRecipients"] = {"bccRecipients": [{"email": a} for a in bcc]}
    if html:
        markup["updateBody"] = {
            "insertContents": [{"content": html, "contentType": "IMMUTABLE_HTML"}],
            "type": "INSERT_AT_END",
        }
    return {
        "renderActions": {"hostAppAction": {"gmailAction": {"updateDraftActionMarkup": markup}}}
    }


def error_card(message: str) -> dict:
    """The short card every failure renders."""
    return card(ADDON_NAME, [section([decorated(message, top="Something went wrong")])])


def result_card(title: str, lines: list[str]) -> dict:
    return card(title, [section([paragraph(line) for line in lines])])


def status_line(status: dict) -> str:
    """A tracked email's status as the tracking service reports it (TRK-5), in one line."""
    parts = [str(status.get("state") or "sent").capitalize()]
    opens = (status.get("opens") or {}).get("human") or 0
    clicks = (status.get("clicks") or {}).get("human") or 0
    if opens:
        parts.append(f"{opens} open(s)")
    if clicks:
        parts.append(f"{clicks} click(s)")
    return " · ".join(parts)


def unavailable(what: str) -> dict:
    """An honest line for a part this server does not offer yet."""
    return decorated(f"{what} is not available on this server yet.", top=what)
