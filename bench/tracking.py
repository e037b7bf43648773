"""Benchmark: the tracking pixel and redirect against bare endpoints of the same app (item 9).

    liaison bench tracking [--duration 30] [--connections 64] [--workers 2] [--threads 4]
                           [--database-url postgresql://postgres@127.0.0.1:5432/]
                           [--redis-url redis://127.0.0.1:6379/5]

Creates PostgreSQL database `liaison_bench_tracking` (tables from the models), serves the app
with gunicorn (2 gthread workers, LIAISON_REDIS_URL set, LIAISON_BENCH_ENDPOINTS=1) on loopback,
makes one tracked email through POST /api/tracking/prepare, then runs wrk, same settings, same
run: bare GIF (/t/bench/o) and the pixel (/t/o/<token>), bare redirect (/t/bench/c) and the
click (/t/c/<token>), each 30 s in total as alternating slices (so a drifting machine load
falls on both sides of a ratio alike). After the runs the stream is drained into the database
(in this process, as the `tracking.drain` worker task does) and the stored events are compared
with the requests wrk counted as served. Targets: pixel >= 0.85 x bare, click >= 0.8 x bare,
0 events lost. Exit status: 0 PASS, 1 FAIL, 2 error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import _harness  # noqa: E402
import _loader  # noqa: E402

DB_NAME = "liaison_bench_tracking"
RECIPIENT = "ann@buyer.bench.example"
HTML = '<html><body><p>Hi</p><a href="https://example.com/offer">Offer</a></body></html>'


def _say(text: str) -> None:
    print(text, flush=True)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liaison bench tracking", description=__doc__)
    add = parser.add_argument
    add("--duration", type=int, default=30, help="seconds per wrk run")
    add("--connections", type=int, default=64)
    add("--slices", type=int, default=3, help="each 30 s run as this many alternating slices")
    add("--wrk-threads", type=int, default=2)
    add("--workers", type=int, default=2, help="gunicorn workers")
    add("--threads", type=int, default=4, help="threads per gunicorn worker")
    add("--database-url", default="postgresql://postgres@127.0.0.1:5432/")
    add("--redis-url", default="redis://127.0.0.1:6379/5")
    add("--pixel-target", type=float, default=0.85)
    add("--click-target", type=float, default=0.8)
    return parser.parse_args(argv)


def _make_app(url: str, redis_url: str, spool: str):
    from server import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-local", "REDIS_URL": redis_url,
         "TRACKING_SPOOL": spool, "TESTING": True}  # TESTING: no shipper thread here
    )  # fmt: skip
    _loader.create_tables(app)
    return app


def _seed(app) -> str:
    """An org, a rep with an API token and a contact to track; the token."""
    from server.auth.tokens import create_api_token
    from server.extensions import db
    from server.orgs.models import Organization, User
    from server.records.models import Contact, ContactEmail

    with app.app_context():
        org = Organization(name="Bench Tracking Org")
        db.session.add(org)
        db.session.flush()
        user = User(org_id=org.id, name="Bench Rep", email="rep@bench.example", role="rep")
        contact = Contact(org_id=org.id)
        contact.emails.append(
            ContactEmail(
                org_id=org.id, email=RECIPIENT, email_normalized=RECIPIENT, is_primary=True
            )
        )
        db.session.add_all([user, contact])
        db.session.commit()
        return create_api_token(user, "bench tracking")[1]


def _prepare(base: str, token: str) -> tuple[str, str]:
    """(pixel path, click path) of a tracked email made by the running server."""
    body = json.dumps({"html": HTML, "recipients": [RECIPIENT], "subject": "Bench"}).encode()
    request = urllib.request.Request(
        base + "/api/tracking/prepare",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        prepared = json.loads(answer.read())
    pixel = prepared["pixel_url"].split("/t/o/", 1)[1]
    click = prepared["html"].split('href="', 1)[1].split('"', 1)[0].split("/t/c/", 1)[1]
    return f"/t/o/{pixel}", f"/t/c/{click}"


def _reset_stream(redis_url: str) -> None:
    import redis

    from server.tracking import ingest

    client = redis.Redis.from_url(redis_url)
    client.delete(ingest.STREAM)
    for key in client.scan_iter(f"{ingest.LINKS_KEY}*"):
        client.delete(key)


def _drain_all(app, redis_url: str) -> tuple[int, float]:
    """Drain the whole stream into the database; (events stored, seconds)."""
    import redis

    from server.tracking import ingest
    from server.tracking.tasks import drain

    client = redis.Redis.from_url(redis_url)
    stored, start = 0, time.monotonic()
    with app.app_context():
        while True:
            stored += drain(consumer="bench")
            if client.xlen(ingest.STREAM) == 0:
                break
    return stored, time.monotonic() - start


def _count(app, kind: str) -> int:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.tracking.models import TrackingEvent

    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(TrackingEvent).where(TrackingEvent.kind == kind)
        )


def _combined(total, part):
    """Two wrk results as one (requests and seconds added; latencies of the worse slice)."""
    if total is None:
        return part
    count = total.requests + part.requests
    return _harness.WrkResult(
        requests=count,
        seconds=total.seconds + part.seconds,
        errors={k: total.errors.get(k, 0) + v for k, v in part.errors.items()},
        p50_ms=max(total.p50_ms, part.p50_ms),
        p90_ms=max(total.p90_ms, part.p90_ms),
        p99_ms=max(total.p99_ms, part.p99_ms),
        mean_ms=(total.mean_ms * total.requests + part.mean_ms * part.requests) / max(count, 1),
        app_cpu_ms=(total.app_cpu_ms * total.requests + part.app_cpu_ms * part.requests)
        / max(count, 1),
    )


def _line(name: str, result: _harness.WrkResult) -> str:
    errors = {k: v for k, v in result.errors.items() if v}
    return (
        f"  {name:<22} {result.rate:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  requests {result.requests}"
        + (f"  errors {errors}" if errors else "")
    )


def measure(opts: argparse.Namespace) -> int:
    """Run the four wrk runs and the checks; the exit status."""
    admin_url, url = _loader.database_urls(opts.database_url, DB_NAME)
    _loader.recreate_database(admin_url, DB_NAME)
    with tempfile.TemporaryDirectory(prefix="liaison-bench-tracking-") as tmp:
        return _measure(opts, url, tmp)


def _measure(opts: argparse.Namespace, url: str, tmp: str) -> int:
    spool = str(Path(tmp) / "spool")
    app = _make_app(url, opts.redis_url, spool)
    token = _seed(app)
    _reset_stream(opts.redis_url)
    os.environ.update(LIAISON_REDIS_URL=opts.redis_url, LIAISON_BENCH_ENDPOINTS="1",
                      LIAISON_TRACKING_SPOOL=spool)  # fmt: skip
    runs: dict[str, _harness.WrkResult] = {}
    script, _ = _harness.write_scripts(Path(tmp), "/", "", ["{}"])
    with _harness.gunicorn(url, opts.workers, opts.threads, opts.connections) as (base, meter):
        pixel, click = _prepare(base, token)
        pairs = ((("bare GIF", "/t/bench/o"), ("pixel /t/o", pixel)),
                 (("bare redirect", "/t/bench/c"), ("click /t/c", click)))  # fmt: skip
        seconds = max(opts.duration // opts.slices, 1)
        for pair in pairs:  # alternate slices: a drifting machine load hits both sides alike
            for _ in range(opts.slices):
                for name, path in pair:
                    _say(f"wrk {seconds} s x {opts.connections} connections: {name}")
                    result = _harness.measured(
                        meter,
                        lambda p=path: _harness.run_wrk(
                            base + p, script, seconds, opts.connections, opts.wrk_threads
                        ),
                    )
                    runs[name] = _combined(runs.get(name), result)
    pixel_ratio = runs["pixel /t/o"].rate / max(runs["bare GIF"].rate, 1e-9)
    click_ratio = runs["click /t/c"].rate / max(runs["bare redirect"].rate, 1e-9)
    served_opens, served_clicks = runs["pixel /t/o"].requests, runs["click /t/c"].requests
    _say(f"\nResults (gunicorn {opts.workers} gthread workers x {opts.threads} threads, "
         "Redis stream write path)")  # fmt: skip
    for name, result in runs.items():
        _say(_line(name, result) + f"  app CPU {result.app_cpu_ms:.3f} ms/req")
    _say(f"  pixel / bare GIF      {pixel_ratio:.3f}  (target >= {opts.pixel_target})")
    _say(f"  click / bare redirect {click_ratio:.3f}  (target >= {opts.click_target})")
    stored, drain_seconds = _drain_all(app, opts.redis_url)
    opens, clicks = _count(app, "open"), _count(app, "click")
    _say(f"  opens: served {served_opens}, stored {opens}; clicks: served {served_clicks}, "
         f"stored {clicks}  (stored >= served: none lost)")  # fmt: skip
    rate = stored / max(drain_seconds, 1e-9)
    _say(f"  drain: {stored} events in {drain_seconds:.1f} s ({rate:.0f} events/s, "
         "one transaction per batch)")  # fmt: skip
    lost = max(served_opens - opens, 0) + max(served_clicks - clicks, 0)
    ok = pixel_ratio >= opts.pixel_target and click_ratio >= opts.click_target and lost == 0
    _say(f"  lost events: {lost}\n{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status."""
    try:
        return measure(_options(argv))
    except Exception as exc:  # a broken run is an error, not a FAIL
        _say(f"ERROR: {exc!r}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
