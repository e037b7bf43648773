"""Fixtures of the local fakes used by the mail tests (tests/fakes/)."""

from fakes.graph import fake_graph  # noqa: F401
from fakes.smtp_sink import make_smtp_sink, smtp_sink  # noqa: F401
