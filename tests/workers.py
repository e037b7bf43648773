"""Start real worker processes against the test database (for crash and Celery tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker_env(app, **settings: str) -> dict[str, str]:
    """The environment a separate process needs to share this app's database and instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env.update(
        LIAISON_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        LIAISON_SECRET_KEY=app.config["SECRET_KEY"],
        LIAISON_INSTANCE_PATH=app.instance_path,
        PYTHONPATH=str(REPO),
    )
    env.update({f"LIAISON_{k}": str(v) for k, v in settings.items()})
    return env


def start_python(code: str, env: dict[str, str]) -> subprocess.Popen:
    """Run `code` in a new Python process with `env` (output captured for failure messages)."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.005):
    """Poll `condition` until true; fail with `what` after `timeout` seconds (a bound, not a
    performance assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"gave up waiting for {what} after {timeout} s")
