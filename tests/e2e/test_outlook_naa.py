"""Nested app authentication in the Outlook add-in (UI-1): where the host supports NestedAppAuth
1.1, the pane and the send handler get their Microsoft token through MSAL.js (the vendored
static/vendor/msal-browser, the real library) and the broker bridge the host provides. The
host's bridge is tests/e2e/office_emulation.js's `window.nestedAppAuthBridge`, speaking MSAL's
NestedAppAuthRequest protocol and answering with tokens minted by the local fake Microsoft
issuer, which the server verifies like any Microsoft token. Not exercised here: Outlook's real
broker, Entra's consent and its `brk-multihub://` redirect check."""

from __future__ import annotations

import json
import uuid

import pytest
from fakes.oidc import MS_CLIENT_ID
from playwright.sync_api import expect
from sqlalchemy import select

from server.extensions import db
from server.orgs.models import ExternalIdentity, User
from server.surfaces.web.seed_data import DEMO_TENANT_ID

from . import test_outlook_addin as addin

pytestmark = pytest.mark.e2e

# the add-in tests' fixtures: the seeded server with the fake issuer, and add-in pages
outlook = addin.outlook
panes = addin.panes
REP_EMAIL = addin.REP_EMAIL

AUTHORITY = "https://login.microsoftonline.com/common"


def naa_for(outlook, email: str, name: str, **behaviour) -> dict:
    """The broker's answers for one user: an access token for our API and an ID token."""
    oid = str(uuid.uuid5(uuid.NAMESPACE_DNS, email))
    claims = {"preferred_username": email, "name": name}
    id_claims = outlook.issuer.ms_claims(DEMO_TENANT_ID, oid, **claims)
    id_claims.pop("scp")
    return {
        "accessToken": outlook.issuer.ms_token(DEMO_TENANT_ID, oid, **claims),
        "idToken": outlook.issuer.sign(id_claims),
        "account": {
            "homeAccountId": f"{oid}.{DEMO_TENANT_ID}",
            "environment": "login.microsoftonline.com",
            "tenantId": DEMO_TENANT_ID,
            "localAccountId": oid,
            "username": email,
            "name": name,
        },
        **behaviour,
    }


def expected_scope(outlook) -> str:
    host = outlook.url.split("://", 1)[1]
    return f"api://{host}/{MS_CLIENT_ID}/access_as_user"


def methods(emulation: dict) -> list[str]:
    return [r["method"] for r in emulation["naaRequests"]]


def test_pane_signs_in_through_nested_app_authentication_and_the_user_is_provisioned(
    outlook, panes
):
    """NAA supported, no Office SSO token: MSAL asks the bridge for our API's scope with our
    client id; the server verifies the Microsoft token and provisions the new rep (UI-1)."""
    email = f"naa.{uuid.uuid4().hex[:8]}@northwind.example"
    emulation = {
        "mode": "compose",
        "accessToken": None,
        "nestedAppAuth": naa_for(outlook, email, "Nina Nested"),
        "item": {},
    }
    pane = panes(320, emulation).open("/addin/taskpane.html")

    expect(pane.page.locator("#who")).to_have_text(email)
    expect(pane.page.get_by_text("Add recipients to see them in Liaison.")).to_be_visible()

    seen = pane.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken"]
    token_request = seen["naaRequests"][1]
    assert token_request["messageType"] == "NestedAppAuthRequest"
    assert token_request["tokenParams"]["clientId"] == MS_CLIENT_ID
    assert token_request["tokenParams"]["scope"] == expected_scope(outlook)
    assert seen["ssoCalls"] == 0
    with outlook.app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None and user.role == "rep" and user.name == "Nina Nested"
        identity = db.session.scalar(
            select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
        )
        oid = str(uuid.uuid5(uuid.NAMESPACE_DNS, email))
        assert (identity.provider, identity.subject) == ("microsoft", f"{DEMO_TENANT_ID}:{oid}")
    assert pane.problems == []


