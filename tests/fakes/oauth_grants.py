"""The fake authorization server's state and token endpoint logic: codes, refresh tokens,
access tokens, and the grants (authorization_code with PKCE, refresh_token, Microsoft's
on-behalf-of jwt-bearer), answering in Microsoft's and Google's token response formats.
The HTTP side is tests/fakes/oauth_server.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from fakes.oidc import DROP, MS_CLIENT_ID, FakeOIDCIssuer

MS_CLIENT_SECRET = "fake-ms-client-secret"
GOOGLE_CLIENT_SECRET = "fake-google-client-secret"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Account:
    """A person at the fake provider."""

    provider: str  # microsoft | google
    email: str
    name: str
    tid: str = ""  # Microsoft tenant and object id
    oid: str = ""
    sub: str = ""  # Google subject
    hd: str | None = None  # Google Workspace domain
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def home_account_id(self) -> str:
        """MSAL's account id for a Microsoft account: `oid.tid`."""
        return f"{self.oid}.{self.tid}"


@dataclass
class Grant:
    """What a code, refresh token or access token stands for."""

    account: Account
    scope: str
    redirect_uri: str = ""
    code_challenge: str | None = None
    nonce: str | None = None
    offline: bool = True
    revoked: bool = False


def b64(data: bytes) -> str:
    """Unpadded url-safe base64."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OAuthError(Exception):
    """An OAuth error answer: status and body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.body = status, {"error": error, "error_description": description}


class OAuthState:
    """Accounts, codes and tokens, and the token endpoint's grants."""

    url: str  # the server's base URL (the issuer of Microsoft ID tokens is {url}/{tid}/v2.0)

    def __init__(self, issuer: FakeOIDCIssuer) -> None:
        self.issuer = issuer
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every account, code and token; tokens live an hour."""
        with self._lock:
            self.accounts: dict[str, Account] = {}
            self.codes: dict[str, Grant] = {}
            self.refresh_tokens: dict[str, Grant] = {}
            self.access_tokens: dict[str, Grant] = {}
            self.requests: list[tuple[str, dict[str, str]]] = []
            self.access_token_lifetime = 3600

    def token(self, provider: str, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's answer to `form` (OAuthError for an error answer)."""
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._redeem_code(form)
        elif grant_type == "refresh_token":
            with self._lock:
                grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked or grant.account.provider != provider:
                description = (
                    "AADSTS50173: The provided grant has expired due to it being revoked."
                    if provider == "microsoft"
                    else "Token has been expired or revoked."
                )
                raise OAuthError(400, "invalid_grant", description)
            grant = Grant(grant.account, form.get("scope") or grant.scope, offline=True)
        elif grant_type == JWT_BEARER and provider == "microsoft":
            grant = self._on_behalf_of(form)
        else:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
        rotate = provider == "microsoft" or grant_type != "refresh_token"  # Google keeps its RT
        return self._issue(provider, grant, rotate)

    def _redeem_code(self, form: dict[str, str]) -> Grant:
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            raise OAuthError(400, "invalid_grant", "The code is unknown or was already used.")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri differs from the request's.")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            challenge = b64(hashlib.sha256(verifier.encode()).digest())
            if not verifier or challenge != grant.code_challenge:
                raise OAuthError(400, "invalid_grant", "The code_verifier does not match (PKCE).")
        if form.get("scope"):
            grant.scope = form["scope"]
        return grant

    def _on_behalf_of(self, form: dict[str, str]) -> Grant:
        if form.get("requested_token_use") != "on_behalf_of":
            raise OAuthError(400, "invalid_request", "requested_token_use must be on_behalf_of")
        assertion = form.get("assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            key = next(k for k in self.issuer.published if k.kid == kid)
            claims = jwt.decode(
                assertion, key.private.public_key(), algorithms=["RS256"], audience=MS_CLIENT_ID
            )
        except (jwt.PyJWTError, StopIteration) as exc:
            raise OAuthError(400, "invalid_grant", f"AADSTS50013: bad assertion: {exc}") from exc
        with self._lock:
            account = next(
                (a for a in self.accounts.values() if a.oid == claims["oid"]), None
            ) or Account("microsoft", claims["preferred_username"], claims.get("name", ""))
            account.tid, account.oid = claims["tid"], claims["oid"]
            self.accounts[account.key] = account
        return Grant(account, form.get("scope", ""), offline=True)

    def _issue(self, provider: str, grant: Grant, rotate: bool) -> dict[str, Any]:
        scopes = grant.scope.split()
        access_token = f"fake-{provider[:2]}-at-{secrets.token_urlsafe(24)}"
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": self.access_token_lifetime,
            "scope": " ".join(s for s in scopes if s != "offline_access"),
        }
        with self._lock:
            self.access_tokens[access_token] = grant
            if rotate and grant.offline and (provider == "google" or "offline_access" in scopes):
                body["refresh_token"] = f"fake-{provider[:2]}-rt-{secrets.token_urlsafe(24)}"
                self.refresh_tokens[body["refresh_token"]] = grant
        if "openid" in scopes:
            body["id_token"] = self._id_token(provider, grant)
        if provider == "microsoft":
            body["ext_expires_in"] = self.access_token_lifetime
            info = {"uid": grant.account.oid, "utid": grant.account.tid}
            body["client_info"] = b64(json.dumps(info).encode())
        return body

    def _id_token(self, provider: str, grant: Grant) -> str:
        account, nonce = grant.account, grant.nonce or DROP
        if provider == "google":
            return self.issuer.google_token(
                account.email, sub=account.sub, name=account.name, hd=account.hd or DROP,
                nonce=nonce,
            )  # fmt: skip
        return self.issuer.ms_token(
            account.tid,
            account.oid,
            iss=f"{self.url}/{account.tid}/v2.0",
            scp=DROP,
            nonce=nonce,
            name=account.name,
            preferred_username=account.email,
        )
