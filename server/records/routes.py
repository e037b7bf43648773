"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("records", __name__)
