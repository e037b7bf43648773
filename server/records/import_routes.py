"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("records_import_routes", __name__)