def test_pane_asks_the_host_to_prompt_when_the_broker_needs_interaction(outlook, panes):
    """Silent NAA answers interaction_required: the pane falls back to acquireTokenPopup (the
    host's own prompt through the same bridge) and signs the existing rep in (UI-1)."""
    emulation = {
        "mode": "compose",
        "accessToken": None,
        "user": {"email": REP_EMAIL, "name": "Lena Fischer"},
        "nestedAppAuth": naa_for(outlook, REP_EMAIL, "Lena Fischer", silent="interaction_required"),
        "item": {},
    }
    pane = panes(450, emulation).open("/addin/taskpane.html")

    expect(pane.page.locator("#who")).to_have_text(REP_EMAIL)
    seen = pane.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken", "GetTokenPopup"]
    assert seen["naaRequests"][2]["tokenParams"]["scope"] == expected_scope(outlook)
    assert seen["ssoCalls"] == 0
    assert pane.problems == []


def test_broker_failure_falls_back_to_office_sso(outlook, panes):
    """NAA fails for another reason (a misconfigured app registration): no prompt, Office SSO
    signs the pane in instead (UI-1)."""
    emulation = {
        "mode": "compose",
        "accessToken": outlook.token(),
        "nestedAppAuth": naa_for(outlook, REP_EMAIL, "Lena Fischer", silent="error"),
        "item": {},
    }
    pane = panes(320, emulation).open("/addin/taskpane.html")

    expect(pane.page.locator("#who")).to_have_text(REP_EMAIL)
    seen = pane.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken"]
    assert seen["ssoCalls"] == 1
    assert pane.problems == []


def test_without_nested_app_authentication_the_pane_uses_office_sso_and_no_msal(outlook, panes):
    """NestedAppAuth 1.1 unsupported: MSAL is not even loaded; Office SSO signs in (UI-1)."""
    emulation = {"mode": "compose", "accessToken": outlook.token(), "item": {}}
    pane = panes(320, emulation)
    loaded = []
    pane.page.on("request", lambda r: loaded.append(r.url) if "msal-browser" in r.url else None)
    pane.open("/addin/taskpane.html")

    expect(pane.page.locator("#who")).to_have_text(REP_EMAIL)
    assert pane.emulation()["ssoCalls"] == 1
    assert pane.page.evaluate("typeof window.msal") == "undefined"
    assert loaded == []
    assert pane.problems == []


def test_neither_naa_nor_sso_leaves_the_sign_in_dialog(outlook, panes):
    """The prompt cancelled and no SSO: "Signed out", and Sign in opens the web sign-in
    dialog, the last fallback (UI-1)."""
    emulation = {
        "mode": "compose",
        "accessToken": None,
        "nestedAppAuth": naa_for(
            outlook, REP_EMAIL, "Lena Fischer", silent="interaction_required", popup="cancel"
        ),
        "item": {},
    }
    pane = panes(320, emulation).open("/addin/taskpane.html")
    page = pane.page

    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    seen = pane.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken", "GetTokenPopup"]
    assert seen["ssoCalls"] == 1
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("window.__officeEmulation.dialogs.length === 1")
    assert pane.emulation()["dialogs"] == [outlook.url + "/addin/dialog.html"]
    assert pane.problems == []


def test_send_handler_signs_in_through_nested_app_authentication(outlook, panes):
    """The event runtime of Outlook on the web and new Outlook (commands.html) gets its token
    through NAA too and checks the gate: a recipient without a basis blocks the send with the
    consent message, not the signed-out one (UI-1, GDPR-1)."""
    address = f"nobody.{uuid.uuid4().hex[:8]}@client.example"
    emulation = {
        "mode": "compose",
        "accessToken": None,
        "nestedAppAuth": naa_for(outlook, REP_EMAIL, "Lena Fischer"),
        "item": {"to": [address], "body": {"type": "html", "content": "<p>Hi</p>"}},
    }
    runtime = panes(320, emulation).open("/addin/commands.html")

    result = runtime.page.evaluate("window.__officeEmulation.send()")

    assert result["allowEvent"] is False
    assert "legal basis is missing" in result["errorMessage"] and address in result["errorMessage"]
    seen = runtime.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken"]
    assert seen["ssoCalls"] == 0
    assert runtime.problems == []


