"""The same background task through both queue backends (Mail plumbing #3, item 8): the in-process
runner, and a real Celery worker process (`liaison worker`) over the real Redis broker."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import redis

from server import jobs
from server.extensions import db
from server.mail import outbox
from server.mail.models import OutboxMessage
from tests.factories import make_org, make_user
from tests.workers import start_python, wait_until, worker_env

REDIS_URL = os.environ.get("LIAISON_TEST_REDIS_URL")
MODES = ["inline"] + (["celery"] if REDIS_URL else [])
CELERY_WORKER = "from server.cli import main\nmain(['worker', '--concurrency', '1'])\n"


def queue_messages(count: int) -> None:
    org = make_org()
    user = make_user(org, email="sender@org.example")
    for i in range(count):
        outbox.queue_message(
            org_id=org.id,
            user_id=user.id,
            recipient=f"q{i}@example.org",
            envelope_from=user.email,
            message_id=outbox.new_message_id("liaison.test"),
            content={"from": {"email": user.email}, "subject": f"#{i}", "text": "hello"},
        )
    db.session.commit()
    db.session.remove()


@pytest.fixture
def celery_worker(app, smtp_sink):
    """A `liaison worker` process on a queue of its own, stopped after the test."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"LIAISON_TEST_REDIS_URL is set but Redis does not answer: {exc}")
    settings = {
        "QUEUE": "celery",
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": f"liaison-test-{uuid.uuid4().hex[:8]}",
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": smtp_sink.port,
        "SMTP_SECURITY": "none",
    }
    previous = {k: app.config.get(k) for k in settings}
    app.config.update(settings)
    app.extensions.pop("celery", None)
    process = start_python(CELERY_WORKER, worker_env(app, **settings))
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except Exception:
        os.killpg(process.pid, signal.SIGKILL)
    app.config.update(previous)
    app.extensions.pop("celery", None)


@pytest.mark.parametrize("mode", MODES)
def test_enqueued_send_delivers_every_queued_message(mode, app, smtp_sink, request):
    queue_messages(12)
    if mode == "celery":
        worker = request.getfixturevalue("celery_worker")
    else:
        app.config.update(SMTP_HOST=smtp_sink.host, SMTP_PORT=smtp_sink.port, SMTP_SECURITY="none")
        runner = jobs.start_inline_runner(app)
        request.addfinalizer(lambda: (runner.stop(), app.extensions.pop("inline_runner", None)))

    jobs.enqueue("outbox.send_due")

    def all_delivered() -> bool:
        if mode == "celery" and worker.poll() is not None:
            output = worker.stdout.read().decode(errors="replace")
            raise AssertionError(f"the Celery worker exited:\n{output[-3000:]}")
        if len(smtp_sink.messages) < 12:
            return False
        # the relay has them all; the worker marks each sent once it has read the relay's reply
        # and its group of outcomes is committed, a moment later
        db.session.expire_all()
        states = {r.state for r in db.session.query(OutboxMessage)}
        db.session.rollback()
        return states == {"sent"}

    wait_until(all_delivered, 120, f"12 messages through the {mode} queue, all sent", poll=0.1)
    assert sorted(m.recipients[0] for m in smtp_sink.messages) == sorted(
        f"q{i}@example.org" for i in range(12)
    )
