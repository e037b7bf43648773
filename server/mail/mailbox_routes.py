"""Connected mailboxes over HTTP.

Pages (web session): GET /mailboxes/connect/microsoft|google sends the browser to the provider;
GET /mailboxes/callback/microsoft|google keeps the mailbox and returns to /settings.
API: GET /api/mailboxes, DELETE /api/mailboxes/<mailbox_id>, and POST /api/mailboxes/outlook
(the Outlook pane connects its user's mailbox with its Microsoft token, via on-behalf-of).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, List, Nested, String
from flask import redirect, request, session, url_for

from ..auth.guard import auth_required, current_user, resolve_user
from ..auth.signin_routes import error_page, external_url, local_path
from ..auth.tokens import TOKEN_PREFIX
from ..errors import BadRequest, Forbidden, ServiceError
from ..fields import Id
from .mailbox_tokens import connect_outlook_mailbox
from .mailboxes import (
    disconnect_mailbox,
    finish_mailbox_connect,
    list_mailboxes,
    start_mailbox_connect,
)

bp = APIBlueprint("mailboxes", __name__)
SESSION_KEY = "liaison.mailbox_connect"
AFTER_CONNECT = "/settings"


class MailboxOut(Schema):
    id = Id()
    provider = String(metadata={"description": "microsoft or google"})
    address = String()
    status = String(metadata={"description": "connected or needs_reconnect"})
    last_error = String(allow_none=True, metadata={"description": "why it needs reconnecting"})
    connected_via = String(metadata={"description": "web (connected in the web app) or outlook"})
    scopes = String(metadata={"description": "granted scopes, space-separated"})
    connected_at = DateTime()


class ConnectedMailboxOut(MailboxOut):
    """The mailbox the Outlook pane just connected."""


class MailboxListOut(Schema):
    items = List(Nested(MailboxOut))


# --- pages: connect a mailbox from the web app ----------------------------------------------------


def _page_error(error: ServiceError):
    return error_page(error.status, "The mailbox was not connected", error.message)


def _start(provider: str):
    try:
        user = resolve_user()
        if user is None:
            return redirect(url_for("web.signin", next=request.path))
        url, flow = start_mailbox_connect(provider, external_url(f"mailboxes.callback_{provider}"))
    except ServiceError as error:
        return _page_error(error)
    session[SESSION_KEY] = {
        "provider": provider,
        "user_id": user.id,
        "flow": flow,
        "next": local_path(request.args.get("next") or AFTER_CONNECT),
    }
    return redirect(url, 302)


def _finish(provider: str):
    pending = session.pop(SESSION_KEY, None) or {}
    try:
        user = resolve_user()
        if user is None:
            return redirect(url_for("web.signin", next=AFTER_CONNECT))
        if pending and pending.get("user_id") != user.id:
            raise Forbidden("This mailbox connection was started by another user; start again.")
        flow = pending.get("flow") if pending.get("provider") == provider else None
        finish_mailbox_connect(user, provider, flow, request.args.to_dict())
    except ServiceError as error:
        return _page_error(error)
    return redirect(local_path(pending.get("next") or AFTER_CONNECT), 302)


@bp.get("/mailboxes/connect/microsoft")
@bp.doc(hide=True)
def connect_microsoft():
    """Send the browser to Microsoft to allow Liaison to send mail (Mail.Send)."""
    return _start("microsoft")


@bp.get("/mailboxes/connect/google")
@bp.doc(hide=True)
def connect_google():
    """Send the browser to Google to allow Liaison to send mail (gmail.send)."""
    return _start("google")


@bp.get("/mailboxes/callback/microsoft")
@bp.doc(hide=True)
def callback_microsoft():
    """Microsoft redirects here with the code; keep the mailbox."""
    return _finish("microsoft")


@bp.get("/mailboxes/callback/google")
@bp.doc(hide=True)
def callback_google():
    """Google redirects here with the code; keep the mailbox."""
    return _finish("google")


# --- API ----------------------------------------------------------------------------------------


@bp.get("/api/mailboxes")
@bp.output(MailboxListOut)
@bp.doc(summary="My connected mailboxes (never their tokens)")
@auth_required()
def mailboxes_list():
    return {"items": list_mailboxes(current_user())}


@bp.delete("/api/mailboxes/<int:mailbox_id>")
@bp.output({}, status_code=204)
@bp.doc(summary="Disconnect one of my mailboxes; its stored tokens are deleted")
@auth_required()
def mailboxes_disconnect(mailbox_id: int):
    disconnect_mailbox(current_user(), mailbox_id)
    return ""


@bp.post("/api/mailboxes/outlook")
@bp.output(ConnectedMailboxOut, status_code=201)
@bp.doc(
    summary="Connect my Outlook mailbox from the Outlook pane",
    description="Send the pane's Microsoft identity token as the bearer; the server exchanges "
    "it (MSAL on-behalf-of) for a Graph token allowed to send mail as you and keeps it encrypted.",
)
@auth_required()
def mailboxes_connect_outlook():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or token.startswith(TOKEN_PREFIX)
        or token.count(".") != 2
    ):
        raise BadRequest(
            "Send the Outlook pane's Microsoft token as the bearer to connect its mailbox.",
            field="Authorization",
        )
    mailbox, _ = connect_outlook_mailbox(token)
    return mailbox
