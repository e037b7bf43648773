"""Delivers live notifications to a user's open streams, across workers and hosts (TRK-6).

With `LIAISON_REDIS_URL` set, a notification is published on the Redis channel of its user and
every web worker on every host that holds a stream of that user receives it (Redis pub/sub: a
stream that is not connected at that moment misses the push, and catches up from the database
with `Last-Event-ID` when it reconnects). Without Redis, a process-local bus: right for the
single-process demo and tests, and the only choice there is.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from typing import Protocol

CHANNEL_PREFIX = "liaison:notifications:"


class Subscription(Protocol):
    """One open stream's inbox."""

    def get(self, timeout: float) -> dict | None:
        """The next message, or None when `timeout` seconds pass without one."""

    def close(self) -> None:
        """Stop receiving."""


class LocalSubscription:
    """An inbox of the process-local bus."""

    def __init__(self, bus: LocalBus, user_id: int) -> None:
        self.bus, self.user_id = bus, user_id
        self.inbox: queue.Queue[dict] = queue.Queue(maxsize=1000)

    def get(self, timeout: float) -> dict | None:
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.bus.remove(self)


class LocalBus:
    """Process-local fan-out of messages to the subscriptions of each user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[LocalSubscription]] = {}

    def publish(self, user_id: int, message: dict) -> None:
        """Push `message` to every open stream of `user_id` in this process."""
        with self._lock:
            targets = list(self._subscribers.get(user_id, ()))
        for subscription in targets:
            # a stream that stopped reading drops it; it catches up when it reconnects
            with contextlib.suppress(queue.Full):
                subscription.inbox.put_nowait(message)

    def subscribe(self, user_id: int) -> LocalSubscription:
        """Open an inbox for one stream of `user_id`."""
        subscription = LocalSubscription(self, user_id)
        with self._lock:
            self._subscribers.setdefault(user_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: LocalSubscription) -> None:
        """Forget a closed inbox."""
        with self._lock:
            subscribers = self._subscribers.get(subscription.user_id, set())
            subscribers.discard(subscription)
            if not subscribers:
                self._subscribers.pop(subscription.user_id, None)


class RedisSubscription:
    """A stream's own Redis pub/sub connection, subscribed to its user's channel."""

    def __init__(self, client, user_id: int) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(f"{CHANNEL_PREFIX}{user_id}")

    def get(self, timeout: float) -> dict | None:
        message = self.pubsub.get_message(timeout=timeout)
        if message is None or message.get("type") != "message":
            return None
        return json.loads(message["data"])

    def close(self) -> None:
        self.pubsub.close()


class RedisBus:
    """Fan-out through Redis pub/sub, so every worker on every host gets each message."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, user_id: int, message: dict) -> None:
        """Publish `message` on the user's channel."""
        self.client.publish(f"{CHANNEL_PREFIX}{user_id}", json.dumps(message))

    def subscribe(self, user_id: int) -> RedisSubscription:
        """Open a pub/sub connection for one stream of `user_id`."""
        return RedisSubscription(self.client, user_id)


_buses: dict[str, LocalBus | RedisBus] = {}
_buses_lock = threading.Lock()


def bus_for(redis_url: str | None) -> LocalBus | RedisBus:
    """The bus of this process for the given Redis URL (None: the local bus), made once."""
    key = redis_url or ""
    with _buses_lock:
        if key not in _buses:
            _buses[key] = RedisBus(redis_url) if redis_url else LocalBus()
        return _buses[key]
