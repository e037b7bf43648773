"""Microsoft identity tokens (placeholder until the identity work lands in this module)."""

from ..errors import Unauthorized
from ..orgs.models import User


def user_for_microsoft_token(token: str) -> User:
    """Verify a Microsoft identity token and return (provisioning if new) its user."""
    raise Unauthorized("Microsoft identity tokens are not accepted yet.")
