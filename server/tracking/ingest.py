"""The endpoints' write path (item 9): never lose an event, never slow the endpoint down.

With Redis configured (LIAISON_REDIS_URL) the endpoint appends the raw event to this process's
spool file (server/tracking/spool.py: one write, no SQL, no network; a click's URL comes from an
in-process cache of the immutable links, else the Redis link cache, else the database), and a
shipper thread moves the lines to the Redis stream `liaison:tracking:events` in pipelined
batches. The `tracking.drain` task reads the stream through a consumer group in batches,
classifies and writes events and counters in one transaction per batch, and XACKs (and deletes)
the entries only after the commit. Entries of a consumer that died mid-batch stay pending and
are claimed by the next drain (XAUTOCLAIM); every event has its own uid (TrackingEvent.uid), so
one shipped or read twice is recorded once.

Without Redis (SQLite, demo), or when Redis fails, the endpoint records the event directly.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from flask import current_app, request

from ..extensions import db
from .classify import PREFETCH_FIELDS, RawEvent
from .spool import Spool, adopt_orphans, entry_lines

STREAM = "liaison:tracking:events"
GROUP = "liaison-tracking"
LINKS_KEY = "liaison:tracking:links:"
LINK_CACHE_SECONDS = 180 * 86400
CLAIM_IDLE_MS = 60_000
LINK_MEMORY = 20_000  # links kept in process (a link never changes once sent)
_UIDS = {"pid": 0, "prefix": "", "counter": itertools.count()}
_SPOOLS: dict[tuple[int, str], Spool] = {}


def redis_client():
    """The app's Redis client for tracking, or None without LIAISON_REDIS_URL."""
    return _redis_of(current_app._get_current_object())  # type: ignore[attr-defined]


def _redis_of(app):
    url = app.config.get("REDIS_URL")
    cached = app.extensions.get("tracking_redis")
    if cached is not None and cached[0] == url:
        return cached[1]
    if not url:
        return None
    import redis

    cached = (url, redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))
    app.extensions["tracking_redis"] = cached
    return cached[1]


def stream_name() -> str:
    """The stream key (tests use their own)."""
    return current_app.config.get("TRACKING_STREAM") or STREAM


def _uid() -> str:
    if _UIDS["pid"] != os.getpid():  # a fresh prefix per process (forked workers too)
        _UIDS.update(pid=os.getpid(), prefix=secrets.token_hex(6), counter=itertools.count())
    return f"{_UIDS['prefix']}-{next(_UIDS['counter']):x}"


_ENVIRON_OF = {short: "HTTP_" + header.upper().replace("-", "_") for short, header in
               PREFETCH_FIELDS.items()}  # fmt: skip


def capture(
    kind: str, tracked_email_id: int, position: int | None, environ: dict | None = None
) -> dict[str, str]:
    """The raw event of this request as flat strings (read from the WSGI environ: this runs on
    every pixel, so it stays cheap)."""
    environ = request.environ if environ is None else environ
    fields = {
        "u": _uid(),
        "k": kind,
        "t": str(tracked_email_id),
        "p": "" if position is None else str(position),
        "at": repr(time.time()),
        "ip": environ.get("REMOTE_ADDR") or "",
        "ua": environ.get("HTTP_USER_AGENT", "")[:512],
        "v": "",
    }
    for short, key in _ENVIRON_OF.items():
        value = environ.get(key)
        if value:
            fields[short] = value[:100]
    if "HTTP_COOKIE" in environ:
        cookie = current_app.config.get("SESSION_COOKIE_NAME", "session")
        if cookie in request.cookies:  # the web app (same origin): the viewer's signed session
            from flask import session

            fields["v"] = str(session.get("user_id") or "")
    return fields


def parse(uid: str, fields: dict) -> RawEvent | None:
    """A RawEvent from stream fields (bytes or str), or None when malformed."""
    get = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (fields or {}).items()
    }
    try:
        return RawEvent(
            uid=get.get("u") or uid,
            kind={"o": "open", "c": "click"}[get["k"]],
            tracked_email_id=int(get["t"]),
            position=int(get["p"]) if get.get("p") else None,
            at=datetime.fromtimestamp(float(get["at"]), UTC),
            ip=get.get("ip") or None,
            user_agent=get.get("ua") or None,
            headers={h: get[s] for s, h in PREFETCH_FIELDS.items() if get.get(s)},
            viewer_id=int(get["v"]) if get.get("v") else None,
        )
    except (KeyError, ValueError):
        return None


def entry_events(entry_id: str, fields: dict) -> list[RawEvent]:
    """The events of one stream entry (a batch of spool lines)."""
    found = []
    for i, event_fields in enumerate(entry_lines(fields)):
        event = parse(f"{entry_id}:{i}", event_fields)
        if event is not None:
            found.append(event)
    return found


