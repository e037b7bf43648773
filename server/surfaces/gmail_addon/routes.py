"""The add-on's HTTP endpoints (UI-2): three triggers and the buttons' actions, all POSTed by
Google with a system ID token. A request that fails verification gets 401; once verified, every
failure answers a short card (Gmail shows no error bodies). Time budget: 5 seconds per request,
well inside Gmail's ~30-second limit (each Gmail API call has 3 seconds, no retry)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from apiflask import APIBlueprint
from flask import jsonify, request

from ...errors import ServiceError
from ...extensions import db
from .actions import run_action
from .auth import verify_request
from .cards import error_card, push, render
from .compose import compose_card
from .homepage import homepage_card
from .message import message_card

bp = APIBlueprint("gmail_addon", __name__, enable_openapi=False)
log = logging.getLogger(__name__)
BUDGET_SECONDS = 5.0
FAILED = "Liaison could not answer just now; try again in a moment."


def _answer(handler: Callable, wrap: Callable[[dict], dict]):
    started = time.monotonic()
    event = request.get_json(silent=True)
    user = verify_request(request.headers.get("Authorization"), request.path, event)
    try:
        body = handler(user, event)
    except ServiceError as exc:
        db.session.rollback()
        body = wrap(error_card(exc.message))
    except Exception:
        db.session.rollback()
        log.exception("Gmail add-on request %s failed", request.path)
        body = wrap(error_card(FAILED))
    elapsed = time.monotonic() - started
    if elapsed > BUDGET_SECONDS:
        log.warning(
            "Gmail add-on %s took %.1f s (budget %.0f s)", request.path, elapsed, BUDGET_SECONDS
        )
    return jsonify(body)


@bp.post("/gmail/homepage")
def homepage():
    """Homepage trigger."""
    return _answer(lambda user, event: push(homepage_card(user)), push)


@bp.post("/gmail/message")
def message():
    """Contextual trigger: a message is open."""
    return _answer(lambda user, event: push(message_card(user, event)), push)


@bp.post("/gmail/compose")
def compose():
    """Compose trigger: the rep opened Liaison in a draft."""
    return _answer(lambda user, event: push(compose_card(user, event)), push)


@bp.post("/gmail/actions/<name>")
def action(name: str):
    """A button of one of our cards."""
    return _answer(
        lambda user, event: run_action(name, user, event), lambda c: render(c, how="pushCard")
    )
