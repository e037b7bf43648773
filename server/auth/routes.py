"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("auth", __name__)