def _record_directly(fields: dict[str, str]) -> None:
    from .recording import record_events

    event = parse(f"d-{uuid.uuid4().hex}", fields)
    try:
        record_events([event] if event else [])
    except Exception:
        db.session.rollback()
        current_app.logger.exception("tracking event not recorded")


def spool_directory() -> Path:
    """Where this host's spool files live."""
    configured = current_app.config.get("TRACKING_SPOOL")
    return Path(configured) if configured else Path(current_app.instance_path) / "tracking-spool"


def _spool(client, app=None) -> Spool:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("tracking_spool")
    if cached is not None and cached.pid == os.getpid():
        return cached
    with app.app_context():
        directory = spool_directory()
        key = (os.getpid(), str(directory))
        spool = _SPOOLS.get(key)
        if spool is None:
            spool = _SPOOLS[key] = Spool(directory)
            adopt_orphans(directory, client, stream_name())  # what a dead worker left here
            if not app.testing:  # tests ship explicitly (ship_pending)
                spool.start_shipper(client, stream_name())
    app.extensions["tracking_spool"] = spool
    return spool


def ship_pending() -> int:
    """Ship this process's spool and the host's orphaned ones to the stream now."""
    client = redis_client()
    if client is None:
        return 0
    spool = _spool(client)
    return spool.ship(client, stream_name()) + adopt_orphans(
        spool_directory(), client, stream_name()
    )


def submit(fields: dict[str, str]) -> None:
    """Keep one raw event: in the spool (then the stream), or recorded directly without Redis."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = _redis_of(app)
    if client is not None:
        try:
            _spool(client, app).append(fields)
            return
        except OSError:  # disk full or gone: straight to the stream, else the database
            app.logger.exception("tracking spool not writable")
        try:
            client.xadd(stream_name(), {"b": orjson.dumps(fields)})
            return
        except Exception:
            app.logger.exception("tracking stream unavailable; recording directly")
    _record_directly(fields)


def _link_memory(app) -> dict[tuple[int, int], str]:
    return app.extensions.setdefault("tracking_links", {})


def submit_click(fields: dict[str, str], tracked_email_id: int, position: int) -> str | None:
    """Keep a click and answer its link's URL ("" for the trap); None: unknown, not kept."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = _redis_of(app)
    memory = _link_memory(app) if client is not None else {}
    key = (tracked_email_id, position)
    url = memory.get(key)
    if url is not None:  # a link never changes once sent
        submit(fields)
        return url
    if client is not None:
        import redis

        try:
            cached = client.hget(f"{LINKS_KEY}{tracked_email_id}", str(position))
            url = cached.decode() if cached is not None else None
        except redis.RedisError:
            app.logger.exception("tracking link cache unavailable")
    if url is None:
        url = link_url(tracked_email_id, position, fill_cache=client is not None)
    if url is None:
        return None
    if client is not None:
        if len(memory) >= LINK_MEMORY:
            memory.clear()
        memory[key] = url
    submit(fields)
    return url


def link_url(tracked_email_id: int, position: int, fill_cache: bool = False) -> str | None:
    """The stored URL of a link from the database ("" for the trap, None when unknown)."""
    from .models import TrackedEmail, TrackedLink

    row = db.session.execute(
        db.select(TrackedLink.url, TrackedLink.is_trap)
        .join(TrackedEmail, TrackedEmail.id == TrackedLink.tracked_email_id)
        .where(
            TrackedLink.tracked_email_id == tracked_email_id,
            TrackedLink.position == position,
            TrackedEmail.tracked.is_(True),
        )
    ).first()
    if row is None:
        return None
    if fill_cache:
        cache_links(tracked_email_id, None)
    return "" if row.is_trap else row.url


def cache_links(tracked_email_id: int, urls: list[str] | None) -> None:
    """Put a tracked email's links in the Redis link cache (None: read them from the database)."""
    client = redis_client()
    if client is None:
        return
    if urls is None:
        from .models import TrackedLink

        urls_by_position = {
            str(link.position): ("" if link.is_trap else link.url)
            for link in db.session.scalars(
                db.select(TrackedLink).where(TrackedLink.tracked_email_id == tracked_email_id)
            )
        }
    else:
        urls_by_position = {str(i): url for i, url in enumerate(urls)}
    key = f"{LINKS_KEY}{tracked_email_id}"
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    if urls_by_position:
        pipe.hset(key, mapping=urls_by_position)
        pipe.expire(key, LINK_CACHE_SECONDS)
    pipe.execute()


def consumer_name() -> str:
    """This process's consumer name in the group."""
    return f"{socket.gethostname()}-{os.getpid()}"
