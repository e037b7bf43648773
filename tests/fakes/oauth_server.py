"""A local OAuth 2.0 authorization server on 127.0.0.1, over HTTPS, speaking Microsoft's (v2.0)
and Google's wire formats, so the real MSAL, requests and google-auth code can be pointed at it.

MSAL accepts only https authorities, so the server makes its own CA and a certificate for
127.0.0.1; the `oauth` fixture trusts that CA through SSL_CERT_FILE (urllib, used by PyJWT's JWKS
client) and REQUESTS_CA_BUNDLE (requests, used by MSAL and google-auth) for the test's duration.

Microsoft, with the server's URL as the authority (MS_AUTHORITY):
- GET  /{tenant}/v2.0/.well-known/openid-configuration
- GET  /{tenant}/oauth2/v2.0/authorize  → 302 to redirect_uri with code and state
- POST /{tenant}/oauth2/v2.0/token      grant_type authorization_code (PKCE S256 checked),
  refresh_token, and urn:ietf:params:oauth:grant-type:jwt-bearer with requested_token_use
  on_behalf_of; answers access_token, refresh_token, id_token (signed by the fake OIDC issuer's
  keys, iss {url}/{tid}/v2.0), client_info
- everything else the fake OIDC issuer serves (JWKS at /common/discovery/v2.0/keys, Google certs)
Google: GET /o/oauth2/v2/auth and POST /token (authorization_code with PKCE, refresh_token).

Tests play the browser: `oauth.authorize(url, account)` follows the app's redirect as `account`
signing in and consenting, and returns the path and query to hand back to the app.
`oauth.revoke(account)` kills the account's refresh tokens; `oauth.access_token_lifetime`
shortens the tokens' life; `oauth.token_requests(grant_type)` shows what clients sent.
The grants and token minting live in tests/fakes/oauth_grants.py, the CA in tests/fakes/tls.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from fakes.oauth_grants import (
    GOOGLE_CLIENT_SECRET,
    MS_CLIENT_SECRET,
    Account,
    Grant,
    OAuthError,
    OAuthState,
)
from fakes.oidc import GOOGLE_CLIENT_ID, MS_CLIENT_ID, FakeOIDCIssuer, reset_identity_caches
from fakes.tls import make_tls
from server.auth.oauth_clients import reset_msal_cache


class FakeAuthorizationServer(OAuthState):
    """The fake authorization server: HTTPS in a thread, the browser's side, the endpoints."""

    def __init__(self, issuer: FakeOIDCIssuer) -> None:
        super().__init__(issuer)
        self.ca_file, self._context = make_tls(Path(tempfile.mkdtemp(prefix="fake-oauth-")))
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeAuthorizationServer:
        """Serve HTTPS on an ephemeral port of 127.0.0.1."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.socket = self._context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """The base URL; it is also the Microsoft authority."""
        assert self._server is not None, "the fake authorization server is not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def app_config(self) -> dict[str, Any]:
        """The settings that point the app's OAuth clients at this server."""
        return {
            "MS_AUTHORITY": self.url,
            "MS_CLIENT_SECRET": MS_CLIENT_SECRET,
            "GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET,
            "GOOGLE_AUTH_URI": self.url + "/o/oauth2/v2/auth",
            "GOOGLE_TOKEN_URI": self.url + "/token",
        }

    # --- people and the browser ----------------------------------------------------------------

    def microsoft_account(
        self, tid: str, email: str, name: str = "Ada Lovelace", oid: str | None = None
    ) -> Account:
        """A work account of tenant `tid`."""
        account = Account("microsoft", email.lower(), name, tid=tid, oid=oid or str(uuid.uuid4()))
        with self._lock:
            self.accounts[account.key] = account
        return account

    def google_account(self, email: str, name: str = "Grace Hopper", hd: bool = True) -> Account:
        """A Google account (`hd` set to its domain unless hd=False: a consumer account)."""
        sub = str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:15], 16))
        domain = email.partition("@")[2].lower() if hd else None
        account = Account("google", email.lower(), name, sub=sub, hd=domain)
        with self._lock:
            self.accounts[account.key] = account
        return account

    def authorize(self, url: str, account: Account, deny: bool = False) -> str:
        """Visit the app's authorize `url` as `account` (consenting, or denying); the path and
        query of the redirect back to the app."""
        extra = {"fake_account": account.key, **({"fake_deny": "1"} if deny else {})}
        response = requests.get(
            url, params=extra, verify=self.ca_file, allow_redirects=False, timeout=10
        )
        assert response.status_code == 302, (response.status_code, response.text)
        location = urlsplit(response.headers["Location"])
        return f"{location.path}?{location.query}"

    def revoke(self, account: Account) -> None:
        """Revoke every refresh token of `account` (password reset, consent withdrawn)."""
        with self._lock:
            for grant in self.refresh_tokens.values():
                if grant.account is account:
                    grant.revoked = True

    def token_requests(self, grant_type: str | None = None) -> list[dict[str, str]]:
        """The forms POSTed to the token endpoints (of one grant type)."""
        with self._lock:
            forms = [form for _, form in self.requests]
        return [f for f in forms if grant_type is None or f.get("grant_type") == grant_type]

    def pane_token(self, account: Account, **overrides: Any) -> str:
        """A Microsoft identity token for our API, as the Outlook pane sends it."""
        return self.issuer.ms_token(
            account.tid,
            account.oid,
            iss=f"{self.url}/{account.tid}/v2.0",
            preferred_username=account.email,
            name=account.name,
            **overrides,
        )

    def grant_of(self, access_token: str) -> Grant | None:
        """What an access token we issued stands for (for fake resource servers)."""
        with self._lock:
            return self.access_tokens.get(access_token)

    # --- endpoints ------------------------------------------------------------------------------

    def get(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body or None) for a GET."""
        parts = path.strip("/").split("/")
        if path == "/o/oauth2/v2/auth":
            return self._authorize("google", query)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "authorize"]:
            return self._authorize("microsoft", query, tenant=parts[0])
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0] if parts[0] not in ("common", "organizations") else "{tenantid}"
            return 200, {}, self._ms_configuration(parts[0], tenant)
        return self.issuer.document(path)

    def _ms_configuration(self, path_tenant: str, issuer_tenant: str) -> dict[str, Any]:
        return {
            "issuer": f"{self.url}/{issuer_tenant}/v2.0",
            "authorization_endpoint": f"{self.url}/{path_tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.url}/{path_tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{self.url}/common/discovery/v2.0/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
        }

    def _authorize(self, provider: str, query: dict, tenant: str = "") -> tuple[int, dict, Any]:
        expected = MS_CLIENT_ID if provider == "microsoft" else GOOGLE_CLIENT_ID
        if query.get("client_id") != expected or not query.get("redirect_uri"):
            return 400, {}, {"error": "invalid_request", "error_description": "bad client"}
        if query.get("response_type") != "code":
            return 400, {}, {"error": "unsupported_response_type"}
        with self._lock:
            account = self.accounts.get(query.get("fake_account", ""))
        assert account is not None and account.provider == provider, "sign in a known account"
        back = {"state": query.get("state", "")}
        if query.get("fake_deny"):
            back.update(error="access_denied", error_description="The user declined consent.")
        elif tenant not in ("", "common", "organizations", account.tid):
            back.update(error="invalid_request", error_description="AADSTS50020: wrong tenant.")
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = Grant(
                    account=account,
                    scope=query.get("scope", ""),
                    redirect_uri=query["redirect_uri"],
                    code_challenge=query.get("code_challenge"),
                    nonce=query.get("nonce"),
                    offline=provider == "microsoft" or query.get("access_type") == "offline",
                )
            back["code"] = code
            if provider == "google":
                back["scope"] = query.get("scope", "")
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(back)}"}, None

    def post(self, path: str, form: dict[str, str], basic: tuple[str, str] | None) -> tuple:
        """(status, headers, JSON body) for a POST to a token endpoint."""
        with self._lock:
            self.requests.append((path, dict(form)))
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        parts = path.strip("/").split("/")
        try:
            if path == "/token":
                if (client_id, secret) != (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET):
                    raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
                return 200, {}, self.token("google", form)
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                if (client_id, secret) != (MS_CLIENT_ID, MS_CLIENT_SECRET):
                    raise OAuthError(401, "invalid_client", "AADSTS7000215: Invalid secret.")
                return 200, {}, self.token("microsoft", form)
        except OAuthError as exc:
            return exc.status, {}, exc.body
        return 404, {}, {"error": "not_found"}


def _handler_for(server: FakeAuthorizationServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            self._send(*server.get(url.path, dict(parse_qsl(url.query))))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            basic = None
            scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "basic":
                user, _, password = base64.b64decode(value).decode().partition(":")
                basic = (user, password)
            self._send(*server.post(urlsplit(self.path).path, form, basic))

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture(scope="session")
def oauth_server(oidc_issuer):
    """The fake authorization server, started once per test session."""
    server = FakeAuthorizationServer(oidc_issuer).start()
    yield server
    server.stop()


@pytest.fixture
def oauth(app, oidc, oauth_server, monkeypatch):
    """The fake authorization server, reset, trusted, with the app's OAuth clients pointed at it
    (on top of the `oidc` fixture's settings)."""
    oauth_server.reset()
    monkeypatch.setenv("SSL_CERT_FILE", oauth_server.ca_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", oauth_server.ca_file)
    settings = oauth_server.app_config()
    saved = {name: app.config.get(name) for name in settings}
    app.config.update(settings)
    reset_identity_caches(app)
    reset_msal_cache(app)
    yield oauth_server
    app.config.update(saved)
    reset_identity_caches(app)
    reset_msal_cache(app)
