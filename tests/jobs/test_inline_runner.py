"""The in-process job runner: enqueue by name or function, due order, app context, failures."""

from datetime import timedelta

import pytest
from flask import current_app

from server import jobs
from server.clock import utcnow
from server.errors import ServiceUnavailable
from server.jobs.registry import TASKS, task

calls: list[tuple] = []


@task("tests.record_call")
def record_call(*ids):
    calls.append((current_app.name, *ids))


@task("tests.explode")
def explode(*_ids):
    raise RuntimeError("boom")


@pytest.fixture
def runner(app):
    calls.clear()
    runner = jobs.start_inline_runner(app)
    yield runner
    runner.stop()
    app.extensions.pop("inline_runner", None)


def test_tasks_run_in_app_context_in_due_order(app, runner):
    jobs.enqueue("tests.record_call", 3, eta=utcnow() + timedelta(milliseconds=300))
    jobs.enqueue(record_call, 1)
    jobs.enqueue("tests.record_call", 2)
    assert runner.wait_idle(timeout=10)
    import time

    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls == [(app.name, 1), (app.name, 2), (app.name, 3)]


def test_a_failing_task_does_not_stop_the_runner(app, runner):
    jobs.enqueue("tests.explode", 1)
    jobs.enqueue("tests.record_call", 7)
    assert runner.wait_idle(timeout=10)
    assert (app.name, 7) in calls


def test_unknown_task_is_refused(app, runner):
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.task")


def test_enqueue_without_a_runner_is_refused_not_dropped(app):
    app.extensions.pop("inline_runner", None)
    with pytest.raises(ServiceUnavailable, match="No job runner"):
        jobs.enqueue("tests.record_call", 1)
    assert "tests.record_call" in TASKS


def test_outside_tests_the_inline_runner_starts_on_first_enqueue(app):
    app.extensions.pop("inline_runner", None)
    app.testing = False
    try:
        calls.clear()
        jobs.enqueue("tests.record_call", 5)
        runner = app.extensions["inline_runner"]
        assert runner.wait_idle(timeout=10)
        assert (app.name, 5) in calls
    finally:
        app.testing = True
        app.extensions.pop("inline_runner").stop()
