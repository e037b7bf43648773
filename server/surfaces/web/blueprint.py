"""The web app's blueprint: who is signed in, friendly HTML errors, and template helpers.

Pages are server-rendered Jinja (templates/web/). A page needs a signed-in user (the session
cookie set by the sign-in page; a bearer token works too): without one it redirects to /signin.
Errors raised by the services render an HTML page here; /api keeps its JSON errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apiflask import APIBlueprint
from flask import current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ...auth.guard import csrf_token, resolve_user
from ...errors import ServiceError
from ...orgs.models import User
from ...records.custom_types import list_custom_types

bp = APIBlueprint("web", __name__, template_folder="templates", enable_openapi=False)

ROLE_LABELS = {"super_admin": "Super-admin", "admin": "Admin", "rep": "Sales rep"}


def signed_in(view: Callable) -> Callable:
    """Decorator: call the page with the signed-in user first; redirect to /signin without one."""

    @functools.wraps(view)
    def inner(*args: Any, **kwargs: Any):
        user = resolve_user()
        if user is None:
            return redirect(url_for("web.signin", next=_here()))
        return view(user, *args, **kwargs)

    return inner


def _here() -> str:
    return request.full_path if request.query_string else request.path


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site); home otherwise."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("web.home")


def _error_page(status: int, title: str, message: str):
    return render_template("web/error.html", status=status, title=title, message=message), status


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found"}
    return _error_page(error.status, titles.get(error.status, "Something is wrong"), error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _error_page(error.code or 500, error.name, error.description or error.name)


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    current_app.logger.exception("unhandled error on a page")
    return _error_page(500, "Something went wrong", "The error has been logged; please try again.")


# --- template helpers -----------------------------------------------------------------------------


def viewer() -> User | None:
    """The signed-in user for templates, or None (also when the credential was bad)."""
    try:
        return resolve_user()
    except ServiceError:
        return None


def _zone(user: User | None) -> ZoneInfo:
    name = (user.time_zone or user.org.time_zone) if user is not None else None
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@bp.app_template_filter("localtime")
def localtime(value: datetime | None) -> str:
    """An aware UTC time in the signed-in user's time zone, e.g. '3 Mar 2025, 14:05'."""
    if value is None:
        return "—"
    local = value.astimezone(_zone(viewer()))
    return f"{local.day} {local:%b %Y, %H:%M}"


def localday(value: datetime | None) -> str:
    """The local date of an aware UTC time, e.g. '3 Mar 2025'."""
    return "—" if value is None else day(value.astimezone(_zone(viewer())).date())


@bp.app_template_filter("day")
def day(value: date | str | None) -> str:
    """A date as '3 Mar 2025'."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.day} {value:%b %Y}"


@bp.app_template_filter("money")
def money(value: Decimal | None, currency: str = "EUR") -> str:
    """An amount with thousands separators and its currency code."""
    return "—" if value is None else f"{value:,.0f} {currency}"


@bp.app_template_filter("humanize")
def humanize(value: str | None) -> str:
    """A snake_case code as words: 'closed_won' → 'Closed won'."""
    return "—" if not value else value.replace("_", " ").capitalize()


@bp.context_processor
def _page_context() -> dict:
    user = viewer()
    return {
        "user": user,
        "csrf_token": csrf_token,
        "role_label": lambda role: ROLE_LABELS.get(role, role),
        "demo": bool(current_app.config.get("DEMO")),
        "custom_types": _custom_types(user),
    }


def _custom_types(user: User | None) -> list:
    return [] if user is None else list_custom_types(user.org_id)
