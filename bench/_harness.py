"""Serve the app with gunicorn on loopback and drive it with wrk; nothing outlives the run.

gunicorn runs in its own process group (killed as a group, TERM then KILL); wrk runs with a hard
timeout. Each wrk run reports through a Lua `done()` hook that prints one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %.0f, "duration_us": %.0f, "connect": %.0f, "read": %.0f, ' ..
    '"write": %.0f, "status": %.0f, "timeout": %.0f, "p50_us": %.1f, "p90_us": %.1f, ' ..
    '"p99_us": %.1f, "mean_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""

_POST = r"""
local bodies = {
%(bodies)s
}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("offset", threads_started * 7919)
end

local i = 0
function init(args)
  i = (offset or 0) %% #bodies
end

function request()
  i = i %% #bodies + 1
  return wrk.format("POST", "%(path)s", headers, bodies[i])
end
"""


@dataclass
class WrkResult:
    """One wrk run's figures (latencies in milliseconds)."""

    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    app_cpu_ms: float = 0.0  # CPU of gunicorn (master and workers) per request
    db_cpu_ms: float = 0.0  # CPU of the PostgreSQL backends serving the app, per request

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def write_scripts(directory: Path, path: str, token: str, bodies: list[str]) -> tuple[Path, Path]:
    """(the bare GET script, the POST script rotating `bodies`) in `directory`."""
    bare = directory / "bare.lua"
    bare.write_text(_DONE)
    post = directory / "post.lua"
    quoted = ",\n".join(f"[==[{body}]==]" for body in bodies)
    post.write_text(_POST % {"bodies": quoted, "token": token, "path": path} + _DONE)
    return bare, post


def run_wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> WrkResult:
    """Run wrk once against `url` (loopback only) and parse its JSON summary."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark only drives loopback servers")
    cmd = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", "10s", "-s", str(script), url]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors={k: v for k, v in errors.items() if v},
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
    )


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return pids


class CpuMeter:
    """CPU seconds spent so far by the gunicorn process group and by the PostgreSQL backends
    connected to the benchmark database (Linux /proc; the machine's other load is left out)."""

    def __init__(self, pgid: int, database_url: str) -> None:
        self.pgid, self.database_url = pgid, database_url

    def sample(self) -> tuple[float, float]:
        """(app seconds, database seconds)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            backends = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()")]  # fmt: skip
        return _cpu_seconds(_group_pids(self.pgid)), _cpu_seconds(backends)


def measured(meter: CpuMeter, run: Callable[[], WrkResult]) -> WrkResult:
    """`run()` with the CPU it cost the app and the database, per request."""
    app0, db0 = meter.sample()
    result = run()
    app1, db1 = meter.sample()
    count = max(result.requests, 1)
    result.app_cpu_ms, result.db_cpu_ms = (app1 - app0) / count * 1e3, (db1 - db0) / count * 1e3
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen) -> None:
    """TERM the whole process group, then KILL whatever is left; returns when it is empty."""
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the master so it does not linger as a zombie
            if not _group_alive(proc.pid):
                break
            time.sleep(0.1)
        if not _group_alive(proc.pid):
            break
    proc.wait(timeout=10)


@contextmanager
def gunicorn(
    database_url: str, workers: int, threads: int, connections: int | None = None
) -> Iterator[tuple[str, CpuMeter]]:
    """Serve `server:create_app()` on a free loopback port; yields the base URL and a meter.

    With `connections` (the load generator's), each worker takes at most its share of them
    plus its threads: gthread workers race to accept, and a burst of keep-alive connections
    could all land on one worker (measured: 5.3 s of CPU against 0.04 s in one 5 s slice),
    leaving the other idle and halving that slice's rate whatever the endpoint. The cap spreads
    them as a load balancer in front would."""
    with tempfile.TemporaryDirectory(prefix="liaison-bench-") as tmp:
        port = _free_port()
        log = Path(tmp) / "gunicorn.log"
        env = {**os.environ, "LIAISON_DATABASE_URL": database_url,
               "LIAISON_SECRET_KEY": "bench-" + os.urandom(16).hex(),
               "LIAISON_INSTANCE_PATH": tmp}  # fmt: skip
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--worker-class", "gthread", "--threads", str(threads),
               "--bind", f"127.0.0.1:{port}", "--keep-alive", "5", "--log-level", "warning",
               "server:create_app()"]  # fmt: skip
        if connections:
            share = -(-connections // workers) + threads
            cmd[-1:-1] = ["--worker-connections", str(share)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base + "/healthz", proc, log, timeout=60)
            yield base, CpuMeter(proc.pid, database_url)
        finally:
            _stop(proc)
            tail = log.read_text(errors="replace").strip()
            if tail:
                print(f"gunicorn log (last lines):\n{tail[-2000:]}", file=sys.stderr)
