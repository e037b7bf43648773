"""Live notifications across processes (TRK-6): two gunicorn "hosts" with two workers each share
Redis; a notification committed by a third process reaches every stream of its user on every
worker, and no stream of another user."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading

import pytest
import requests
from factories import ApiClient, make_org, make_user
from fakes.smtp_sink import free_port
from workers import REPO, wait_until, worker_env

from server.extensions import db
from server.notifications.service import notify

REDIS_URL = os.environ.get("LIAISON_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="needs Redis: set LIAISON_TEST_REDIS_URL (.ci/run does)"
)


def _start_host(app) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = worker_env(
        app,
        REDIS_URL=REDIS_URL or "",
        NOTIFICATIONS_KEEPALIVE_SECONDS="0.2",
        NOTIFICATIONS_STREAM_SECONDS="30",
    )
    gunicorn = shutil.which("gunicorn") or "gunicorn"
    command = [gunicorn, "--workers", "2", "--worker-class", "gthread", "--threads", "4",
               "--bind", f"127.0.0.1:{port}", "server:create_app()"]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 60, f"gunicorn on port {port}", poll=0.1)
    except BaseException:
        _stop(process)  # never leave a server behind
        raise
    return process, base


def _stop(process: subprocess.Popen) -> None:
    """Stop a gunicorn group: SIGQUIT (quick: streams need not finish), SIGKILL if it lingers
    (a loaded machine once took over 30 s; the stop is cleanup, not what is tested)."""
    os.killpg(process.pid, signal.SIGQUIT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class _Reader(threading.Thread):
    """Reads one SSE stream into a list of event lines until told to stop."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.lines: list[str] = []
        self.opened = threading.Event()
        self.response = requests.get(
            url, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=30
        )

    def run(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: unread"):
                    self.opened.set()
                self.lines.append(line)
        except (requests.RequestException, AttributeError):  # closed by the test
            pass

    def notifications(self) -> list[str]:
        return [line for line in self.lines if line.startswith('data: {"id"')]


def test_notification_reaches_every_stream_of_its_user_on_every_host(app):
    org = make_org()
    alice, bob = make_user(org), make_user(org)
    alice_token = ApiClient(app.test_client(), alice).token
    bob_token = ApiClient(app.test_client(), bob).token
    hosts = [_start_host(app), _start_host(app)]
    readers: list[_Reader] = []
    try:
        for _process, base in hosts:
            for _ in range(3):  # several streams per host, spread over its two workers
                readers.append(_Reader(f"{base}/api/notifications/stream", alice_token))
        bob_reader = _Reader(f"{hosts[0][1]}/api/notifications/stream", bob_token)
        for reader in [*readers, bob_reader]:
            reader.start()
            assert reader.opened.wait(20), "stream did not open"

        app.config["REDIS_URL"] = REDIS_URL  # this process is a third host
        sent = notify(org.id, alice.id, "tracking.open", "Anna opened “Offer”")
        db.session.commit()

        wait_until(lambda: all(r.notifications() for r in readers), 20, "every stream to get it")
        for reader in readers:
            assert reader.notifications() == [reader.notifications()[0]]
            assert f'"id":{sent.id}' in reader.notifications()[0]
        assert bob_reader.notifications() == []
        assert any(line.startswith(":") for line in bob_reader.lines)  # alive, just told nothing
    finally:
        app.config["REDIS_URL"] = None
        for reader in readers:
            reader.response.close()
        for process, _base in hosts:
            _stop(process)
