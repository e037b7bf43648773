"""Routes (being written)."""

from apiflask import APIBlueprint

bp = APIBlueprint("records_query_routes", __name__)
