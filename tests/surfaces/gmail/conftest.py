"""The Gmail add-on under test: the app points at the fake OpenID issuer (Google's certificates)
and the fake Gmail API; `addon.post(path, ...)` sends an event shaped like Google's, signed like
Google signs it (a system ID token for the endpoint from the add-on's service account, and the
user's ID token in the event)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from factories import make_org, make_user
from fakes.gmail_api import FakeGmail
from fakes.oidc import DROP

BASE = "https://liaison.example"
SERVICE_ACCOUNT = "service-4242@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
USER_EMAIL = "grace@initech.example"
OAUTH_TOKEN = "ya29.user-addon-token"
MESSAGE_TOKEN = "msg-access-token"


@pytest.fixture
def gmail_api():
    gmail = FakeGmail(tokens={OAUTH_TOKEN}).start()
    gmail.message_tokens = {MESSAGE_TOKEN}
    yield gmail
    gmail.stop()


@pytest.fixture
def org(app):
    return make_org("Initech", domain="initech.example")


@pytest.fixture
def rep(org):
    return make_user(org, email=USER_EMAIL, name="Grace Hopper")


class AddonClient:
    """Posts add-on events the way Google does."""

    def __init__(self, client, oidc, gmail) -> None:
        self.client, self.oidc, self.gmail = client, oidc, gmail

    def system_token(self, path: str, email: str = SERVICE_ACCOUNT, **overrides) -> str:
        overrides.setdefault("aud", BASE + path)
        return self.oidc.google_token(email, hd=DROP, name=DROP, **overrides)

    def user_token(self, path: str, email: str = USER_EMAIL, **overrides) -> str:
        return self.oidc.google_token(email, aud=BASE + path, **overrides)

    def event(self, path: str, gmail: dict | None = None, form: dict | None = None,
              state: str | None = None, user_token: str | None = None) -> dict:  # fmt: skip
        common = {"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en",
                  "timeZone": {"id": "Europe/Berlin", "offset": 3600000}}  # fmt: skip
        if form:
            common["formInputs"] = {
                name: {"stringInputs": {"value": values if isinstance(values, list) else [values]}}
                for name, values in form.items()
            }
        if state:
            common["parameters"] = {"state": state}
        event = {
            "commonEventObject": common,
            "authorizationEventObject": {
                "userOAuthToken": OAUTH_TOKEN,
                "userIdToken": user_token or self.user_token(path),
                "systemIdToken": self.system_token(path),
            },
        }
        if gmail is not None:
            event["gmail"] = gmail
        return event

    def post(self, path: str, event: dict | None = None, token: str | None = None, **kwargs):
        event = event if event is not None else self.event(path, **kwargs)
        authorization = token if token is not None else self.system_token(path)
        headers = {"Authorization": f"Bearer {authorization}"} if authorization else {}
        return self.client.post(path, json=event, headers=headers)

    def message_event(self, message_id: str, path: str = "/gmail/message", **kwargs) -> dict:
        gmail = {"messageId": message_id, "threadId": message_id, "accessToken": MESSAGE_TOKEN}
        return self.event(path, gmail=gmail, **kwargs)

    def compose_event(self, to: list[str], cc=(), bcc=(), path="/gmail/compose", **kwargs):
        gmail = {"toRecipients": list(to), "ccRecipients": list(cc), "bccRecipients": list(bcc)}
        return self.event(path, gmail=gmail, **kwargs)


@pytest.fixture
def addon(app, client, oidc, gmail_api):
    settings = {
        "GMAIL_ADDON_SERVICE_ACCOUNT": SERVICE_ACCOUNT,
        "GMAIL_ADDON_AUDIENCE_BASE": BASE,
        "GMAIL_DISCOVERY_URL": gmail_api.discovery_url,
    }
    saved = {name: app.config.get(name) for name in settings}
    app.config.update(settings)
    app.extensions.pop("liaison.gmail_addon_service", None)
    yield AddonClient(client, oidc, gmail_api)
    app.config.update(saved)
    app.extensions.pop("liaison.gmail_addon_service", None)


def make_mime(sender: str, to: list[str], subject: str, cc: list[str] = (), body: str = "Hi",
              message_id: str | None = None) -> bytes:  # fmt: skip
    """A plain multipart message as it would sit in a Gmail mailbox."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC))
    message["Message-ID"] = message_id or make_msgid(domain="mail.example")
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    return message.as_bytes()


def widgets(card: dict) -> list[dict]:
    """Every widget of a card, in order."""
    return [w for s in card["sections"] for w in s["widgets"]]


def texts(card: dict) -> list[str]:
    """Every visible text of a card (lines, labels, paragraphs, buttons, items)."""
    found = [card["header"]["title"], card["header"].get("subtitle", "")]
    for widget in widgets(card):
        for kind, body in widget.items():
            if kind == "decoratedText":
                found += [body.get("topLabel", ""), body["text"], body.get("bottomLabel", "")]
                if "button" in body:
                    found.append(body["button"]["text"])
            elif kind == "textParagraph":
                found.append(body["text"])
            elif kind == "buttonList":
                found += [b["text"] for b in body["buttons"]]
            elif kind == "selectionInput":
                found += [body["label"]] + [i["text"] for i in body["items"]]
            elif kind == "textInput":
                found.append(body["label"])
    return [t for t in found if t]


def pushed(response) -> dict:
    """The card a trigger pushed."""
    assert response.status_code == 200, response.data
    [navigation] = response.json["action"]["navigations"]
    return navigation["pushCard"]


def rendered(response) -> dict:
    """The card a button answered with (pushCard or updateCard)."""
    assert response.status_code == 200, response.data
    [navigation] = response.json["renderActions"]["action"]["navigations"]
    return navigation.get("pushCard") or navigation["updateCard"]


def button_state(card: dict, text: str) -> tuple[str, str]:
    """(function URL, signed state) of the button labelled `text`."""
    for widget in widgets(card):
        candidates = list((widget.get("buttonList") or {}).get("buttons") or [])
        if "button" in (widget.get("decoratedText") or {}):
            candidates.append(widget["decoratedText"]["button"])
        for button in candidates:
            if button["text"] == text:
                action = button["onClick"]["action"]
                params = {p["key"]: p["value"] for p in action["parameters"]}
                return action["function"], params["state"]
    raise AssertionError(f"no button {text!r} in {texts(card)}")
