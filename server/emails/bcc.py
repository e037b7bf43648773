"""Logging by BCC (LOG-2): the inbound router's "log" handler.

A message reaching a user's logging address is logged as that user when its From is the user
(their email, or one of their connected mailboxes); otherwise it is refused, so the router
dead-letters it with the reason. A message the never-log rules exclude is routed (not an error):
the outcome's detail says "not logged: <reason>".
"""

from __future__ import annotations

from ..extensions import db
from ..mail.inbound import INBOUND_HANDLERS, InboundDelivery, RouteFailure
from ..orgs.models import User
from .never_log import own_addresses
from .parsing import parse_message
from .service import log_email


def handle_log(delivery: InboundDelivery) -> str:
    """Log the delivered message as the logging address's user, or raise RouteFailure why not."""
    user = db.session.get(User, delivery.user_id)
    if user is None or not user.is_active:
        raise RouteFailure(f"the user of {delivery.recipient} is not active")
    sender = parse_message(delivery.message).from_address.get("email", "")
    if not sender or sender.lower() not in own_addresses(user):
        raise RouteFailure(
            f"sender {sender or '(none)'} is not the owner of logging address {delivery.recipient}"
        )
    result = log_email(user, raw=delivery.raw, source="bcc", direction="out")
    if result.email is None:
        return result.reason or "not logged"
    return f"{result.status} as email {result.email.id} for user {user.id}"


INBOUND_HANDLERS["log"] = handle_log
