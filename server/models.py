"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from .auth.models import *  # noqa: F403
from .orgs.models import *  # noqa: F403
from .records.models import *  # noqa: F403
