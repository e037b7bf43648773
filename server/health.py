"""Liveness and the constant endpoint benchmarks compare against."""

from apiflask import APIBlueprint

bp = APIBlueprint("health", __name__, tag="Health")


@bp.get("/healthz")
@bp.doc(summary="Liveness: a constant JSON body, no database work")
def healthz():
    """Constant answer; also the 'bare' baseline of the benchmarks."""
    return {"status": "ok"}
