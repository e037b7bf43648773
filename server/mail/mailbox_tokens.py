"""Usable tokens for a connected mailbox, for the Graph and Gmail transports.

- `graph_token_for(mailbox)`: a Graph access token (Mail.Send) from the mailbox's MSAL cache,
  refreshed by MSAL (`acquire_token_silent`) when due; the changed cache is stored back.
- `google_credentials_for(mailbox)`: google.oauth2 Credentials, refreshed with google-auth at
  GOOGLE_TOKEN_URI when they expire within five minutes; refreshed tokens are stored back.
- `graph_token_on_behalf_of(user_assertion)`: the Outlook pane's Microsoft token exchanged with
  MSAL's on-behalf-of flow for a Graph token as that user; the user's cache is kept, encrypted,
  on their Outlook mailbox row, so later sends (from a worker) use `graph_token_for`.

When the provider refuses the refresh token (revoked, expired, consent withdrawn) the mailbox
becomes `needs_reconnect` and MailboxNeedsReconnect (409) is raised; when the provider cannot be
reached, ProviderUnavailable (503, retry later). Storing tokens or a status commits the session.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import google.auth.transport.requests
import msal
import requests
from google.auth import exceptions as google_exceptions
from google.oauth2.credentials import Credentials

from ..auth.microsoft import user_for_microsoft_claims, verify_microsoft_token
from ..auth.oauth_clients import ProviderUnavailable, google_client, google_token_uri, msal_app
from ..clock import utcnow
from ..crypto import decrypt
from ..errors import Unauthorized
from ..extensions import db
from .mailbox_models import ConnectedMailbox
from .mailboxes import (
    GRAPH_SCOPES,
    MailboxNeedsReconnect,
    mark_needs_reconnect,
    store_tokens,
    upsert_mailbox,
)

REFRESH_MARGIN = timedelta(minutes=5)
# OAuth errors that mean the stored grant is dead and only the user can revive it
RECONNECT_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required"})


def _usable_blob(mailbox: ConnectedMailbox, provider: str) -> bytes:
    """The decrypted tokens of a connected mailbox of `provider`."""
    if mailbox.provider != provider:
        raise ValueError(f"mailbox {mailbox.id} is a {mailbox.provider} mailbox, not {provider}")
    if mailbox.status != "connected" or not mailbox.token_blob:
        reason = mailbox.last_error or (
            "it was disconnected" if mailbox.status == "disconnected" else "no tokens are stored"
        )
        raise MailboxNeedsReconnect(
            f"The mailbox {mailbox.address} cannot send: {reason}", mailbox_id=mailbox.id
        )
    return decrypt(mailbox.token_blob)


# --- Microsoft ----------------------------------------------------------------------------------


def _load_cache(blob: bytes | None) -> msal.SerializableTokenCache:
    cache = msal.SerializableTokenCache()
    if blob:
        cache.deserialize(blob.decode("utf-8"))
    return cache


def _silent(app: msal.ConfidentialClientApplication, account_id: str) -> dict | None:
    """MSAL's silent acquisition for the mailbox's account (a mailbox's cache holds one account;
    its home id can differ from `oid.tid` for a guest, whose home tenant is elsewhere)."""
    accounts = app.get_accounts()
    account = next((a for a in accounts if a["home_account_id"] == account_id), None)
    if account is None and len(accounts) == 1:
        account = accounts[0]
    try:
        return app.acquire_token_silent_with_error(GRAPH_SCOPES, account)
    except OSError as exc:  # requests' errors are OSErrors
        raise ProviderUnavailable(
            f"Microsoft's token endpoint could not be reached: {exc}"
        ) from exc


def graph_token_for(mailbox: ConnectedMailbox) -> str:
    """A Graph access token for the Microsoft mailbox, refreshed by MSAL when due."""
    cache = _load_cache(_usable_blob(mailbox, "microsoft"))
    result = _silent(msal_app(cache), mailbox.account_id)
    if result is None or result.get("error") in RECONNECT_ERRORS:
        detail = "no refresh token is stored" if result is None else _ms_error(result)
        raise mark_needs_reconnect(
            mailbox,
            f"Microsoft refused to renew access to {mailbox.address} ({detail}); "
            "connect the mailbox again.",
        )
    if "error" in result:
        raise ProviderUnavailable(f"Microsoft did not renew the Graph token: {_ms_error(result)}")
    if cache.has_state_changed:
        store_tokens(mailbox, cache.serialize())
        db.session.commit()
    return result["access_token"]


def _ms_error(result: dict) -> str:
    return str(result.get("error_description") or result.get("error"))[:500]


def _outlook_mailbox(claims: dict) -> ConnectedMailbox:
    user = user_for_microsoft_claims(claims)
    address = claims.get("email") or claims.get("preferred_username") or claims.get("upn") or ""
    if "@" not in address:
        raise Unauthorized("The Outlook token names no mail address for this user.")
    return upsert_mailbox(user, "microsoft", f"{claims['oid']}.{claims['tid']}", address, "outlook")


def connect_outlook_mailbox(user_assertion: str) -> tuple[ConnectedMailbox, str]:
    """(the user's Outlook mailbox, a Graph token) from the pane's token, via on-behalf-of."""
    claims = verify_microsoft_token(user_assertion)
    account_id = f"{claims['oid']}.{claims['tid']}"
    mailbox = _outlook_mailbox(claims)
    cache = _load_cache(decrypt(mailbox.token_blob) if mailbox.token_blob else None)
    app = msal_app(cache)
    result = _silent(app, account_id) if mailbox.token_blob else None
    if not result or "error" in result:
        try:
            result = app.acquire_token_on_behalf_of(user_assertion, GRAPH_SCOPES)
        except OSError as exc:
            db.session.rollback()
            raise ProviderUnavailable(f"Microsoft could not be reached: {exc}") from exc
    if "error" in result:
        db.session.rollback()
        raise Unauthorized(f"Microsoft did not give a Graph token for you: {_ms_error(result)}")
    if cache.has_state_changed or mailbox.token_blob is None:
        store_tokens(mailbox, cache.serialize())
        mailbox.scopes = str(result.get("scope") or " ".join(GRAPH_SCOPES))
    db.session.commit()
    return mailbox, result["access_token"]


def graph_token_on_behalf_of(user_assertion: str) -> str:
    """A Graph token (Mail.Send) as the user of the Outlook pane's token `user_assertion`."""
    return connect_outlook_mailbox(user_assertion)[1]


# --- Google -------------------------------------------------------------------------------------


def _naive_utc(value: str | None) -> datetime | None:
    """google-auth keeps expiry as a naive UTC datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)


def _refresh_google(mailbox: ConnectedMailbox, credentials: Credentials) -> None:
    request = google.auth.transport.requests.Request(session=requests.Session())
    try:
        credentials.refresh(request)
    except google_exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):
            raise ProviderUnavailable(f"Google did not renew the token: {exc}") from exc
        raise mark_needs_reconnect(
            mailbox,
            f"Google refused to renew access to {mailbox.address} ({exc.args[0]}); "
            "connect the mailbox again.",
        ) from exc
    except google_exceptions.TransportError as exc:
        raise ProviderUnavailable(f"Google's token endpoint could not be reached: {exc}") from exc


def google_credentials_for(mailbox: ConnectedMailbox) -> Credentials:
    """Credentials for the Google mailbox, refreshed (and stored) when they expire soon."""
    data = json.loads(_usable_blob(mailbox, "google"))
    client_id, secret = google_client()
    credentials = Credentials(
        token=data["access_token"],
        refresh_token=data["refresh_token"],
        token_uri=google_token_uri(),
        client_id=client_id,
        client_secret=secret,
        scopes=data.get("scopes"),
        expiry=_naive_utc(data.get("expiry")),
    )
    now = utcnow().replace(tzinfo=None)
    if credentials.expiry is None or credentials.expiry - REFRESH_MARGIN <= now:
        _refresh_google(mailbox, credentials)
        expiry = credentials.expiry.replace(tzinfo=UTC) if credentials.expiry else None
        data.update(
            access_token=credentials.token,
            refresh_token=credentials.refresh_token or data["refresh_token"],
            expiry=expiry.isoformat() if expiry else None,
        )
        store_tokens(mailbox, json.dumps(data))
        db.session.commit()
    return credentials
