"""Tokens of connected mailboxes for the transports (Mail plumbing #3, item 4): MSAL refresh
from the encrypted cache, google-auth refresh, needs_reconnect when the grant is revoked, and
MSAL on-behalf-of from the Outlook pane's token — against the fake authorization server."""

import json

import pytest
from factories import ApiClient, make_org, make_user
from sqlalchemy import select

from server.crypto import decrypt
from server.errors import Unauthorized
from server.extensions import db
from server.mail.mailbox_models import ConnectedMailbox
from server.mail.mailbox_tokens import (
    google_credentials_for,
    graph_token_for,
    graph_token_on_behalf_of,
)
from server.mail.mailboxes import GMAIL_SEND_SCOPE, MailboxNeedsReconnect
from server.orgs.models import User

from .mailbox_flows import TENANT, connect, connected, fresh, sign_in, stored_blob


@pytest.fixture
def org():
    return make_org(name="Contoso", tenant_id=TENANT, domain="contoso.example")


@pytest.fixture
def rep(client, org):
    """A rep signed in to the web app in `client`."""
    user = make_user(org, email="ada@contoso.example")
    sign_in(client, user)
    return user


# --- tokens for the transports ----------------------------------------------------------------


def test_graph_token_comes_from_the_cache_then_is_refreshed_and_stored(client, oauth, rep):
    oauth.access_token_lifetime = 60  # MSAL renews tokens that expire within five minutes
    mailbox, _ = connected(client, oauth, "microsoft")
    (first_token,) = oauth.access_tokens
    blob_before = stored_blob(mailbox.id)
    oauth.access_token_lifetime = 3600

    token = graph_token_for(mailbox)

    assert token != first_token and oauth.grant_of(token).account.email == "ada@contoso.example"
    assert len(oauth.token_requests("refresh_token")) == 1
    blob_after = stored_blob(mailbox.id)
    assert blob_after != blob_before and token not in blob_after
    assert token in decrypt(blob_after).decode()
    assert graph_token_for(fresh(mailbox)) == token  # cached now: no second refresh
    assert len(oauth.token_requests("refresh_token")) == 1


def test_revoked_microsoft_grant_marks_the_mailbox_needs_reconnect(client, oauth, rep):
    oauth.access_token_lifetime = 60
    mailbox, account = connected(client, oauth, "microsoft")
    oauth.revoke(account)

    with pytest.raises(MailboxNeedsReconnect, match="connect the mailbox again") as raised:
        graph_token_for(mailbox)

    assert raised.value.status == 409 and raised.value.code == "mailbox_needs_reconnect"
    mailbox = fresh(mailbox)
    assert mailbox.status == "needs_reconnect" and "AADSTS50173" in mailbox.last_error
    (listed,) = client.get("/api/mailboxes").json["items"]
    assert listed["status"] == "needs_reconnect" and listed["last_error"] == mailbox.last_error
    with pytest.raises(MailboxNeedsReconnect):
        graph_token_for(mailbox)  # refused at once, no further call to Microsoft
    assert len(oauth.token_requests("refresh_token")) == 1

    connect(client, oauth, "microsoft", account)

    mailbox = fresh(mailbox)
    assert (mailbox.status, mailbox.last_error) == ("connected", None)
    assert graph_token_for(mailbox)


def test_google_credentials_refresh_with_google_auth_and_are_stored(client, oauth, rep):
    oauth.access_token_lifetime = 60
    mailbox, _ = connected(client, oauth, "google")
    (first_token,) = oauth.access_tokens
    (refresh_token,) = oauth.refresh_tokens
    oauth.access_token_lifetime = 3600

    credentials = google_credentials_for(mailbox)

    assert credentials.valid and credentials.token != first_token
    assert credentials.refresh_token == refresh_token
    assert credentials.token_uri == f"{oauth.url}/token"
    assert GMAIL_SEND_SCOPE in credentials.scopes
    (refresh,) = oauth.token_requests("refresh_token")
    assert refresh["refresh_token"] == refresh_token
    stored = json.loads(decrypt(stored_blob(mailbox.id)))
    assert (stored["access_token"], stored["refresh_token"]) == (credentials.token, refresh_token)
    assert google_credentials_for(fresh(mailbox)).token == credentials.token
    assert len(oauth.token_requests("refresh_token")) == 1


def test_revoked_google_grant_marks_the_mailbox_needs_reconnect(client, oauth, rep):
    oauth.access_token_lifetime = 60
    mailbox, account = connected(client, oauth, "google")
    oauth.revoke(account)

    with pytest.raises(MailboxNeedsReconnect, match="Google refused to renew access"):
        google_credentials_for(mailbox)

    mailbox = fresh(mailbox)
    assert mailbox.status == "needs_reconnect"
    assert "Token has been expired or revoked." in mailbox.last_error


# --- on-behalf-of (the Outlook pane) ----------------------------------------------------------


def test_on_behalf_of_exchanges_the_pane_token_and_keeps_the_cache_encrypted(app, oauth, org):
    account = oauth.microsoft_account(TENANT, "grace@contoso.example", name="Grace Hopper")
    pane_token = oauth.pane_token(account)

    token = graph_token_on_behalf_of(pane_token)

    (request,) = oauth.token_requests()
    assert request["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert request["requested_token_use"] == "on_behalf_of"
    assert request["assertion"] == pane_token
    assert "Mail.Send" in request["scope"].split()
    assert oauth.grant_of(token).account.oid == account.oid
    mailbox = db.session.scalar(select(ConnectedMailbox))
    assert (mailbox.address, mailbox.connected_via, mailbox.account_id) == (
        "grace@contoso.example",
        "outlook",
        account.home_account_id,
    )
    assert db.session.get(User, mailbox.user_id).email == "grace@contoso.example"
    blob = stored_blob(mailbox.id)
    assert token not in blob and token in decrypt(blob).decode()
    assert graph_token_on_behalf_of(pane_token) == token  # from the cache
    assert graph_token_for(fresh(mailbox)) == token  # what a worker uses later
    assert len(oauth.token_requests()) == 1


def test_outlook_pane_connects_its_mailbox_through_the_api(client, oauth, org):
    account = oauth.microsoft_account(TENANT, "grace@contoso.example")

    response = client.post(
        "/api/mailboxes/outlook", headers={"Authorization": f"Bearer {oauth.pane_token(account)}"}
    )

    assert response.status_code == 201, response.json
    assert (response.json["provider"], response.json["connected_via"]) == ("microsoft", "outlook")
    assert "access_token" not in response.get_data(True)
    api = ApiClient(client, make_user(org))
    refused = api.post("/api/mailboxes/outlook")
    assert refused.status_code == 400 and refused.json["error"]["field"] == "Authorization"


def test_on_behalf_of_for_an_unknown_tenant_is_refused(app, oauth, org):
    stranger = oauth.microsoft_account("0b0b0b0b-2222-4c3d-8e9f-00000000b002", "eve@f.example")

    with pytest.raises(Unauthorized, match="tenant is not connected"):
        graph_token_on_behalf_of(oauth.pane_token(stranger))
    assert oauth.token_requests() == []
