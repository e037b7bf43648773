"""Connected mailboxes (Mail plumbing #3, item 5): a user connects a Microsoft or Google mailbox
with the authorization-code flow, lists them, disconnects one (its tokens are deleted).

Tokens are stored only encrypted (server/crypto.py): a Microsoft mailbox keeps its user's MSAL
SerializableTokenCache (scope Mail.Send; MSAL adds offline_access, openid, profile), a Google
mailbox its access and refresh tokens (scope gmail.send). The transports get a usable token
from server/mail/mailbox_tokens.py: `graph_token_for`, `google_credentials_for`,
`graph_token_on_behalf_of`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import msal
from sqlalchemy import select

from ..auth.oauth_clients import google_auth_flow, google_redeem_code, ms_auth_flow, msal_app
from ..auth.web_signin import (
    check_auth_response,
    microsoft_nonce,
    redeem_microsoft_code,
    verified_google_claims,
    verify_microsoft_id_token,
)
from ..clock import utcnow
from ..crypto import encrypt
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ..extensions import db
from ..orgs.models import User
from .mailbox_models import MAILBOX_PROVIDERS, ConnectedMailbox

GRAPH_SCOPES = ["Mail.Send"]  # MSAL adds offline_access (refresh token), openid and profile
GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
GMAIL_SCOPES = ["openid", "email", GMAIL_SEND_SCOPE]


class MailboxNeedsReconnect(Conflict):
    """The provider no longer honours the mailbox's tokens; the user must connect it again."""

    code = "mailbox_needs_reconnect"


def _provider(provider: str) -> str:
    if provider not in MAILBOX_PROVIDERS:
        raise BadRequest(f"Unknown mailbox provider {provider!r}.", field="provider")
    return provider


# --- listing and disconnecting ------------------------------------------------------------------


def list_mailboxes(user: User) -> list[ConnectedMailbox]:
    """The user's mailboxes that are connected or need reconnecting, oldest first."""
    return list(
        db.session.scalars(
            select(ConnectedMailbox)
            .where(
                ConnectedMailbox.org_id == user.org_id,
                ConnectedMailbox.user_id == user.id,
                ConnectedMailbox.status != "disconnected",
            )
            .order_by(ConnectedMailbox.connected_at, ConnectedMailbox.id)
        )
    )


def get_mailbox(user: User, mailbox_id: int) -> ConnectedMailbox:
    """One of the user's own mailboxes (not disconnected); 404 otherwise, also for other orgs."""
    mailbox = db.session.scalar(
        select(ConnectedMailbox).where(
            ConnectedMailbox.id == mailbox_id,
            ConnectedMailbox.org_id == user.org_id,
            ConnectedMailbox.user_id == user.id,
            ConnectedMailbox.status != "disconnected",
        )
    )
    if mailbox is None:
        raise NotFound("No such mailbox.", field="mailbox_id")
    return mailbox


def disconnect_mailbox(user: User, mailbox_id: int) -> None:
    """Disconnect one of the user's mailboxes: its tokens are deleted, the row is kept."""
    mailbox = get_mailbox(user, mailbox_id)
    mailbox.token_blob = None
    mailbox.status = "disconnected"
    mailbox.last_error = None
    db.session.commit()


# --- storing tokens -----------------------------------------------------------------------------


def store_tokens(mailbox: ConnectedMailbox, plaintext: str) -> None:
    """Encrypt and keep `plaintext` (a serialized token cache or token JSON) on the mailbox."""
    mailbox.token_blob = encrypt(plaintext)


def mark_needs_reconnect(mailbox: ConnectedMailbox, message: str) -> MailboxNeedsReconnect:
    """Record that the mailbox must be reconnected (commits the session); the error to raise."""
    mailbox.status = "needs_reconnect"
    mailbox.last_error = message[:1000]
    db.session.commit()
    return MailboxNeedsReconnect(message, mailbox_id=mailbox.id)


