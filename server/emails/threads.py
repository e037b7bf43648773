"""Which conversation a logged email belongs to (LOG-8), whatever order its messages arrive in.

A message's own guess is its first References entry, else its In-Reply-To, else itself
(`ParsedEmail.thread_key`). That guess splits a thread when a client sends In-Reply-To without
References (a reply to a reply then names only its parent), and it cannot use a provider's
conversation id. So at log time:
- a message joins the thread of any already-logged message it names (References,
  In-Reply-To) or that shares its provider thread id (Gmail threadId, Outlook conversationId);
- messages logged earlier that named this one, or share its provider thread id, and were
  grouped apart, move into its thread (one UPDATE, in the logging transaction).
"""

from __future__ import annotations

from sqlalchemy import or_, select, update

from ..extensions import db
from .models import LoggedEmail
from .parsing import ParsedEmail, fit_key


def _named_keys(parsed: ParsedEmail) -> list[str]:
    named = [*parsed.references, parsed.in_reply_to]
    return list(dict.fromkeys(fit_key("mid:" + m) for m in named if m))


def thread_key_for(org_id: int, parsed: ParsedEmail, provider_thread_id: str | None) -> str:
    """The thread this message joins: an already-logged relative's, else its own guess."""
    related = [LoggedEmail.message_key.in_(_named_keys(parsed))] if _named_keys(parsed) else []
    if provider_thread_id:
        related.append(LoggedEmail.provider_thread_id == provider_thread_id)
    if not related:
        return parsed.thread_key
    found = db.session.scalar(
        select(LoggedEmail.thread_key)
        .where(LoggedEmail.org_id == org_id, or_(*related))
        .order_by(LoggedEmail.id)
        .limit(1)
    )
    return found or parsed.thread_key


def adopt_earlier_relatives(email: LoggedEmail) -> int:
    """Move into `email`'s thread the threads of messages logged before it that named it (or
    share its provider thread id); returns how many emails moved."""
    clauses = [LoggedEmail.thread_key == email.message_key]
    if email.message_id:
        clauses.append(LoggedEmail.in_reply_to == email.message_id)
    if email.provider_thread_id:
        clauses.append(LoggedEmail.provider_thread_id == email.provider_thread_id)
    stray = set(
        db.session.scalars(
            select(LoggedEmail.thread_key).where(
                LoggedEmail.org_id == email.org_id,
                LoggedEmail.id != email.id,
                LoggedEmail.thread_key != email.thread_key,
                or_(*clauses),
            )
        )
    )
    if not stray:
        return 0
    moved = db.session.execute(
        update(LoggedEmail)
        .where(LoggedEmail.org_id == email.org_id, LoggedEmail.thread_key.in_(stray))
        .values(thread_key=email.thread_key)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount or 0
