"""The in-process queue: one worker thread with a due-time heap, plus the periodic ticks.

Used by `liaison serve` and `liaison demo` on a single host (LIAISON_QUEUE=inline); nothing else
to install. Every task runs in an app context; a failing task is logged, the thread goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from datetime import datetime

from flask import Flask

from ..clock import utcnow
from .registry import TASKS, TICKS, load_task_modules

log = logging.getLogger(__name__)


class InlineRunner:
    """A worker thread running due tasks in order of their due time."""

    def __init__(self, app: Flask, tick_scale: float = 1.0) -> None:
        self.app = app
        self.tick_scale = tick_scale
        self._heap: list[tuple[float, int, str, tuple]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._stopping = False
        self._busy = 0
        self._thread: threading.Thread | None = None

    def submit(self, name: str, args: tuple, eta: datetime | None = None) -> None:
        """Queue task `name` to run at `eta` (now when None)."""
        due = time.monotonic() + max(0.0, (eta - utcnow()).total_seconds()) if eta else 0.0
        with self._cv:
            heapq.heappush(self._heap, (due, next(self._order), name, args))
            self._cv.notify()

    def start(self) -> InlineRunner:
        """Start the worker thread and schedule the periodic ticks."""
        load_task_modules()
        for tick in TICKS:
            self.submit(tick.name, ())
        self._thread = threading.Thread(target=self._loop, name="liaison-inline-jobs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the task in progress."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is due now and nothing runs (ticks scheduled later don't count)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while time.monotonic() < deadline:
                due_now = self._heap and self._heap[0][0] <= time.monotonic()
                if not due_now and self._busy == 0:
                    return True
                self._cv.wait(0.05)
        return False

    def _next(self) -> tuple[str, tuple] | None:
        with self._cv:
            while not self._stopping:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    _, _, name, args = heapq.heappop(self._heap)
                    self._busy += 1
                    return name, args
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                self._cv.wait(wait)
            return None

    def _loop(self) -> None:
        while (item := self._next()) is not None:
            name, args = item
            try:
                with self.app.app_context():
                    TASKS[name](*args)
            except Exception:
                log.exception("background task %s%r failed", name, args)
            finally:
                self._reschedule_if_tick(name)
                with self._cv:
                    self._busy -= 1
                    self._cv.notify_all()

    def _reschedule_if_tick(self, name: str) -> None:
        for tick in TICKS:
            if tick.name == name:
                due = time.monotonic() + tick.every_seconds * self.tick_scale
                with self._cv:
                    heapq.heappush(self._heap, (due, next(self._order), name, ()))
                    self._cv.notify()