def test_send_handler_never_prompts_and_holds_the_send_when_signed_out(outlook, panes):
    """Interaction required at send time: no prompt from an event handler; without SSO the
    send is held with the sign-in message (UI-1)."""
    emulation = {
        "mode": "compose",
        "accessToken": None,
        "nestedAppAuth": naa_for(outlook, REP_EMAIL, "Lena Fischer", silent="interaction_required"),
        "item": {"to": ["someone@client.example"]},
    }
    runtime = panes(320, emulation).open("/addin/commands.html")

    result = runtime.page.evaluate("window.__officeEmulation.send()")

    assert result["allowEvent"] is False
    assert "signed out of Liaison" in result["errorMessage"]
    seen = runtime.emulation()
    assert methods(seen) == ["GetInitContext", "GetToken"]
    assert seen["ssoCalls"] == 1


def test_javascript_only_runtime_falls_back_to_office_sso(outlook, panes):
    """Classic Outlook's event runtime (a Web Worker here: no DOM, no localStorage) reporting
    NestedAppAuth 1.1: MSAL cannot be loaded there, so the handler goes on with Office SSO and
    still answers the send from the gate (UI-1)."""
    worker = addin.WORKER
    for old, new in (
        ("context: {mailbox: {item}},",
         "context: {mailbox: {item}, requirements: {isSetSupported: () => true}},"),
        ("auth: {getAccessToken: () => Promise.resolve(TOKEN)},",
         "auth: {getAccessToken: () => { sso += 1; return Promise.resolve(TOKEN); }},"),
        ("dom: typeof document,", "dom: typeof document, sso, msal: typeof self.msal,"),
    ):  # fmt: skip
        assert old in worker
        worker = worker.replace(old, new)
    address = f"nobody.{uuid.uuid4().hex[:8]}@client.example"
    page = panes(320, {"mode": "compose", "item": {}}).open("/addin/commands.html").page
    code = (
        f"let sso = 0; const TO = {json.dumps([address])};"
        f" const TOKEN = {json.dumps(outlook.token())};"
        f" const SCRIPT = {json.dumps(outlook.url + '/addin/commands.js')};" + worker
    )
    answer = addin.in_web_worker(page, code)
    assert answer["dom"] == "undefined" and answer["msal"] == "undefined"
    assert answer["sso"] == 1
    assert answer["options"]["allowEvent"] is False
    assert address in answer["options"]["errorMessage"]


def test_served_script_carries_the_client_id_and_the_configured_audience_scope(outlook):
    """MS_API_AUDIENCE, when set, is the scope's resource; without MS_CLIENT_ID the script gets
    null and the add-in skips NAA (UI-1)."""
    config = outlook.app.config
    saved = {key: config.get(key) for key in ("MS_API_AUDIENCE", "MS_CLIENT_ID")}
    try:
        config["MS_API_AUDIENCE"] = f"api://crm.example.com/{MS_CLIENT_ID}"
        with outlook.app.test_client() as client:
            script = client.get("/addin/commands.js").get_data(as_text=True)
        expected = {
            "clientId": MS_CLIENT_ID,
            "scope": f"{config['MS_API_AUDIENCE']}/access_as_user",
        }
        assert f"var MS_AUTH = {json.dumps(expected)};" in script
        config["MS_CLIENT_ID"] = None
        with outlook.app.test_client() as client:
            script = client.get("/addin/commands.js").get_data(as_text=True)
        assert "var MS_AUTH = null;" in script
    finally:
        config.update(saved)
