"""The write path with Redis (item 9): the endpoints do no SQL and no network, only an append to
the process's spool file, shipped to the stream; the drain records batches in one transaction
and acknowledges after commit. A web process killed with events unshipped, a drain worker dying
mid-batch, a batch recorded but not acknowledged: nothing is lost and nothing counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from server.extensions import db
from server.tracking import ingest
from server.tracking.models import TrackingEvent
from server.tracking.recording import record_events
from server.tracking.spool import Spool
from server.tracking.tasks import drain

from .scenario import events, hit_click, hit_open, reloaded, tracked

REDIS_URL = os.environ.get("LIAISON_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="needs Redis: set LIAISON_TEST_REDIS_URL (.ci/run does)"
)


@pytest.fixture
def stream(app, tmp_path):
    """The app writing to its own spool directory and Redis stream for this test."""
    name = f"liaison:test:tracking:{uuid.uuid4().hex}"
    app.config.update(REDIS_URL=REDIS_URL, TRACKING_STREAM=name, TRACKING_SPOOL=str(tmp_path))
    app.extensions.pop("tracking_redis", None)
    app.extensions.pop("tracking_links", None)
    app.extensions.pop("tracking_spool", None)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"LIAISON_TEST_REDIS_URL is set but Redis does not answer: {exc}")
    yield client
    client.delete(name)
    for key in client.scan_iter(f"{ingest.LINKS_KEY}*"):
        client.delete(key)
    app.config.update(REDIS_URL=None, TRACKING_STREAM=None, TRACKING_SPOOL=None)
    app.extensions.pop("tracking_redis", None)
    app.extensions.pop("tracking_links", None)
    app.extensions.pop("tracking_spool", None)
    spool = ingest._SPOOLS.pop((os.getpid(), str(tmp_path)), None)
    if spool is not None:
        spool.close()


def _stored() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(TrackingEvent))


@needs_redis
def test_endpoints_do_no_sql_with_redis_and_the_drain_records(world, client, stream, count_queries):
    email = tracked(world)
    email_id = email.id
    count_queries.clear()
    assert hit_open(client, email_id).status_code == 200
    response = hit_click(client, email_id, 1)
    assert response.headers["Location"] == "https://example.com/demo"
    assert count_queries == []
    assert stream.xlen(ingest.stream_name()) == 0  # in the spool file
    assert ingest.ship_pending() == 2
    assert stream.xlen(ingest.stream_name()) == 1 and events(email.id) == []  # one batch entry
    assert drain(consumer="w1") == 2
    assert [e.kind for e in events(email.id)] == ["open", "click"]
    email = reloaded(email)
    assert (email.opens_human, email.clicks_human) == (1, 1)
    assert stream.xlen(ingest.stream_name()) == 0  # acknowledged and deleted


@needs_redis
def test_click_with_a_cold_link_cache_reads_the_database_once(world, client, stream):
    email = tracked(world)
    stream.delete(f"{ingest.LINKS_KEY}{email.id}")
    assert hit_click(client, email.id, 0).headers["Location"] == "https://example.com/pricing"
    assert stream.hget(f"{ingest.LINKS_KEY}{email.id}", "0") == b"https://example.com/pricing"
    assert hit_click(client, email.id, 9).status_code == 404  # unknown link: nothing kept
    assert drain(consumer="w1") == 1


@needs_redis
def test_no_event_lost_when_the_worker_dies_mid_batch(world, client, stream):
    """A consumer reads a batch and dies before recording it: the next drain claims it."""
    email = tracked(world)
    for i in range(30):
        hit_open(client, email.id, ip=f"198.51.100.{i + 1}")
    name = ingest.stream_name()
    drain(consumer="probe", max_batches=0)  # ships the spool, creates the group, reads nothing
    taken = stream.xreadgroup(ingest.GROUP, "dying", {name: ">"}, count=1)
    assert len(taken[0][1]) == 1  # a batch read, never recorded nor acknowledged: worker died
    assert drain(consumer="survivor", claim_idle_ms=0) == 30
    assert _stored() == 30 and reloaded(email).opens_human == 30
    assert stream.xpending(name, ingest.GROUP)["pending"] == 0


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from server.tracking.spool import Spool
spool = Spool(Path(sys.argv[1]))
for i in range(25):
    spool.append({"u": f"killed-{i}", "k": "o", "t": sys.argv[2], "p": "", "at": sys.argv[3],
                  "ip": f"198.51.100.{i + 1}", "ua": "Mozilla/5.0 (X11) Firefox/128.0", "v": ""})
print("ready", flush=True)
time.sleep(60)
"""


