"""Per-mailbox throttles wait instead of failing, in memory and in real Redis (BULK-9, Mail #3)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
import time_machine
from fakes.smtp_sink import free_port

from server.mail.throttle import (
    DAY,
    Limit,
    MemoryStore,
    RedisStore,
    Throttle,
    TooLarge,
    limits_for,
    throttle_for,
)

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, for this module only."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for the throttle tests (apt-get install redis-server)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.025)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(params=["memory", "redis"])
def store_factory(request, redis_url):
    """Makes stores of one kind; Redis stores made by one test share the same database."""
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield lambda: RedisStore(redis.Redis.from_url(redis_url))
    client.flushdb()


def graph(store_factory) -> Throttle:
    return Throttle("graph", limits_for("graph", {}), store_factory())


def test_graph_30_messages_per_minute_then_wait(store_factory):
    throttle = graph(store_factory)
    with time_machine.travel(T0, tick=False) as clock:
        assert [throttle.reserve("ann@contoso.example") for _ in range(30)] == [0.0] * 30
        assert throttle.reserve("ann@contoso.example") == pytest.approx(60.0)
        clock.shift(45)
        assert throttle.reserve("ann@contoso.example") == pytest.approx(15.0)
        clock.shift(15)
        assert throttle.reserve("ann@contoso.example") == 0.0


def test_the_window_slides(store_factory):
    throttle = graph(store_factory)
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(30):  # one message every two seconds
            assert throttle.reserve("m") == 0.0
            clock.shift(2)
        # at T0+60 the first send has left the window; the second leaves at T0+62
        assert throttle.reserve("m") == 0.0
        assert throttle.reserve("m") == pytest.approx(2.0)


def test_a_refused_reservation_counts_nothing(store_factory):
    throttle = Throttle("t", (Limit(2, 10),), store_factory())
    with time_machine.travel(T0, tick=False) as clock:
        assert throttle.reserve("m") == throttle.reserve("m") == 0.0
        for _ in range(50):
            assert throttle.reserve("m") == pytest.approx(10.0)
        clock.shift(10)
        assert throttle.reserve("m") == throttle.reserve("m") == 0.0
        assert throttle.reserve("m") == pytest.approx(10.0)


def test_graph_10000_recipients_per_day(store_factory):
    throttle = graph(store_factory)
    with time_machine.travel(T0, tick=False) as clock:
        assert throttle.reserve("m", recipients=6_000) == 0.0
        clock.shift(3_600)
        assert throttle.reserve("m", recipients=4_000) == 0.0
        clock.shift(60)
        assert throttle.reserve("m", recipients=1) == pytest.approx(DAY - 3_660)
        clock.shift(DAY - 3_660)  # the 6,000 leave the window; the 4,000 stay
        assert throttle.reserve("m", recipients=6_001) == pytest.approx(3_600.0)
        assert throttle.reserve("m", recipients=6_000) == 0.0


def test_gmail_2000_messages_per_day_and_configurable(store_factory):
    gmail = Throttle("gmail", limits_for("gmail", {}), store_factory())
    assert gmail.limits == (Limit(2_000, DAY),)
    small = Throttle("gmail", limits_for("gmail", {"MAIL_GMAIL_PER_DAY": 3}), store_factory())
    with time_machine.travel(T0, tick=False) as clock:
        assert [small.reserve("z@gmail.example", 50) for _ in range(3)] == [0.0] * 3
        clock.shift(100)
        assert small.reserve("z@gmail.example") == pytest.approx(DAY - 100)


def test_mailboxes_and_providers_are_counted_apart(store_factory):
    graph_throttle = Throttle("graph", (Limit(1, 60),), store_factory())
    gmail_throttle = Throttle("gmail", (Limit(1, 60),), store_factory())
    with time_machine.travel(T0, tick=False):
        assert graph_throttle.reserve("a") == 0.0
        assert graph_throttle.reserve("a") > 0
        assert graph_throttle.reserve("b") == 0.0
        assert gmail_throttle.reserve("a") == 0.0


def test_workers_sharing_a_store_share_the_limit(store_factory):
    first, second = (Throttle("graph", (Limit(3, 60),), store_factory()) for _ in range(2))
    with time_machine.travel(T0, tick=False):
        answers = [first.reserve("m"), second.reserve("m"), first.reserve("m"), second.reserve("m")]
    assert answers == [0.0, 0.0, 0.0, pytest.approx(60.0)]


def test_more_recipients_than_a_whole_day_allows_is_refused(store_factory):
    with pytest.raises(TooLarge):
        graph(store_factory).reserve("m", recipients=10_001)


def test_throttle_for_uses_redis_when_configured(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    throttle = throttle_for("graph", {"REDIS_URL": redis_url, "MAIL_GRAPH_PER_MINUTE": 2})
    assert isinstance(throttle.store, RedisStore)
    with time_machine.travel(T0, tick=False):
        assert throttle.reserve("m") == throttle.reserve("m") == 0.0
        assert throttle.reserve("m") == pytest.approx(60.0)
    assert list(client.scan_iter("liaison:throttle:graph:m:*"))
    assert isinstance(throttle_for("gmail", {}).store, MemoryStore)
    client.flushdb()
