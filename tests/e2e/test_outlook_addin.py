"""The Outlook add-in in a real browser (UI-1, GDPR-1..3, LOG-2, LOG-4, LOG-5, TRK-1): the pane and
the send handler against the seeded demo server, with Office.js replaced by
tests/e2e/office_emulation.js (served at the configured LIAISON_OFFICE_JS_URL). The pane signs
in with a Microsoft token from the local fake issuer, as Office SSO would hand it over.
Screenshots at 320 and 450 px go to test-output/screenshots/outlook-*."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fakes.oidc import FakeOIDCIssuer
from playwright.sync_api import expect
from sqlalchemy import func, select

from server import create_app
from server.auth.microsoft import reset_jwks_cache
from server.config import Config
from server.emails.models import LoggedEmail
from server.extensions import db
from server.mail.inbound_addresses import logging_address
from server.orgs.models import Organization, User
from server.orgs.settings import set_org_settings
from server.records.models import Association, Contact, ContactEmail, Deal
from server.surfaces.web.seed import seed_demo
from server.surfaces.web.seed_data import DEMO_ORG_NAME, DEMO_TENANT_ID

from .conftest import SCREENSHOTS, WAIT_MS, LiveServer

pytestmark = pytest.mark.e2e

EMULATION = (Path(__file__).parent / "office_emulation.js").read_text()
OFFICE_JS_PATH = "/__emulated__/office.js"
REP_EMAIL = "lena.fischer@northwind.example"
WIDTHS = (320, 450)
BODY = '<p>Hello, see <a href="https://shop.example/offer">the offer</a>.</p>'
# routes other parts of Liaison may not have deployed yet: the add-in degrades on their 404
NOT_YET = ("/api/tracking/prepare", "/api/templates")


class Outlook:
    """The demo server with data privacy on, the fake Microsoft issuer, and a signed-in rep."""

    def __init__(self, server: LiveServer, issuer: FakeOIDCIssuer) -> None:
        self.server, self.issuer, self.url = server, issuer, server.url
        self.app = server.app

    def token(self) -> str:
        """What Office SSO hands the pane for the rep."""
        return self.issuer.ms_token(
            DEMO_TENANT_ID, str(uuid.uuid5(uuid.NAMESPACE_DNS, REP_EMAIL)),
            preferred_username=REP_EMAIL, name="Lena Fischer",
        )  # fmt: skip

    def tracking_deployed(self) -> bool:
        return any(r.rule == "/api/tracking/prepare" for r in self.app.url_map.iter_rules())


@pytest.fixture(scope="module")
def outlook(tmp_path_factory):
    issuer = FakeOIDCIssuer().start()
    # the tables from the models (db.create_all), not the migrations, which trail the models
    # until integration; otherwise what `liaison demo` builds
    instance = tmp_path_factory.mktemp("outlook-demo")
    settings = Config.from_env().as_flask()
    settings.update(DEMO=True, SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'demo.sqlite'}",
                    INSTANCE_PATH=str(instance))  # fmt: skip
    app = create_app(settings)
    with app.app_context():
        db.create_all()
        seeded = seed_demo(db.session)
        db.session.commit()
        _SEEDED.append(db.session.scalar(select(func.max(Contact.id))))
    app.config.update(issuer.app_config())
    reset_jwks_cache(app)
    with app.app_context():
        org_id = db.session.scalar(
            select(Organization.id).where(Organization.name == DEMO_ORG_NAME)
        )
        set_org_settings(None, {"data_privacy": True}, org_id=org_id)
    with LiveServer(app, seeded) as server:
        app.config["OFFICE_JS_URL"] = server.url + OFFICE_JS_PATH
        yield Outlook(server, issuer)
    issuer.stop()


class Pane:
    """One add-in page (task pane, event runtime or dialog) in its own browser context."""

    def __init__(self, browser, outlook: Outlook, width: int, emulation: dict) -> None:
        self.outlook, self.problems = outlook, []
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.set_default_timeout(WAIT_MS)
        self.context.add_init_script(f"window.__officeEmulation = {json.dumps(emulation)};")
        self.page = self.context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("response", self._check)
        self.width = width

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.outlook.url + OFFICE_JS_PATH:
            route.fulfill(body=EMULATION, content_type="text/javascript")
        elif urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            self.problems.append(f"left the machine: {url}")
            route.abort()

    def _check(self, response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and not (response.status == 404 and path in NOT_YET):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str) -> Pane:
        self.page.goto(self.outlook.url + path)
        return self

    def emulation(self) -> dict:
        return self.page.evaluate("JSON.parse(JSON.stringify(window.__officeEmulation))")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"outlook-{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def panes(browser, outlook):
    opened: list[Pane] = []

    def make(width: int, emulation: dict) -> Pane:
        pane = Pane(browser, outlook, width, emulation)
        opened.append(pane)
        return pane

    yield make
    for pane in opened:
        pane.close()


_USED: set[int] = set()
_SEEDED: list[int] = []  # the highest contact id the seed made: later ones are the tests' own


def _unconsented_contacts(app, count: int, with_deal: bool = False) -> list[tuple[int, str, str]]:
    """(id, name, address) of seeded contacts no earlier test here has touched."""
    with app.app_context():
        query = select(Contact).where(Contact.id <= _SEEDED[-1]).order_by(Contact.id.desc())
        if with_deal:
            query = (
                query.join(
                    Association,
                    (Association.a_type == "contact")
                    & (Association.a_id == Contact.id)
                    & (Association.b_type == "deal"),
                )
                .join(Deal, (Deal.id == Association.b_id) & Deal.is_closed.is_(False))
                .distinct()
            )
        found = []
        for contact in db.session.scalars(query):
            if contact.id in _USED or not contact.primary_email:
                continue
            _USED.add(contact.id)
            found.append((contact.id, contact.display_name, contact.primary_email))
            if len(found) == count:
                return found
        raise AssertionError("the demo seed has too few contacts for these tests")


def _rep(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == REP_EMAIL))
        db.session.expunge(user)
        return user


@pytest.mark.parametrize("width", WIDTHS)
def test_compose_flow_from_recipients_to_a_tracked_and_logged_send(outlook, panes, width):
    """Recipients → context → GDPR prompt → basis recorded → send allowed → logging (and the
    tracking pixel when tracking is deployed) applied by the send handler (GDPR-2, LOG-2)."""
    ((known_id, known_name, known_address),) = _unconsented_contacts(outlook.app, 1)
    stranger = f"new.person.{width}@client-{width}.example"
    token = outlook.token()
    emulation = {
        "mode": "compose",
        "user": {"email": REP_EMAIL, "name": "Lena Fischer"},
        "accessToken": token,
        "item": {
            "to": [known_address],
            "subject": "Our offer",
            "body": {"type": "html", "content": BODY},
        },
    }
    pane = panes(width, emulation).open("/addin/taskpane.html")
    page = pane.page

    card = page.locator(f'li[data-address="{known_address}"]')
    expect(card.get_by_role("heading", name=known_name)).to_be_visible()
    expect(card.get_by_text("In CRM")).to_be_visible()
    expect(card.get_by_text("Legal basis missing")).to_be_visible()
    expect(page.get_by_label("Log this email in Liaison")).to_be_checked()
    expect(page.get_by_role("group", name="Associate with")).to_be_visible()

    page.evaluate(f"window.__officeEmulation.addRecipients('cc', ['{stranger}'])")
    newcomer = page.locator(f'li[data-address="{stranger}"]')
    expect(newcomer.get_by_text("Not in CRM")).to_be_visible()
    expect(newcomer.get_by_label(f"Create contact for {stranger}")).to_be_checked()
    pane.shot("compose-prompt")

    card.get_by_label("They subscribed to one-to-one email").check()
    card.get_by_role("button", name="Record basis").click()
    expect(card.get_by_text("Legal basis: OK")).to_be_visible()

    newcomer.get_by_label("Give a one-time basis for this message").check()
    newcomer.get_by_role("button", name="Record basis").click()
    expect(newcomer.get_by_role("alert")).to_have_text("Give a reason of at least 10 characters.")
    newcomer.get_by_label(re.compile("^Reason for a one-time basis")).fill(
        "Asked for a quote at the trade fair"
    )
    newcomer.get_by_role("button", name="Record basis").click()
    expect(newcomer.get_by_text("Legal basis: OK")).to_be_visible()
    expect(page.get_by_text("Legal basis missing")).to_have_count(0)
    track = page.get_by_label("Track opens and clicks")
    expect(track).to_be_disabled()  # a one-time basis is no basis to track them (TRK-10)
    expect(page.get_by_text(re.compile(re.escape(stranger) + ": "))).to_be_visible()
    pane.shot("compose-track-refused")

    page.evaluate("Office.context.mailbox.item.cc.setAsync([], function () {})")
    expect(newcomer).to_have_count(0)
    expect(track).to_be_enabled()
    track.check()
    pane.shot("compose-ready")

    saved = json.loads(pane.emulation()["item"]["sessionData"]["liaison"])
    assert saved["log"] is True and saved["track"] is True and saved["source"] == "pane"
    assert {"type": "contact", "id": known_id} in saved["associations"]
    item = pane.emulation()["item"]
    assert pane.problems == []

    # Outlook runs the send handler in its own runtime: only the item and its sessionData are shared
    runtime = panes(width, {**emulation, "item": item}).open("/addin/commands.html")
    result = runtime.page.evaluate("window.__officeEmulation.send()")
    assert result == {"allowEvent": True}
    sent = runtime.emulation()["item"]
    rep = _rep(outlook.app)
    with outlook.app.app_context():
        address = logging_address(rep.id)
    assert [r["emailAddress"] for r in sent["bcc"]] == [address]
    assert sent["internetHeaders"]["X-Liaison-Intent"]
    if outlook.tracking_deployed():
        assert "/t/o/" in sent["body"]["content"]  # the pixel
        assert "https://shop.example/offer" not in sent["body"]["content"]  # the link rewritten
    else:
        assert sent["body"]["content"] == item["body"]["content"]

    again = runtime.page.evaluate("window.__officeEmulation.send()")  # the same item sent again
    assert again == {"allowEvent": True}
    twice = runtime.emulation()["item"]
    assert [r["emailAddress"] for r in twice["bcc"]] == [address]  # logged exactly once
    assert twice["body"]["content"] == sent["body"]["content"]  # tracked once
    assert runtime.problems == []


def test_compose_pane_records_a_basis_with_the_keyboard_only(outlook, panes):
    """Every control is reachable with Tab and works with Space and Enter (UI-1)."""
    ((_, name, address),) = _unconsented_contacts(outlook.app, 1)
    item = {"to": [address], "body": {"type": "html", "content": BODY}}
    pane = panes(320, {"mode": "compose", "accessToken": outlook.token(), "item": item})
    page = pane.open("/addin/taskpane.html").page
    card = page.locator(f'li[data-address="{address}"]')
    expect(card.get_by_text("Legal basis missing")).to_be_visible()

    page.keyboard.press("Tab")
    expect(card.get_by_label("They subscribed to one-to-one email")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Record basis")).to_be_focused()
    page.keyboard.press("Enter")
    expect(card.get_by_text("Legal basis: OK")).to_be_visible()
    expect(card.get_by_role("heading", name=name)).to_be_focused()
    expect(page.get_by_role("status").first).to_have_text(f"Legal basis recorded for {address}.")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Track opens and clicks")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_label("Track opens and clicks")).to_be_checked()
    assert json.loads(pane.emulation()["item"]["sessionData"]["liaison"])["track"] is True
    assert pane.problems == []


def test_send_blocked_when_the_pane_was_never_opened_and_a_basis_is_missing(outlook, panes):
    """With the pane closed the handler uses the defaults, asks the gate and blocks, offering
    to open the pane; nothing is added to the message (GDPR-1, UI-1)."""
    ((_, _, address),) = _unconsented_contacts(outlook.app, 1)
    item = {"to": [address], "subject": "Hi", "body": {"type": "html", "content": "<p>Hi</p>"}}
    emulation = {"mode": "compose", "accessToken": outlook.token(), "item": item}
    runtime = panes(320, emulation).open("/addin/commands.html")

    result = runtime.page.evaluate("window.__officeEmulation.send()")

    assert result["allowEvent"] is False
    assert address in result["errorMessage"]
    assert "legal basis is missing" in result["errorMessage"]
    assert result["commandId"] == "msgComposeOpenPaneButton"
    assert result["cancelLabel"] == "Open Liaison"
    sent = runtime.emulation()["item"]
    assert sent["bcc"] == [] and sent["internetHeaders"] == {}
    assert sent["body"]["content"] == "<p>Hi</p>"
    assert runtime.problems == []


def test_send_without_a_connection_is_held_with_that_message(outlook, panes):
    """Liaison unreachable at send time: no unchecked send; the message says why."""
    item = {"to": ["someone@client.example"], "body": {"type": "html", "content": "<p>x</p>"}}
    runtime = panes(320, {"mode": "compose", "accessToken": outlook.token(), "item": item})
    runtime.page.route(re.compile(r".*/api/.*"), lambda route: route.abort())
    runtime.open("/addin/commands.html")

    result = runtime.page.evaluate("window.__officeEmulation.send()")

    assert result["allowEvent"] is False
    assert result["errorMessage"].startswith("No connection to Liaison")
    assert runtime.emulation()["item"]["bcc"] == []


WORKER = """
const ok = (cb, value) => setTimeout(() => cb({status: "succeeded", value}), 0);
const last = (args) => [...args].reverse().find((a) => typeof a === "function");
const item = {
  to: {getAsync: (...a) => ok(last(a), TO.map((e) => ({emailAddress: e, displayName: e})))},
  cc: {getAsync: (...a) => ok(last(a), [])},
  bcc: {getAsync: (...a) => ok(last(a), []), addAsync: (...a) => ok(last(a))},
  subject: {getAsync: (...a) => ok(last(a), "Hi")},
  body: {getTypeAsync: (...a) => ok(last(a), "html"), getAsync: (...a) => ok(last(a), "<p>Hi</p>"),
         setAsync: (...a) => ok(last(a))},
  internetHeaders: {setAsync: (...a) => ok(last(a))},
  sessionData: {getAsync: (...a) => setTimeout(() => last(a)({status: "failed", error: {}}), 0),
                setAsync: (...a) => ok(last(a))},
};
const names = [];
self.Office = {
  AsyncResultStatus: {Succeeded: "succeeded"},
  actions: {associate: (name, fn) => { names.push(name); self[name] = fn; }},
  auth: {getAccessToken: () => Promise.resolve(TOKEN)},
  context: {mailbox: {item}},
};
importScripts(SCRIPT);
self.onMessageSendHandler({completed: (options) => postMessage({names, options,
  dom: typeof document, storage: typeof localStorage})});
