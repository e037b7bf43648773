"""Connected mailboxes (Mail plumbing #3, item 5): connect with the authorization-code flow,
list, disconnect (tokens deleted); tokens encrypted at rest (item 4)."""

import json

import pytest
from cryptography.fernet import Fernet
from factories import ApiClient, make_org, make_user
from sqlalchemy import select

from server.crypto import UnreadableSecret, decrypt, derive_key, encrypt, reencrypt
from server.extensions import db
from server.mail.mailbox_models import ConnectedMailbox
from server.mail.mailbox_tokens import graph_token_for
from server.mail.mailboxes import GMAIL_SEND_SCOPE, MailboxNeedsReconnect

from .mailbox_flows import CSRF, TENANT, connect, connected, fresh, sign_in, stored_blob


@pytest.fixture
def org():
    return make_org(name="Contoso", tenant_id=TENANT, domain="contoso.example")


@pytest.fixture
def rep(client, org):
    """A rep signed in to the web app in `client`."""
    user = make_user(org, email="ada@contoso.example")
    sign_in(client, user)
    return user


# --- connecting -----------------------------------------------------------------------------------


def test_microsoft_mailbox_keeps_its_msal_cache_encrypted(client, oauth, rep):
    start = client.get("/mailboxes/connect/microsoft")
    scopes = start.headers["Location"].split("scope=", 1)[1].split("&", 1)[0]
    assert "Mail.Send" in scopes and "offline_access" in scopes

    mailbox, account = connected(client, oauth, "microsoft")

    assert (mailbox.user_id, mailbox.org_id, mailbox.provider) == (rep.id, rep.org_id, "microsoft")
    assert (mailbox.address, mailbox.status, mailbox.connected_via) == (
        "ada@contoso.example",
        "connected",
        "web",
    )
    assert "Mail.Send" in mailbox.scopes.split()
    (access_token,) = oauth.access_tokens
    (refresh_token,) = oauth.refresh_tokens
    blob = stored_blob(mailbox.id)
    assert access_token not in blob and refresh_token not in blob and "Mail.Send" not in blob
    cache = json.loads(decrypt(blob))
    assert access_token in json.dumps(cache["AccessToken"])
    assert refresh_token in json.dumps(cache["RefreshToken"])


def test_google_mailbox_keeps_its_tokens_encrypted(client, oauth, rep):
    start = client.get("/mailboxes/connect/google")
    assert "access_type=offline" in start.headers["Location"]
    assert "gmail.send" in start.headers["Location"]

    mailbox, account = connected(client, oauth, "google")

    assert (mailbox.provider, mailbox.account_id, mailbox.address) == (
        "google",
        account.sub,
        "ada@contoso.example",
    )
    assert GMAIL_SEND_SCOPE in mailbox.scopes.split()
    (access_token,) = oauth.access_tokens
    (refresh_token,) = oauth.refresh_tokens
    blob = stored_blob(mailbox.id)
    assert access_token not in blob and refresh_token not in blob
    stored = json.loads(decrypt(blob))
    assert (stored["access_token"], stored["refresh_token"]) == (access_token, refresh_token)


def test_connecting_needs_a_signed_in_user(client, oauth):
    response = client.get("/mailboxes/connect/microsoft")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


def test_connect_with_another_state_is_refused_and_keeps_nothing(client, oauth, rep):
    start = client.get("/mailboxes/connect/google")
    callback = oauth.authorize(start.headers["Location"], oauth.google_account("a@contoso.example"))

    response = client.get(callback.replace("state=", "state=x"))

    assert response.status_code == 400
    assert "state mismatch" in response.get_data(True)
    assert db.session.scalar(select(ConnectedMailbox)) is None


def test_declined_consent_keeps_nothing(client, oauth, rep):
    response = connect(
        client, oauth, "microsoft", oauth.microsoft_account(TENANT, "a@c.example"), True
    )
    assert response.status_code == 401
    assert "declined" in response.get_data(True)
    assert db.session.scalar(select(ConnectedMailbox)) is None


# --- listing and disconnecting ----------------------------------------------------------------


def test_list_shows_connected_mailboxes_and_never_their_tokens(client, oauth, rep):
    microsoft, _ = connected(client, oauth, "microsoft")
    google, _ = connected(client, oauth, "google", "ada@gmail.example")

    response = client.get("/api/mailboxes")

    assert response.status_code == 200
    items = response.json["items"]
    assert [(i["id"], i["provider"], i["address"], i["status"]) for i in items] == [
        (microsoft.id, "microsoft", "ada@contoso.example", "connected"),
        (google.id, "google", "ada@gmail.example", "connected"),
    ]
    assert set(items[0]) == {
        "id", "provider", "address", "status", "last_error", "connected_via", "scopes",
        "connected_at",
    }  # fmt: skip
    body = response.get_data(True)
    for token in [*oauth.access_tokens, *oauth.refresh_tokens]:
        assert token not in body


def test_disconnect_deletes_the_tokens(client, oauth, rep):
    mailbox, _ = connected(client, oauth, "microsoft")
    assert client.delete(f"/api/mailboxes/{mailbox.id}").status_code == 403  # no CSRF token

    response = client.delete(f"/api/mailboxes/{mailbox.id}", headers={"X-CSRF-Token": CSRF})

    assert response.status_code == 204
    assert stored_blob(mailbox.id) is None
    assert fresh(mailbox).status == "disconnected"
    assert client.get("/api/mailboxes").json["items"] == []
    again = client.delete(f"/api/mailboxes/{mailbox.id}", headers={"X-CSRF-Token": CSRF})
    assert again.status_code == 404
    with pytest.raises(MailboxNeedsReconnect, match="disconnected"):
        graph_token_for(fresh(mailbox))


def test_someone_elses_mailbox_is_404(client, oauth, rep, org):
    mailbox, _ = connected(client, oauth, "google")
    colleague = ApiClient(client, make_user(org))
    stranger = ApiClient(client, make_user(make_org(), role="super_admin"))

    for caller in (colleague, stranger):
        assert caller.get("/api/mailboxes").json["items"] == []
        assert caller.delete(f"/api/mailboxes/{mailbox.id}").status_code == 404
    assert fresh(mailbox).status == "connected"


def test_reconnecting_the_same_account_updates_its_row(client, oauth, rep):
    account = oauth.google_account("ada@contoso.example")
    connect(client, oauth, "google", account)
    first = db.session.scalar(select(ConnectedMailbox))
    first_blob = stored_blob(first.id)

    connect(client, oauth, "google", account)

    rows = db.session.scalars(select(ConnectedMailbox)).all()
    assert [r.id for r in rows] == [first.id]
    assert stored_blob(first.id) != first_blob


# --- encryption at rest -----------------------------------------------------------------------


def test_tokens_are_encrypted_with_a_key_derived_from_the_secret_key(app):
    ciphertext = encrypt("refresh-token-123")
    assert "refresh-token-123" not in ciphertext
    assert decrypt(ciphertext) == b"refresh-token-123"
    Fernet(derive_key(app.config["SECRET_KEY"])).decrypt(ciphertext.encode())


def test_token_key_rotation_keeps_old_values_readable(app, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "TOKEN_KEY", old)
    ciphertext = encrypt("secret")
    monkeypatch.setitem(app.config, "TOKEN_KEY", f"{new},{old}")

    assert decrypt(ciphertext) == b"secret"
    rotated = reencrypt(ciphertext)
    monkeypatch.setitem(app.config, "TOKEN_KEY", new)
    assert decrypt(rotated) == b"secret"
    with pytest.raises(UnreadableSecret, match="reconnect the mailbox"):
        decrypt(ciphertext)
