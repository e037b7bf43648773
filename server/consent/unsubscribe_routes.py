"""The recipient's unsubscribe pages under /u/ (GDPR-7): plain HTML forms, no sign-in, no JS.

- GET /u/<token>: a confirmation page; changes nothing (mail security gateways follow links).
- POST /u/<token>: unsubscribes (the token's type, or everything). RFC 8058 one-click posts
  `List-Unsubscribe=One-Click` here (form-urlencoded or multipart) without cookies: answered 200.
- GET/POST /u/<token>/preferences: the recipient's status per subscription type, and opt-out.
The signed token is the only credential (server/consent/unsubscribe.py); no CSRF, no session.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import render_template, request

from ..extensions import db
from ..orgs.models import Organization
from . import unsubscribe_send  # noqa: F401  (registers the send check and the headers)
from .preferences import SURFACE, preferences, save_preferences
from .unsubscribe import Target, apply_unsubscribe, resolve, subscription_type

bp = APIBlueprint("unsubscribe", __name__, template_folder="templates", enable_openapi=False)


def _page(template: str, target: Target | None, status: int = 200, **context):
    org = db.session.get(Organization, target.org_id) if target else None
    context.setdefault("title", "Unsubscribe")
    response = render_template(
        f"consent/{template}",
        org_name=org.name if org else "us",
        token=target.token if target else "",
        **context,
    )
    return response, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _target(token: str) -> Target | None:
    return resolve(token) if len(token) <= 120 else None


def _invalid():
    return _page("invalid.html", None, 404, title="Link not valid")


@bp.get("/u/<token>")
def unsubscribe_page(token: str):
    target = _target(token)
    if target is None:
        return _invalid()
    sub_type = subscription_type(target.org_id, target.type_id)
    return _page("confirm.html", target, address=target.address,
                 type_label=(sub_type.label or sub_type.name) if sub_type else None)  # fmt: skip


@bp.post("/u/<token>")
def unsubscribe(token: str):
    target = _target(token)
    if target is None:
        return _invalid()
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    apply_unsubscribe(target, SURFACE, "one_click" if one_click else "page")
    db.session.commit()
    if one_click:
        return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return _page("done.html", target, title="Unsubscribed",
                 message="You are unsubscribed. It takes effect at once.")  # fmt: skip


@bp.route("/u/<token>/preferences", methods=["GET", "POST"])
def preferences_page(token: str):
    target = _target(token)
    if target is None:
        return _invalid()
    saved = None
    if request.method == "POST":
        wanted = {}
        for key, value in request.form.items():
            if key.startswith("type_") and key[5:].isdigit():
                wanted[int(key[5:])] = value
        saved = save_preferences(target, wanted, request.form.get("opt_out") == "1")
        db.session.commit()
    types, opted_out = preferences(target)
    return _page("preferences.html", target, title="Email preferences", types=types,
                 opted_out=opted_out, saved=saved)  # fmt: skip
