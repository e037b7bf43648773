"""Web app pages: sign-in (the demo's user picker), sign-out, home and settings. The record pages
live in record_pages.py on the same blueprint."""

from __future__ import annotations

import hmac
import ipaddress

from flask import current_app, redirect, render_template, request, session, url_for
from sqlalchemy import select

from ...auth.guard import login_session, logout_session, resolve_user
from ...auth.tokens import create_api_token, list_api_tokens, revoke_api_token
from ...errors import Forbidden, NotFound
from ...extensions import db
from ...mail.mailboxes import disconnect_mailbox, list_mailboxes
from ...orgs.models import User
from ...orgs.settings import effective_settings
from . import (
    notification_pages,  # noqa: F401  (the bell and the notification list)
    record_pages,  # noqa: F401  (registers the record pages on bp)
    tracking_pages,  # noqa: F401  (my tracked emails and the activity feed)
)
from .blueprint import bp, safe_next, signed_in
from .queries import demo_users, home_counts, open_deals_of, open_tickets_of

SETTING_LABELS = {
    "log_by_default": "Log emails by default",
    "default_association_types": "Associate with by default",
    "allow_tracking": "Tracking allowed",
    "track_by_default": "Track emails by default",
    "never_log_addresses": "Never log these addresses (organization)",
    "never_log_domains": "Never log these domains (organization)",
    "user_never_log_addresses": "Never log these addresses (mine)",
    "user_never_log_domains": "Never log these domains (mine)",
    "data_privacy": "Data privacy (GDPR legal basis required)",
    "create_contacts_for_unknown": "Create contacts for unknown addresses",
    "org_address": "Organization address",
    "edition": "Edition",
    "log_internal_mail": "Log mail between colleagues",
    "email_privacy_minimum": "Least privacy for logged emails",
}


PLURAL_LABELS = {"contact": "Contacts", "company": "Companies", "deal": "Deals",
                 "ticket": "Tickets", "custom": "Custom records"}  # fmt: skip


def from_loopback() -> bool:
    """True when the request comes from this machine (the only place demo sign-in works)."""
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _demo_allowed() -> None:
    if not current_app.config.get("DEMO"):
        raise NotFound("Demo sign-in is only available in demo mode (liaison demo).")
    if not from_loopback():
        raise Forbidden("Demo sign-in only accepts requests from this machine (loopback).")


@bp.get("/signin")
def signin():
    """The sign-in page: pick a demo user in demo mode; otherwise how to sign in."""
    next_path = safe_next(request.args.get("next"))
    users = None
    if current_app.config.get("DEMO"):
        _demo_allowed()
        users = demo_users()
    return render_template(
        "web/signin.html", users=users, next_path=next_path, providers=_providers(next_path)
    )


def _configured_providers() -> list[str]:
    """Names of the identity providers this deployment has an app registration for."""
    config = current_app.config
    return [
        name
        for key, name in (("MS", "Microsoft"), ("GOOGLE", "Google"))
        if config.get(f"{key}_CLIENT_ID") and config.get(f"{key}_CLIENT_SECRET")
    ]


def _providers(next_path: str) -> list[tuple[str, str]]:
    """(name, sign-in URL) of each identity provider this deployment is configured for."""
    return [
        (name, url_for(f"signin.signin_{name.lower()}", next=next_path))
        for name in _configured_providers()
    ]


@bp.post("/signin")
def signin_post():
    """Demo sign-in as the chosen user (loopback only, CSRF-checked)."""
    _demo_allowed()
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise Forbidden("The form expired or did not come from this site; reload and try again.")
    try:
        user_id = int(request.form.get("user_id", ""))
    except ValueError:
        raise NotFound("Pick a user from the list.") from None
    user = db.session.scalar(select(User).where(User.id == user_id, User.is_active.is_(True)))
    if user is None:
        raise NotFound("That user does not exist or is not active.")
    login_session(user)
    return redirect(safe_next(request.form.get("next")), 303)


@bp.post("/signout")
def signout():
    """End the web session (CSRF-checked) and go back to the sign-in page."""
    if resolve_user() is not None:  # a session user: the guard has checked the CSRF token
        logout_session()
    return redirect(url_for("web.signin"), 303)


@bp.get("/")
@signed_in
def home(user: User):
    """Counts, the user's open deals and tickets, and links."""
    return render_template(
        "web/home.html",
        counts=home_counts(user.org_id),
        deals=open_deals_of(user.org_id, user.id),
        tickets=open_tickets_of(user.org_id, user.id),
    )


PRIVACY_LABELS = {
    "full": "Full: subject and content",
    "subject": "Subject: subject and parties, no content",
    "metadata": "Metadata: parties and time only",
}


def _shown(key: str, value: object) -> str:
    """A setting's value as words: On/Off, lists joined, record types by their plural."""
    if key == "email_privacy_minimum":
        return PRIVACY_LABELS.get(str(value), str(value))
    if isinstance(value, bool):
        return "On" if value else "Off"
    if value is None or value == []:
        return "None"
    if key == "default_association_types":
        return ", ".join(PLURAL_LABELS.get(v, v) for v in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).capitalize() if key == "edition" else str(value)


@bp.get("/settings")
@signed_in
def settings(user: User):
    """The caller's effective settings (with the org's locks), mailboxes and API tokens."""
    return _settings_page(user)


def _settings_page(user: User, new_token: str | None = None, status: int = 200):
    rows = [
        {"label": SETTING_LABELS.get(key, key), "value": _shown(key, item["value"]),
         "locked": item["locked"]}
        for key, item in effective_settings(user).items()
    ]  # fmt: skip
    connect = [
        (name, url_for(f"mailboxes.connect_{name.lower()}")) for name in _configured_providers()
    ]
    page = render_template(
        "web/settings.html", rows=rows, mailboxes=list_mailboxes(user), connect=connect,
        tokens=list_api_tokens(user), new_token=new_token,
    )  # fmt: skip
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/settings/tokens")
@signed_in
def token_create(user: User):
    """Create a personal API token and show it on the settings page, this once (never stored)."""
    _, plaintext = create_api_token(user, request.form.get("name", ""))
    return _settings_page(user, new_token=plaintext, status=201)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@signed_in
def token_revoke(user: User, token_id: int):
    """Revoke one of my API tokens, then back to the settings."""
    revoke_api_token(user, token_id)
    return redirect(url_for("web.settings", _anchor="tokens"), 303)


@bp.post("/settings/mailboxes/<int:mailbox_id>/disconnect")
@signed_in
def mailbox_disconnect(user: User, mailbox_id: int):
    """Disconnect one of my mailboxes (its tokens are deleted), then back to the settings."""
    disconnect_mailbox(user, mailbox_id)
    return redirect(url_for("web.settings"))
