"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from .auth.models import *  # noqa: F403
from .bulk.models import *  # noqa: F403
from .consent.models import *  # noqa: F403
from .emails.audit_models import *  # noqa: F403
from .emails.models import *  # noqa: F403
from .mail.inbound_models import *  # noqa: F403
from .mail.mailbox_models import *  # noqa: F403
from .mail.models import *  # noqa: F403
from .notifications.models import *  # noqa: F403
from .orgs.models import *  # noqa: F403
from .records.import_models import *  # noqa: F403
from .records.models import *  # noqa: F403
from .tracking.models import *  # noqa: F403
