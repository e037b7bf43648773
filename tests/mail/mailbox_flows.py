"""Connecting mailboxes through the web app against the fake authorization server, shared by
the mailbox tests."""

from sqlalchemy import select, text

from server.extensions import db
from server.mail.mailbox_models import ConnectedMailbox

TENANT = "7f1e0c3a-1111-4b2c-9d3e-00000000a001"
CSRF = "the-session-csrf-token"


def sign_in(client, user) -> None:
    """Make `client` a browser signed in to the web app as `user` (session CSRF token: CSRF)."""
    with client.session_transaction() as cookie:
        cookie["user_id"] = user.id
        cookie["csrf"] = CSRF


def connect(client, oauth, provider: str, account, deny: bool = False):
    """Start connecting a mailbox, consent at the fake provider as `account`; the callback."""
    start = client.get(f"/mailboxes/connect/{provider}")
    assert start.status_code == 302, start.get_data(True)
    return client.get(oauth.authorize(start.headers["Location"], account, deny=deny))


def connected(client, oauth, provider: str, email: str = "ada@contoso.example"):
    """(the mailbox, the provider account) after connecting a new account successfully."""
    account = (
        oauth.microsoft_account(TENANT, email)
        if provider == "microsoft"
        else oauth.google_account(email)
    )
    response = connect(client, oauth, provider, account)
    assert response.status_code == 302, response.get_data(True)
    assert response.headers["Location"] == "/settings"
    mailbox = db.session.scalar(
        select(ConnectedMailbox).where(ConnectedMailbox.account_id == account_id(account))
    )
    return mailbox, account


def account_id(account) -> str:
    return account.home_account_id if account.provider == "microsoft" else account.sub


def stored_blob(mailbox_id: int) -> str | None:
    """The token column exactly as stored in the database."""
    return db.session.execute(
        text("SELECT token_blob FROM connected_mailboxes WHERE id = :id"), {"id": mailbox_id}
    ).scalar()


def fresh(mailbox: ConnectedMailbox) -> ConnectedMailbox:
    """The mailbox re-read from the database."""
    db.session.expire_all()
    return db.session.get(ConnectedMailbox, mailbox.id)
