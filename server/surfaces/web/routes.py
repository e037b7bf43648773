"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("surfaces_web", __name__)