def upsert_mailbox(
    user: User, provider: str, account_id: str, address: str, connected_via: str
) -> ConnectedMailbox:
    """The user's mailbox row for this provider account, created or revived (not committed)."""
    mailbox = db.session.scalar(
        select(ConnectedMailbox).where(
            ConnectedMailbox.user_id == user.id,
            ConnectedMailbox.provider == provider,
            ConnectedMailbox.account_id == account_id,
        )
    )
    if mailbox is None:
        mailbox = ConnectedMailbox(
            org_id=user.org_id, user_id=user.id, provider=provider, account_id=account_id
        )
        db.session.add(mailbox)
    if mailbox.status != "connected" or mailbox.token_blob is None:
        mailbox.connected_at = utcnow()
        mailbox.connected_via = connected_via
    mailbox.address = address.strip().lower()
    mailbox.status = "connected"
    mailbox.last_error = None
    return mailbox


# --- connecting ---------------------------------------------------------------------------------


def start_mailbox_connect(provider: str, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """(provider URL to redirect to, flow to keep in the session) to connect a mailbox."""
    if _provider(provider) == "microsoft":
        flow = ms_auth_flow(GRAPH_SCOPES, redirect_uri)
    else:
        flow = google_auth_flow(GMAIL_SCOPES, redirect_uri, offline=True)
    return flow.pop("auth_uri"), flow


def _connect_microsoft(user: User, flow: dict[str, Any], response: dict) -> ConnectedMailbox:
    cache = msal.SerializableTokenCache()
    app = msal_app(cache)
    result = redeem_microsoft_code(app, flow, response)
    claims = verify_microsoft_id_token(result["id_token"], microsoft_nonce(flow))
    granted = str(result.get("scope") or "").split()
    if not any(scope.lower().endswith("mail.send") for scope in granted):
        raise Forbidden("Microsoft did not grant Mail.Send; allow Liaison to send mail as you.")
    accounts = app.get_accounts()
    if not accounts:
        raise Unauthorized("Microsoft sent no account information (client_info); try again.")
    address = claims.get("email") or claims.get("preferred_username") or ""
    if "@" not in address:
        raise Unauthorized("Microsoft's ID token names no mail address for this account.")
    mailbox = upsert_mailbox(user, "microsoft", accounts[0]["home_account_id"], address, "web")
    mailbox.scopes = " ".join(granted)
    store_tokens(mailbox, cache.serialize())
    return mailbox


def google_token_json(token_response: dict, refresh_token: str, scopes: list[str]) -> str:
    """The JSON kept (encrypted) for a Google mailbox."""
    expires_in = int(token_response.get("expires_in") or 3600)
    expiry = utcnow() + timedelta(seconds=expires_in)
    return json.dumps(
        {
            "access_token": token_response["access_token"],
            "refresh_token": refresh_token,
            "expiry": expiry.isoformat(),
            "scopes": scopes,
        }
    )


def _connect_google(user: User, flow: dict[str, Any], response: dict) -> ConnectedMailbox:
    token_response = google_redeem_code(flow, response["code"])
    claims = verified_google_claims(flow, token_response)
    granted = str(token_response.get("scope") or "").split()
    if GMAIL_SEND_SCOPE not in granted:
        raise Forbidden("Google did not grant gmail.send; allow Liaison to send mail as you.")
    refresh_token = token_response.get("refresh_token")
    if not refresh_token or not token_response.get("access_token"):
        raise Unauthorized("Google sent no refresh token; connect the mailbox again.")
    mailbox = upsert_mailbox(user, "google", str(claims["sub"]), str(claims["email"]), "web")
    mailbox.scopes = " ".join(granted)
    store_tokens(mailbox, google_token_json(token_response, refresh_token, granted))
    return mailbox


def finish_mailbox_connect(
    user: User, provider: str, flow: dict[str, Any] | None, response: dict
) -> ConnectedMailbox:
    """Redeem the provider's redirect `response` to `flow` and keep the mailbox's tokens."""
    check_auth_response(_provider(provider), flow, response)
    assert flow is not None
    connect = _connect_microsoft if provider == "microsoft" else _connect_google
    try:
        mailbox = connect(user, flow, response)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return mailbox