"""


def in_web_worker(page, code: str) -> dict:
    """Run `code` in a Web Worker of `page` (no DOM, no localStorage); the message it posts."""
    return page.evaluate(
        """(code) => new Promise((resolve, reject) => {
             const worker = new Worker(URL.createObjectURL(new Blob([code])));
             worker.onmessage = (e) => resolve(e.data);
             worker.onerror = (e) => reject(new Error(e.message));
           })""",
        code,
    )


def test_send_handler_runs_without_a_dom_like_the_javascript_only_runtime(outlook, panes):
    """Classic Outlook loads commands.js alone, with no DOM and no localStorage: in a Web
    Worker it still associates both handlers and answers the send from absolute URLs (UI-1)."""
    ((_, _, address),) = _unconsented_contacts(outlook.app, 1)
    page = panes(320, {"mode": "compose", "item": {}}).open("/addin/commands.html").page
    code = (
        f"const TO = {json.dumps([address])}; const TOKEN = {json.dumps(outlook.token())};"
        f" const SCRIPT = {json.dumps(outlook.url + '/addin/commands.js')};" + WORKER
    )
    answer = in_web_worker(page, code)
    assert answer["dom"] == "undefined" and answer["storage"] == "undefined"
    assert sorted(answer["names"]) == ["onMessageSendHandler", "onNewMessageComposeHandler"]
    assert answer["options"]["allowEvent"] is False
    assert address in answer["options"]["errorMessage"]


def test_send_signed_out_blocks_and_offers_the_pane(outlook, panes):
    """No token and no SSO: the send is held with a sign-in message, not let through unchecked."""
    runtime = panes(
        320, {"mode": "compose", "accessToken": None, "item": {"to": ["someone@client.example"]}}
    ).open("/addin/commands.html")

    result = runtime.page.evaluate("window.__officeEmulation.send()")

    assert result["allowEvent"] is False
    assert "signed out of Liaison" in result["errorMessage"]
    assert result["commandId"] == "msgComposeOpenPaneButton"


@pytest.mark.parametrize("width", WIDTHS)
def test_read_pane_logs_the_email_with_the_chosen_associations(outlook, panes, width):
    """The sender's record with open deals; "Log this email" with one association unticked
    logs exactly the ticked ones; a deal is created from the email (LOG-1, LOG-4, UI-1)."""
    ((contact_id, name, address),) = _unconsented_contacts(outlook.app, 1, with_deal=True)
    message_id = f"<read-{width}-{uuid.uuid4().hex[:8]}@client.example>"
    pane = panes(width, {
        "mode": "read", "accessToken": outlook.token(),
        "user": {"email": REP_EMAIL, "name": "Lena Fischer"},
        "item": {"from": {"emailAddress": address, "displayName": name}, "to": [REP_EMAIL],
                 "subject": "Question about the delivery", "internetMessageId": message_id,
                 "body": {"type": "html", "content": "<p>When will it arrive?</p>"}},
    }).open("/addin/taskpane.html")  # fmt: skip
    page = pane.page

    card = page.locator(f'li[data-address="{address}"]')
    expect(card.get_by_role("heading", name=name)).to_be_visible()
    expect(card.get_by_text("Open deals")).to_be_visible()
    expect(page.get_by_role("heading", name="Recent activity")).to_be_visible()
    picker = page.get_by_role("group", name="Associate with")
    boxes = picker.get_by_role("checkbox")
    expect(boxes.first).to_be_visible()
    pane.shot("read")

    ticked = []
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if box.get_attribute("data-type") == "contact" or not box.is_checked():
            continue
        box.uncheck()  # the first non-contact default tick is left out
        break
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if box.is_checked() and box.get_attribute("data-type"):
            ticked.append((box.get_attribute("data-type"), int(box.get_attribute("data-id"))))
    page.get_by_role("button", name="Log this email").click()
    expect(page.get_by_text(re.compile(r"^Logged\."))).to_be_visible()

    with outlook.app.app_context():
        email = db.session.scalar(
            select(LoggedEmail).where(LoggedEmail.message_id.in_([message_id, message_id[1:-1]]))
        )
        assert email is not None and email.source == "outlook" and email.direction == "in"
        assert sorted((a.record_type, a.record_id) for a in email.associations) == sorted(ticked)
        assert ("contact", contact_id) in ticked

    card.get_by_role("button", name="Create deal").click()
    card.get_by_label("Deal name").fill(f"Delivery follow-up {width}")
    card.get_by_role("button", name="Create deal").last.click()
    expect(page.get_by_role("status").first).to_have_text(
        f"Deal “Delivery follow-up {width}” created."
    )
    with outlook.app.app_context():
        deal = db.session.scalar(select(Deal).where(Deal.name == f"Delivery follow-up {width}"))
        linked = db.session.scalar(select(Association).where(
            Association.a_type == "contact", Association.a_id == contact_id,
            Association.b_type == "deal", Association.b_id == deal.id))  # fmt: skip
        assert linked is not None
    pane.shot("read-logged")
    assert pane.problems == []


def test_read_pane_shows_the_tracking_status_of_a_message_we_sent(outlook, panes):
    """A message the rep sent and Liaison tracked: its opens and clicks by Message-ID (TRK-5)."""
    from server.consent.service import set_subscription
    from server.tracking.service import create_tracked_email

    ((contact_id, name, address),) = _unconsented_contacts(outlook.app, 1)
    message_id = f"<sent-{uuid.uuid4().hex[:8]}@northwind.example>"
    rep = _rep(outlook.app)
    with outlook.app.app_context():
        set_subscription(rep.org_id, rep.id, contact_id, "one_to_one", "subscribed", "outlook")
        create_tracked_email(
            rep.org_id, rep.id, [address], "Our offer", "<p>Hi</p>", None, message_id=message_id
        )
        db.session.commit()
    item = {"from": REP_EMAIL, "to": [{"emailAddress": address, "displayName": name}],
            "subject": "Our offer", "internetMessageId": message_id}  # fmt: skip
    pane = panes(320, {"mode": "read", "accessToken": outlook.token(), "item": item,
                       "user": {"email": REP_EMAIL, "name": "Lena Fischer"}})  # fmt: skip
    pane.open("/addin/taskpane.html")

    expect(pane.page.get_by_role("heading", name="Tracking")).to_be_visible()
    expect(pane.page.get_by_text("Opened 0 times, clicked 0 times.")).to_be_visible()
    pane.shot("read-sent")
    assert pane.problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_signed_out_pane_offers_sign_in_from_the_keyboard(outlook, panes, width):
    """No stored token and no SSO: the "Signed out" state; Tab reaches Sign in, Enter opens the
    web sign-in dialog (UI-1)."""
    pane = panes(
        width, {"mode": "compose", "accessToken": None, "item": {"to": ["someone@client.example"]}}
    ).open("/addin/taskpane.html")
    page = pane.page
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    pane.shot("signed-out")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_function("window.__officeEmulation.dialogs.length === 1")
    assert pane.emulation()["dialogs"] == [outlook.url + "/addin/dialog.html"]
    assert pane.problems == []


def test_no_connection_state(outlook, panes):
    """Liaison unreachable: "No connection to Liaison" with a retry button (UI-1)."""
    pane = panes(320, {"mode": "compose", "accessToken": outlook.token(), "item": {}})
    pane.page.route(re.compile(r".*/api/me$"), lambda route: route.abort())
    pane.open("/addin/taskpane.html")
    expect(pane.page.get_by_role("heading", name="No connection to Liaison")).to_be_visible()
    expect(pane.page.get_by_role("button", name="Try again")).to_be_visible()
    pane.shot("no-connection")


def test_dialog_signs_in_on_the_web_and_hands_the_pane_a_token(outlook, panes):
    """The fallback sign-in: the dialog goes through the web sign-in and messages a bearer
    token back that the API accepts (UI-1)."""
    dialog = panes(450, {"mode": "compose", "item": {}}).open("/addin/dialog.html")
    page = dialog.page
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_role("button", name=re.compile("Sign in as Lena Fischer")).click()
    page.wait_for_function("(window.__officeEmulation.parentMessages || []).length === 1")
    token = json.loads(dialog.emulation()["parentMessages"][0])["token"]
    with outlook.app.test_client() as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["user"]["email"] == REP_EMAIL
    # the one expected error: the dialog's first look at the session, before signing in
    assert dialog.problems == [f"HTTP 401: {outlook.url}/api/me"]


def test_contact_emails_used_here_exist(outlook):
    """Guard for the fixtures above: the demo rep and seeded addresses are where we expect."""
    with outlook.app.app_context():
        assert db.session.scalar(select(User.id).where(User.email == REP_EMAIL))
        assert db.session.scalar(select(ContactEmail.id).limit(1))
