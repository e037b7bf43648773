"""`liaison worker` and `liaison beat`: Celery processes for LIAISON_QUEUE=celery."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def _celery():
    from .celery_app import make_celery

    app = current_app._get_current_object()
    return app.extensions.get("celery") or make_celery(app)


@click.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, type=int)
@click.option("--beat", is_flag=True, help="Also run the periodic ticks in this process.")
@click.option("--loglevel", default="INFO", show_default=True)
@with_appcontext
def worker(concurrency: int, beat: bool, loglevel: str) -> None:
    """Run a Celery worker for the registered tasks (needs LIAISON_REDIS_URL)."""
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "--pool=prefork"]
    if beat:
        argv.append("--beat")
    _celery().worker_main(argv)


@click.command("beat")
@click.option("--loglevel", default="INFO", show_default=True)
@with_appcontext
def beat(loglevel: str) -> None:
    """Run Celery beat: the periodic ticks (due messages, expired leases)."""
    _celery().start(["beat", f"--loglevel={loglevel}"])
