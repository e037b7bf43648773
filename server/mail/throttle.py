"""Per-mailbox sending limits that make senders wait instead of fail (SPEC BULK-9).

    throttle = throttle_for("graph", app.config)
    wait = throttle.reserve(mailbox_key, recipients=1)
    if wait: defer the message by `wait` seconds (nothing was counted) and ask again then
    else:    send now (the send was counted)

Each limit is a sliding window: at most `count` units in any `period` seconds, a unit being a
message or a recipient. `reserve` checks every limit of the throttle and takes the send only when
all allow it (atomically: in Redis with one Lua script shared by every worker, in memory under a
lock); otherwise it answers the seconds until the window has room and takes nothing. A message
with more recipients than a limit allows in a whole window raises TooLarge (never sendable).

Provider limits (configurable): Microsoft Graph 30 messages per minute and 10,000 recipients per
day per mailbox; Gmail 2,000 messages per day per mailbox.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DAY = 86_400.0


@dataclass(frozen=True)
class Limit:
    """At most `count` units per sliding window of `period` seconds; unit: messages|recipients."""

    count: int
    period: float
    unit: str = "messages"


class TooLarge(ValueError):
    """One message needs more than a limit allows in a whole window."""


def limits_for(provider: str, config) -> tuple[Limit, ...]:
    """The limits of a provider's mailboxes, from config (MAIL_*) or the providers' defaults."""
    if provider == "graph":
        return (
            Limit(int(config.get("MAIL_GRAPH_PER_MINUTE") or 30), 60.0),
            Limit(int(config.get("MAIL_GRAPH_RECIPIENTS_PER_DAY") or 10_000), DAY, "recipients"),
        )
    if provider == "gmail":
        return (Limit(int(config.get("MAIL_GMAIL_PER_DAY") or 2_000), DAY),)
    raise ValueError(f"no limits known for {provider!r}")


class MemoryStore:
    """Windows kept in this process (the default without Redis)."""

    def __init__(self) -> None:
        self._windows: dict[str, deque] = {}
        self._totals: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, keys: list[str], limits: tuple[Limit, ...], weights: list[int], now: float):
        """Seconds to wait, or 0.0 after recording the send under every key."""
        with self._lock:
            wait = 0.0
            for key, limit, weight in zip(keys, limits, weights, strict=True):
                window = self._windows.setdefault(key, deque())
                total = self._totals.get(key, 0)
                while window and window[0][0] <= now - limit.period:
                    total -= window.popleft()[1]
                self._totals[key] = total
                excess = total + weight - limit.count
                freed = 0
                for stamp, used in window if excess > 0 else ():
                    freed += used
                    if freed >= excess:
                        wait = max(wait, stamp + limit.period - now)
                        break
            if wait > 0:
                return wait
            for key, weight in zip(keys, weights, strict=True):
                self._windows[key].append((now, weight))
                self._totals[key] += weight
            return 0.0


_TAKE = """
local now, member = tonumber(ARGV[1]), ARGV[2]
local wait = 0
local n = #KEYS / 2
for i = 1, n do
  local zkey, skey = KEYS[2 * i - 1], KEYS[2 * i]
  local count, period = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local weight = tonumber(ARGV[3 * i + 2])
  local cutoff = now - period
  local total = tonumber(redis.call('GET', skey) or '0')
  local old = redis.call('ZRANGEBYSCORE', zkey, '-inf', cutoff)
  if #old > 0 then
    for _, m in ipairs(old) do total = total - tonumber(string.match(m, ':(%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', cutoff)
    redis.call('SET', skey, total)
  end
  local excess = total + weight - count
  if excess > 0 then
    local entries = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
    local freed = 0
    for j = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[j], ':(%d+)$'))
      if freed >= excess then
        wait = math.max(wait, tonumber(entries[j + 1]) + period - now)
        break
      end
    end
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, n do
  local ttl = math.ceil(tonumber(ARGV[3 * i + 1])) + 60
  redis.call('ZADD', KEYS[2 * i - 1], ARGV[1], member .. ':' .. ARGV[3 * i + 2])
  redis.call('INCRBY', KEYS[2 * i], ARGV[3 * i + 2])
  redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
  redis.call('EXPIRE', KEYS[2 * i], ttl)
end
return '0'
"""


class RedisStore:
    """Windows in Redis (sorted sets of sends, plus running totals), shared by all workers."""

    def __init__(self, client, prefix: str = "liaison:throttle:") -> None:
        self.client, self.prefix = client, prefix
        self._script = client.register_script(_TAKE)

    def take(self, keys: list[str], limits: tuple[Limit, ...], weights: list[int], now: float):
        """Seconds to wait, or 0.0 after recording the send under every key."""
        redis_keys, args = [], [repr(now), uuid.uuid4().hex]
        for key, limit, weight in zip(keys, limits, weights, strict=True):
            redis_keys += [self.prefix + key, self.prefix + key + ":total"]
            args += [limit.count, repr(float(limit.period)), weight]
        return float(self._script(keys=redis_keys, args=args))


class Throttle:
    """The limits of one provider, applied per mailbox key."""

    def __init__(
        self,
        name: str,
        limits: tuple[Limit, ...],
        store: MemoryStore | RedisStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name, self.limits = name, limits
        self.store = store or MemoryStore()
        self.clock = clock

    def reserve(self, mailbox_key: str, recipients: int = 1) -> float:
        """0.0: send now (counted); otherwise the seconds to wait before asking again."""
        weights = [recipients if limit.unit == "recipients" else 1 for limit in self.limits]
        for limit, weight in zip(self.limits, weights, strict=True):
            if weight > limit.count:
                raise TooLarge(
                    f"{weight} {limit.unit} exceed the {self.name} limit of {limit.count} "
                    f"per {limit.period:.0f} s"
                )
        keys = [f"{self.name}:{mailbox_key}:{i}" for i in range(len(self.limits))]
        return self.store.take(keys, self.limits, weights, self.clock())


_MEMORY = MemoryStore()


def throttle_for(provider: str, config, redis_client=None) -> Throttle:
    """The provider's throttle: in Redis when REDIS_URL is set (or a client is given), else in
    this process's memory (shared by every throttle of the process)."""
    if redis_client is None and config.get("REDIS_URL"):
        import redis

        redis_client = redis.Redis.from_url(config["REDIS_URL"])
    store = RedisStore(redis_client) if redis_client is not None else _MEMORY
    return Throttle(provider, limits_for(provider, config), store)
