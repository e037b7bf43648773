"""Schema fields shared by every API: ids are validated before they reach the database."""

from apiflask.fields import Integer
from apiflask.validators import Range

MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on PostgreSQL


class Id(Integer):
    """A record id: a positive integer within the id column's range (422 otherwise)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", Range(1, MAX_ID))
        kwargs.setdefault("metadata", {}).setdefault("minimum", 1)
        super().__init__(**kwargs)


class IdCursor(Integer):
    """A page cursor that is the last id seen (0 or absent: the first page)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", Range(0, MAX_ID))
        super().__init__(**kwargs)
