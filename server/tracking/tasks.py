"""Background entry point: drain the tracking stream into the database (item 9)."""

from __future__ import annotations

from flask import current_app

from ..jobs.registry import task
from . import ingest
from .recording import record_events

BATCH = 5  # stream entries per transaction (each up to spool.SHIP_BATCH events)
MAX_BATCHES = 400


def _ensure_group(client, stream: str) -> None:
    import redis

    try:
        client.xgroup_create(stream, ingest.GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _process(client, stream: str, entries: list) -> int:
    """Record one batch (one transaction), then acknowledge and delete its entries."""
    if not entries:
        return 0
    events = []
    for entry_id, fields in entries:
        uid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        events.extend(ingest.entry_events(uid, fields))
    stored = record_events(events)
    ids = [entry_id for entry_id, _ in entries]
    pipe = client.pipeline(transaction=True)
    pipe.xack(stream, ingest.GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return stored


def drain(
    consumer: str | None = None,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
    claim_idle_ms: int = ingest.CLAIM_IDLE_MS,
) -> int:
    """Record what is on the stream: first entries left pending by a dead consumer, then new."""
    client = ingest.redis_client()
    if client is None:
        return 0
    stream, consumer = ingest.stream_name(), consumer or ingest.consumer_name()
    _ensure_group(client, stream)
    ingest.ship_pending()  # this host's spools first (the web processes ship on their own)
    stored, start = 0, "0-0"
    while True:
        reply = client.xautoclaim(
            stream, ingest.GROUP, consumer, claim_idle_ms, start_id=start, count=batch
        )
        start, entries = reply[0], reply[1]
        stored += _process(client, stream, [e for e in entries if e[1] is not None])
        if start in (b"0-0", "0-0"):
            break
    for _ in range(max_batches):
        reply = client.xreadgroup(ingest.GROUP, consumer, {stream: ">"}, count=batch)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        stored += _process(client, stream, entries)
    return stored


@task("tracking.drain", every_seconds=1.0)
def drain_tracking_events() -> int:
    """Tick: drain the tracking stream when Redis is configured."""
    if not current_app.config.get("REDIS_URL"):
        return 0
    return drain()
