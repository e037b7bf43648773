"""`liaison serve` serves the app (README: running without the demo), with migrations applied."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
from fakes.smtp_sink import free_port
from workers import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _liaison(*args: str) -> list[str]:
    return [sys.executable, "-c", "from server.cli import main; main()", *args]


def test_serve_answers_on_the_given_port(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env.update(LIAISON_INSTANCE_PATH=str(tmp_path), PYTHONUNBUFFERED="1")
    upgrade = subprocess.run(_liaison("db", "upgrade"), cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    port = free_port()
    process = subprocess.Popen(
        _liaison("serve", "--port", str(port)), cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"liaison serve exited: {process.stderr.read()}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 60, "liaison serve to answer", poll=0.2)
        signin = requests.get(f"http://127.0.0.1:{port}/", timeout=10, allow_redirects=False)
        assert signin.status_code == 302 and "/signin" in signin.headers["Location"]
    finally:
        process.terminate()
        process.wait(timeout=30)
