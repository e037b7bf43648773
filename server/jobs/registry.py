"""The named background tasks and periodic ticks; both queue backends run from this registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TaskFunction = Callable[..., object]


@dataclass(frozen=True)
class Tick:
    """A periodic task: its registered name and how often it runs."""

    name: str
    every_seconds: float


TASKS: dict[str, TaskFunction] = {}
TICKS: list[Tick] = []

# Modules that define tasks; imported by both backends before running anything.
TASK_MODULES = (
    "server.mail.outbox_tasks",
    "server.records.import_tasks",
    "server.emails.send_tasks",
    "server.tracking.tasks",
)


def task(name: str, every_seconds: float | None = None) -> Callable[[TaskFunction], TaskFunction]:
    """Register `fn` as background task `name` (and as a tick when `every_seconds` is given).

    Task arguments are ids and plain values only: queue messages carry ids, rows are the truth.
    """

    def register(fn: TaskFunction) -> TaskFunction:
        if name in TASKS and TASKS[name] is not fn:
            raise ValueError(f"task {name!r} registered twice")
        TASKS[name] = fn
        fn.task_name = name  # type: ignore[attr-defined]
        if every_seconds is not None and all(t.name != name for t in TICKS):
            TICKS.append(Tick(name, every_seconds))
        return fn

    return register


def load_task_modules() -> None:
    """Import every module that registers tasks."""
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)


def task_name_of(task_or_name: TaskFunction | str) -> str:
    """The registered name for a task function or a name."""
    name = task_or_name if isinstance(task_or_name, str) else getattr(task_or_name, "task_name", "")
    if name not in TASKS:
        load_task_modules()
    if name not in TASKS:
        raise KeyError(f"unknown task {task_or_name!r}")
    return name
