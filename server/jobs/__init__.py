"""Background jobs. `enqueue(task, *ids, eta=None)` is the only way to start background work.

LIAISON_QUEUE=inline runs tasks on an in-process worker thread (started by `liaison serve` and
`liaison demo`); LIAISON_QUEUE=celery sends them to Celery workers over Redis (`liaison worker`,
`liaison beat`). Tasks are registered with `server.jobs.registry.task`.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..errors import ServiceUnavailable
from .registry import TaskFunction, task, task_name_of

__all__ = ["enqueue", "task", "start_inline_runner"]


def enqueue(task_or_name: TaskFunction | str, *ids: object, eta: datetime | None = None) -> None:
    """Run registered task with `ids` in the background, at `eta` (aware UTC) or right away.

    With the inline queue, the in-process runner starts on first use (e.g. under gunicorn, where
    no `liaison serve` started it). In tests it must be started explicitly: without it the call
    is refused (ServiceUnavailable), never dropped.
    """
    name = task_name_of(task_or_name)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.config.get("QUEUE", "inline")
    if backend == "celery":
        from .celery_app import make_celery

        celery = app.extensions.get("celery") or make_celery(app)
        celery.send_task(name, args=list(ids), eta=eta)
        return
    runner = app.extensions.get("inline_runner")
    if runner is None and not app.testing:
        runner = start_inline_runner(app)
    if runner is None:
        raise ServiceUnavailable(
            "No job runner is running: start one with start_inline_runner(app) "
            "or set LIAISON_QUEUE=celery."
        )
    runner.submit(name, ids, eta)


def start_inline_runner(app, tick_scale: float = 1.0):
    """Start the in-process runner for `app` (once) and return it."""
    from .inline import InlineRunner

    runner = app.extensions.get("inline_runner")
    if runner is None:
        runner = InlineRunner(app, tick_scale=tick_scale).start()
        app.extensions["inline_runner"] = runner
    return runner