@needs_redis
def test_events_of_a_killed_web_process_are_shipped_from_its_spool(world, stream, tmp_path):
    """A web worker SIGKILLed before its shipper ran: its spool file is adopted and shipped."""
    email = tracked(world)
    at = repr(email.sent_at.timestamp() + 3600)
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(email.id), at],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "ready"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    [left] = tmp_path.glob("*.spool")  # left behind; the kernel released its lock
    assert drain(consumer="w1") == 25
    assert reloaded(email).opens_human == 25 and not left.exists()


@needs_redis
def test_a_spool_shipped_twice_is_recorded_once(world, client, stream):
    email = tracked(world)
    for i in range(5):
        hit_open(client, email.id, ip=f"198.51.100.{i + 1}")
    spool = ingest._SPOOLS[(os.getpid(), ingest.spool_directory().as_posix())]
    assert isinstance(spool, Spool) and ingest.ship_pending() == 5
    spool.reship_all()  # as if the shipper died between XADD and moving its offsets
    assert ingest.ship_pending() == 5
    assert drain(consumer="w1") == 5
    assert _stored() == 5


@needs_redis
def test_batch_recorded_but_not_acknowledged_is_not_recorded_twice(world, client, stream):
    """The worker committed and died before XACK: the re-claimed entries are recognised."""
    email = tracked(world)
    for i in range(10):
        hit_open(client, email.id, ip=f"198.51.100.{i + 1}")
    name = ingest.stream_name()
    drain(consumer="probe", max_batches=0)  # ships the spool, creates the group
    [(_, entries)] = stream.xreadgroup(ingest.GROUP, "dying", {name: ">"}, count=10)
    batch = [e for i, f in entries for e in ingest.entry_events(i.decode(), f)]
    assert record_events(batch) == 10
    assert drain(consumer="survivor", claim_idle_ms=0) == 0
    assert _stored() == 10 and reloaded(email).opens_human == 10
    assert stream.xlen(name) == 0


def test_without_redis_the_endpoint_records_directly(world, client):
    email = tracked(world)
    hit_open(client, email.id)
    assert [e.kind for e in events(email.id)] == ["open"]


@needs_redis
def test_threads_append_without_a_lock_and_rotated_files_go_once_shipped(stream, tmp_path):
    """Item 9: each request thread appends to a file of its own; a thread's file that grew past
    the rotation size is sealed, shipped to its end and removed; every line reaches the stream
    exactly once, including a dead thread's."""
    import threading

    from server.tracking import spool as spool_module

    name = f"test:spool:{uuid.uuid4().hex}"
    spool = Spool(tmp_path)
    rotate = spool_module.ROTATE_BYTES
    spool_module.ROTATE_BYTES = 2_000  # a dozen lines a file
    try:

        def write(thread: int) -> None:
            for i in range(300):
                spool.append({"u": f"t{thread}-{i}", "k": "o", "t": "1", "p": "", "at": "0"})
                if i % 50 == 0:
                    spool.ship(stream, name)  # the shipper runs while threads append

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        spool.ship(stream, name)
    finally:
        spool_module.ROTATE_BYTES = rotate
    uids = [
        event["u"]
        for _id, fields in stream.xrange(name)
        for event in spool_module.entry_lines(fields)
    ]
    stream.delete(name)
    assert sorted(uids) == sorted(f"t{t}-{i}" for t in range(4) for i in range(300))
    # the threads are gone, so every file was done with, shipped and removed
    assert spool.files == [] and list(tmp_path.glob("*.spool")) == []
