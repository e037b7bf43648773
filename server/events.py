"""A tiny in-process publish/subscribe between domains (e.g. "mail.bounced" → bulk triggers).

`subscribe(name, fn)` registers `fn(**payload)`; `publish(name, **payload)` calls every subscriber
of `name` synchronously, in registration order, in the publisher's thread and database
transaction: what a subscriber writes is committed or rolled back with the publisher's change, and
an exception in a subscriber propagates to the publisher (which then rolls back). Subscribers that
need slow or external work should `jobs.enqueue` it rather than do it here. Payloads are plain
values (ids, strings, booleans), never ORM rows, so a subscriber may also hand them to a job.

Events published so far:
- "email.logged": org_id, email_id, user_id, direction ("in"|"out"), source, created (bool: a new
  row rather than another delivery of a logged one); in the logging transaction
- "mail.bounced": org_id, outbox_id, address, hard (bool), status ("5.1.1"), diagnostic (str|None)
- "mail.sent": org_id, outbox_id, group_key (str|None), purpose ("one_to_one", "bulk", ...),
  user_id (int|None): an outbox row was marked sent (its transport accepted the message); published
  once that mark is committed (outcomes commit in small groups: server/mail/outbox_writer.py),
  by the sending worker, in a transaction of its own that the outbox commits right after; a
  subscriber that raises is logged and its writes rolled back, the row stays sent. A crash between
  the mark and the publish loses the event (the mail went): subscribers that must not miss one
  reconcile from the outbox rows. Filter cheaply on the payload (e.g. group_key): bulk sends
  publish thousands per second. Without subscribers it costs a dict look-up (`has_subscribers`).
"""

from __future__ import annotations

from collections.abc import Callable

Subscriber = Callable[..., object]

_SUBSCRIBERS: dict[str, list[Subscriber]] = {}


def subscribe(event_name: str, fn: Subscriber) -> Subscriber:
    """Call `fn(**payload)` on every `publish(event_name, ...)`; subscribing twice is a no-op."""
    subscribers = _SUBSCRIBERS.setdefault(event_name, [])
    if fn not in subscribers:
        subscribers.append(fn)
    return fn


def unsubscribe(event_name: str, fn: Subscriber) -> None:
    """Stop calling `fn` for `event_name` (no error when it was not subscribed)."""
    subscribers = _SUBSCRIBERS.get(event_name, [])
    if fn in subscribers:
        subscribers.remove(fn)


def subscribers(event_name: str) -> list[Subscriber]:
    """The functions subscribed to `event_name`, in calling order."""
    return list(_SUBSCRIBERS.get(event_name, []))


def has_subscribers(event_name: str) -> bool:
    """True when something subscribes to `event_name` (lets a hot path skip building payloads)."""
    return bool(_SUBSCRIBERS.get(event_name))


def publish(event_name: str, **payload: object) -> int:
    """Call each subscriber of `event_name` with `payload` in this transaction; returns how many."""
    called = 0
    for fn in subscribers(event_name):
        fn(**payload)
        called += 1
    return called
