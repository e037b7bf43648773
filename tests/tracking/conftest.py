"""Fixtures of the tracking tests (the helpers live in scenario.py)."""

from .scenario import world  # noqa: F401
