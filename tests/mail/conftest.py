"""Fixtures of the local fakes used by the mail tests (tests/fakes/)."""

from fakes.gmail_api import fake_gmail  # noqa: F401
from fakes.graph import fake_graph  # noqa: F401
from fakes.smtp_sink import make_smtp_sink, smtp_sink  # noqa: F401
