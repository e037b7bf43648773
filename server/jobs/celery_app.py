"""Celery with the Redis broker for scaled-out deployments (LIAISON_QUEUE=celery).

The Celery app is built from a Flask app (never at import time) and every task runs inside that
app's context, as in Flask's Celery example. Messages are JSON and carry ids only; tasks are
acknowledged late, so a worker that dies mid-task leaves it to be delivered again, and the tasks
are idempotent on their rows.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from .registry import TASKS, TICKS, load_task_modules


def make_celery(app: Flask) -> Celery:
    """A Celery app bound to `app`, with every registered task and tick."""
    broker = app.config.get("REDIS_URL")
    if not broker:
        raise RuntimeError("LIAISON_QUEUE=celery needs LIAISON_REDIS_URL")

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, broker=broker, task_cls=AppContextTask)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        timezone="UTC",
        task_default_queue=app.config.get("CELERY_QUEUE", "liaison"),
    )
    load_task_modules()
    for name, fn in TASKS.items():
        celery.task(name=name)(fn)
    celery.conf.beat_schedule = {
        tick.name: {"task": tick.name, "schedule": tick.every_seconds} for tick in TICKS
    }
    app.extensions["celery"] = celery
    return celery
