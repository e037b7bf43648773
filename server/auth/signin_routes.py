"""Web sign-in pages: /auth/signin/<provider> redirects to Microsoft or Google, and
/auth/callback/<provider> finishes the sign-in, starts the session and goes home (or `next`).

The redirect URIs to register with the providers are BASE_URL + /auth/callback/microsoft and
BASE_URL + /auth/callback/google. Problems render an HTML page with the reason: a response that
does not match a sign-in started in this browser is 400; an unknown tenant or domain is refused.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from jinja2 import TemplateNotFound
from markupsafe import escape

from ..errors import ServiceError
from .guard import login_session
from .web_signin import finish_signin, start_signin

bp = Blueprint("signin", __name__)
SESSION_KEY = "liaison.signin"
_TITLES = {400: "Sign-in failed", 401: "Sign-in refused", 403: "Sign-in refused"}


def error_page(status: int, title: str, message: str):
    """An HTML error page (the web app's, or a bare one when its templates are absent)."""
    try:
        body = render_template(
            "web/error.html", status=status, title=title, message=message, user=None
        )
    except TemplateNotFound:
        body = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
        body += f"<p>{escape(message)}</p><p><a href='/signin'>Back to sign-in</a></p>"
    return body, status


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    return error_page(error.status, _TITLES.get(error.status, "Sign-in failed"), error.message)


def external_url(endpoint: str) -> str:
    """The public URL of `endpoint` under BASE_URL (what the provider redirects back to)."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint)


def local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else home (never an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _start(provider: str):
    url, flow = start_signin(provider, external_url(f"signin.callback_{provider}"))
    session[SESSION_KEY] = {
        "provider": provider,
        "flow": flow,
        "next": local_path(request.args.get("next")),
    }
    return redirect(url, 302)


def _finish(provider: str):
    pending = session.pop(SESSION_KEY, None) or {}
    flow = pending.get("flow") if pending.get("provider") == provider else None
    user = finish_signin(provider, flow, request.args.to_dict())
    login_session(user)
    return redirect(local_path(pending.get("next")), 302)


@bp.get("/auth/signin/microsoft")
def signin_microsoft():
    """Send the browser to Microsoft to sign in (work or school account)."""
    return _start("microsoft")


@bp.get("/auth/signin/google")
def signin_google():
    """Send the browser to Google to sign in (Workspace account)."""
    return _start("google")


@bp.get("/auth/callback/microsoft")
def callback_microsoft():
    """Microsoft redirects here with the code; sign the user in."""
    return _finish("microsoft")


@bp.get("/auth/callback/google")
def callback_google():
    """Google redirects here with the code; sign the user in."""
    return _finish("google")
