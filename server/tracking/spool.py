"""A per-process append-only spool between the endpoints and the Redis stream (item 9).

The endpoint appends its event as one JSON line to its thread's spool file (one `write`, no lock,
no network, no SQL) and answers; a shipper thread moves new lines to the Redis stream in
pipelined batches. The files outlive the process: a worker that dies (even SIGKILL) leaves its
spool behind, and any process of the host (the next gunicorn worker, the drain task) adopts files
no live process holds (each live spool file is held with an exclusive `flock`) and ships them.
A line shipped twice (a crash between XADD and the offset moving) is harmless: every event
carries its own uid, and recording skips uids it already has.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import secrets
import threading
from pathlib import Path

import orjson

SUFFIX = ".spool"
ROTATE_BYTES = 4 * 1024 * 1024
SHIP_BATCH = 200  # events per stream entry
log = logging.getLogger(__name__)


def _lines(data: bytes) -> tuple[list[bytes], int]:
    """The complete lines in `data` and how many bytes they span."""
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), end


def _xadd_all(client, stream: str, lines: list[bytes]) -> None:
    """One stream entry per SHIP_BATCH lines ({"b": the lines}), in one pipeline."""
    if not lines:
        return
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(lines), SHIP_BATCH):
        pipe.xadd(stream, {"b": b"\n".join(lines[start : start + SHIP_BATCH])})
    pipe.execute()


def entry_lines(fields: dict) -> list[dict]:
    """The events (JSON objects) of one stream entry."""
    blob = fields.get(b"b", fields.get("b")) or b""
    events = []
    for raw in blob.splitlines():
        try:
            events.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            log.warning("skipping a malformed tracking event line")
    return events


class _File:
    """One spool file, appended to by one request thread only (so appends take no lock)."""

    def __init__(self, directory: Path) -> None:
        name = f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = directory / f"{name}.tmp"  # adopters only look at *.spool
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.path = directory / f"{name}{SUFFIX}"
        os.rename(temporary, self.path)
        self.fd = fd
        self.written = 0  # bytes appended, by its thread
        self.shipped = 0  # bytes moved to the stream, by the shipper
        self.sealed = False  # set by its thread once it appends elsewhere
        self.owner = threading.current_thread()

    def done_writing(self) -> bool:
        """True once nothing more will be appended: its thread moved on, or is gone (servers
        that start a thread per request)."""
        return self.sealed or not self.owner.is_alive()


class Spool:
    """This process's spool: each request thread appends to a file of its own (no lock on the
    request path: a lock held across the `write`, which lets go of the GIL, made the threads
    queue behind whichever one was waiting to get the GIL back); one shipper moves new lines
    to the stream, and removes a file once its thread has moved on and it is fully shipped."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pid = os.getpid()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.local = threading.local()
        self.files: list[_File] = []
        self.files_lock = threading.Lock()  # the list of files (a new one, a finished one)
        self.ship_lock = threading.Lock()  # one shipper at a time
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def _file(self) -> _File:
        """The calling thread's file, a new one when it has none or it grew past ROTATE_BYTES."""
        current = getattr(self.local, "file", None)
        if current is not None and current.written < ROTATE_BYTES:
            return current
        fresh = _File(self.directory)
        with self.files_lock:
            self.files.append(fresh)
        self.local.file = fresh
        if current is not None:
            current.sealed = True  # after the switch: nothing more is written to it
        return fresh

    def append(self, fields: dict) -> None:
        """Keep one event (durable once this returns, whatever happens to the process)."""
        line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        file = self._file()
        os.write(file.fd, line)
        file.written += len(line)

    def ship(self, client, stream: str) -> int:
        """Move the lines not shipped yet to the stream; remove sealed files fully shipped."""
        with self.ship_lock:
            with self.files_lock:
                files = list(self.files)
            shipped, finished = 0, []
            for file in files:
                sealed = file.done_writing()  # first: once done, its size no longer changes
                size = os.fstat(file.fd).st_size
                if size > file.shipped:
                    events, used = _lines(os.pread(file.fd, size - file.shipped, file.shipped))
                    _xadd_all(client, stream, events)
                    file.shipped += used
                    shipped += len(events)
                if sealed and file.shipped >= size:
                    finished.append(file)
            for file in finished:
                with self.files_lock:
                    self.files.remove(file)
                os.unlink(file.path)
                os.close(file.fd)
            return shipped

    def reship_all(self) -> None:
        """Ship every line again from the start (as if the shipper had died between XADD and
        moving its offsets; tests)."""
        with self.ship_lock, self.files_lock:
            for file in self.files:
                file.shipped = 0

    def close(self) -> None:
        """Close the files (their contents stay for adoption; tests)."""
        with self.files_lock:
            files, self.files = self.files, []
        for file in files:
            os.close(file.fd)

    def start_shipper(self, client, stream: str, interval: float = 0.1) -> None:
        """Ship in a daemon thread (and once more at exit)."""
        if self.thread is not None:
            return

        # polls: waking it per event would cost each request a thread switch; every 0.1 s
        # rather than 0.02 s the web threads lose the GIL to it five times less often (measured:
        # the pixel's extra CPU per request fell from ~0.07 to ~0.06 ms); events reach the
        # stream at most 0.1 s later, and are durable in the file meanwhile
        def run() -> None:
            while True:
                self.wake.wait(interval)
                try:
                    self.ship(client, stream)
                except Exception:  # Redis away: the lines wait in the files
                    log.exception("tracking spool not shipped; retrying")
                    self.wake.wait(1.0)

        self.thread = threading.Thread(target=run, name="tracking-spool", daemon=True)
        self.thread.start()
        atexit.register(self._ship_quietly, client, stream)

    def _ship_quietly(self, client, stream: str) -> None:
        try:
            self.ship(client, stream)
        except Exception:
            log.exception("tracking spool left for adoption")


def adopt_orphans(directory: Path, client, stream: str) -> int:
    """Ship and remove spool files of processes that are gone (no flock held on them)."""
    shipped = 0
    if not directory.is_dir():
        return 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process's spool (or another adopter's)
            if not path.exists():
                continue
            size = os.fstat(fd).st_size
            events, _ = _lines(os.pread(fd, size, 0)) if size else ([], 0)
            _xadd_all(client, stream, events)
            os.unlink(path)
            shipped += len(events)
        finally:
            os.close(fd)
    return shipped
