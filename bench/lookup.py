"""Benchmark: the sidebar look-up (POST /api/lookup, 10 addresses) against the constant GET
/healthz of the same app, same gunicorn, same run, same wrk settings. Target: ratio >= 0.5.

    liaison bench lookup [--scale 1.0] [--reuse] [--duration 15] [--connections 16] ...

Loads PostgreSQL database `liaison_bench` (1,000,000 contacts with two addresses each, 300,000
companies, 1,000,000 deals, 300,000 tickets, their associations; see bench/README.md), serves
the app with gunicorn (2 gthread workers) on loopback, checks a sample of answers against the
database, then measures both endpoints with wrk. Exit status: 0 PASS, 1 FAIL, 2 error.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import _data  # noqa: E402
import _harness  # noqa: E402
import _loader  # noqa: E402
import psycopg  # noqa: E402

DB_NAME = "liaison_bench"
LOOKUP_PATH = "/api/lookup"
BARE_PATH = "/healthz"


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liaison bench lookup", description=__doc__)
    add = parser.add_argument
    add("--database-url", default="postgresql://postgres@127.0.0.1:5432/",
        help=f"PostgreSQL server (the database {DB_NAME} is created on it)")  # fmt: skip
    add("--database-name", default=DB_NAME, help="the benchmark database (dropped on load)")
    add("--scale", type=float, default=1.0, help="fraction of the full data set (0.01 = quick)")
    add("--reuse", action="store_true", help="keep a complete earlier load of the same scale")
    add("--load-only", action="store_true", help="load the database and stop")
    add("--duration", type=int, default=15, help="seconds per measured run")
    add("--warmup", type=int, default=5, help="seconds of warm-up per endpoint")
    add("--rounds", type=int, default=1, help="measured bare/lookup pairs (median reported)")
    add("--connections", type=int, default=16)
    add("--wrk-threads", type=int, default=2)
    add("--workers", type=int, default=2, help="gunicorn workers")
    add("--threads", type=int, default=4, help="threads per gunicorn (gthread) worker")
    add("--addresses", type=int, default=10, help="addresses per look-up request")
    add("--bodies", type=int, default=3000, help="distinct request bodies rotated by wrk")
    add("--target", type=float, default=0.5, help="required look-up/bare ratio")
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, flush=True)


def prepare(opts: argparse.Namespace) -> tuple[str, _data.Shape, str]:
    """Load (or reuse) the database; returns (its URL, the data shape, a fresh API token)."""
    from server import create_app
    from server.config import Config

    admin_url, url = _loader.database_urls(opts.database_url, opts.database_name)
    shape = _data.Shape.scaled(opts.scale)
    app = create_app(Config(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench"))
    schema = _loader.schema_fingerprint(app)
    if opts.reuse and _loader.existing_load(admin_url, opts.database_name, shape, schema):
        _say(f"reusing {opts.database_name}: a complete load at scale {opts.scale}, same schema")
        _loader.create_tables(app)
    else:
        started = time.perf_counter()
        _say(f"loading database {opts.database_name} at scale {opts.scale}:")
        _loader.recreate_database(admin_url, opts.database_name)
        org_id, user_ids = _loader.seed_people(app)
        shape = _data.Shape.scaled(opts.scale, org_id=org_id, owner_ids=user_ids,
                                   created_by=user_ids[2])  # fmt: skip
        _loader.bulk_load(url, shape, schema, _say)
        _say(f"  total load {time.perf_counter() - started:39.1f} s")
    token, org_id = _loader.issue_token(app)
    shape = dataclasses.replace(shape, org_id=org_id)
    with app.app_context():
        from server.extensions import db

        db.engine.dispose()
    return url, shape, token


def make_bodies(shape: _data.Shape, count: int, per_request: int) -> list[list[tuple[str, int]]]:
    """`count` requests of `per_request` distinct random contacts: (address as stored, contact)."""
    rng = random.Random(20240601)
    bodies = []
    for _ in range(count):
        picked = rng.sample(range(1, shape.contacts + 1), per_request)
        bodies.append([(shape.addresses(c)[rng.random() < 0.3], c) for c in picked])
    return bodies


_TOP = """SELECT r.id FROM associations a JOIN {table} r ON r.id = a.b_id
 WHERE a.org_id = %s AND a.a_type = 'contact' AND a.a_id = %s AND a.b_type = %s
   AND NOT r.is_closed ORDER BY r.last_activity_at DESC NULLS LAST, r.id DESC LIMIT 3"""


def verify(base: str, token: str, url: str, shape: _data.Shape, sample: list) -> None:
    """POST some bodies and compare every answer with an independent SQL query; raise if wrong."""
    deals = tickets = 0
    with psycopg.connect(url) as conn:
        for pairs in sample:
            answer = _post(base, token, [address for address, _ in pairs])
            results = answer["results"]
            if len(results) != len(pairs) or "settings" not in answer:
                raise AssertionError(f"unexpected answer shape: {json.dumps(answer)[:500]}")
            for (address, contact), result in zip(pairs, results, strict=True):
                got = result.get("contact") or {}
                if got.get("id") != contact or not result.get("company"):
                    raise AssertionError(f"{address}: expected contact {contact}, got {result}")
                for kind, table in (("deal", "deals"), ("ticket", "tickets")):
                    want = [row[0] for row in conn.execute(
                        _TOP.format(table=table), (shape.org_id, contact, kind))]  # fmt: skip
                    have = [item["id"] for item in result[f"{kind}s"]]
                    if want != have:
                        raise AssertionError(f"{address}: {kind}s {have}, expected {want}")
                deals += len(result["deals"])
                tickets += len(result["tickets"])
    if not deals or not tickets:
        raise AssertionError("the sample answers hold no deals or no tickets")
    _say(f"verified {sum(len(p) for p in sample)} addresses in {len(sample)} look-ups "
         f"({deals} deals, {tickets} tickets match SQL)")  # fmt: skip


def _post(base: str, token: str, addresses: list[str]) -> dict:
    request = urllib.request.Request(
        base + LOOKUP_PATH,
        data=json.dumps({"emails": addresses}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _line(label: str, path: str, result: _harness.WrkResult) -> str:
    errors = f"  errors {result.errors}" if result.errors else ""
    cpu = f"app {result.app_cpu_ms:5.2f} ms + PostgreSQL {result.db_cpu_ms:5.2f} ms"
    latency = f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
    return (f"{label:<7} {path:<12} {result.rate:8.1f} req/s  {latency}  CPU/request: {cpu}"
            f"  ({result.requests} req){errors}")  # fmt: skip


def measure(opts: argparse.Namespace, url: str, shape: _data.Shape, token: str) -> int:
    """Serve, verify, warm up, measure; print the figures; the exit status."""
    bodies = make_bodies(shape, opts.bodies, opts.addresses)
    with tempfile.TemporaryDirectory(prefix="liaison-wrk-") as tmp:
        bare_lua, post_lua = _harness.write_scripts(
            Path(tmp), LOOKUP_PATH, token,
            [json.dumps({"emails": [a for a, _ in pairs]}) for pairs in bodies],
        )  # fmt: skip
        with _harness.gunicorn(url, opts.workers, opts.threads, opts.connections) as (base, meter):
            _say(f"gunicorn at {base}: {opts.workers} gthread workers x {opts.threads} threads")
            try:
                verify(base, token, url, shape, bodies[:20])
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:300]
                _say(f"the look-up endpoint is not usable (HTTP {exc.code}: {detail})")
                _say(f"measuring {BARE_PATH} only")
                result = _harness.run_wrk(base + BARE_PATH, bare_lua, opts.duration,
                                          opts.connections, opts.wrk_threads)  # fmt: skip
                _say(_line("bare", BARE_PATH, result))
                return 2
            wrk = (opts.connections, opts.wrk_threads)
            if opts.warmup:
                _harness.run_wrk(base + BARE_PATH, bare_lua, opts.warmup, *wrk)
                _harness.run_wrk(base + LOOKUP_PATH, post_lua, opts.warmup, *wrk)
            _say(f"wrk: {opts.duration} s per run, {opts.connections} connections, "
                 f"{opts.wrk_threads} threads, {opts.rounds} round(s); "
                 f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            bare, lookup = [], []
            for _ in range(opts.rounds):
                pairs = (
                    ("bare", BARE_PATH, bare_lua, bare),
                    ("lookup", LOOKUP_PATH, post_lua, lookup),
                )
                for label, path, script, runs in pairs:
                    run = functools.partial(
                        _harness.run_wrk, base + path, script, opts.duration, *wrk
                    )
                    runs.append(_harness.measured(meter, run))
                    _say(_line(label, path, runs[-1]))
    if any(r.errors for r in bare + lookup):
        _say("ERROR: some requests failed (see errors above)")
        return 2
    bare_rate = statistics.median(r.rate for r in bare)
    lookup_rate = statistics.median(r.rate for r in lookup)
    ratio = lookup_rate / bare_rate
    verdict = "PASS" if ratio >= opts.target else "FAIL"
    bare_cpu = statistics.median(r.app_cpu_ms + r.db_cpu_ms for r in bare)
    lookup_cpu = statistics.median(r.app_cpu_ms + r.db_cpu_ms for r in lookup)
    _say(
        f"CPU per request (app + PostgreSQL): bare {bare_cpu:.2f} ms, lookup {lookup_cpu:.2f} ms"
        f" (CPU ratio {bare_cpu / lookup_cpu:.3f}; less sensitive to other load on the machine)"
    )
    _say(f"bare {bare_rate:.1f} req/s, lookup ({opts.addresses} addresses) {lookup_rate:.1f} "
         f"req/s, ratio {ratio:.3f} (target >= {opts.target}): {verdict}")  # fmt: skip
    return 0 if verdict == "PASS" else 1


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status."""
    opts = _options(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))  # so `finally` stops gunicorn
    url, shape, token = prepare(opts)
    if opts.load_only:
        return 0
    return measure(opts, url, shape, token)


if __name__ == "__main__":
    sys.exit(main())
