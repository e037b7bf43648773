"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("orgs", __name__)
