"""Benchmark: the outbox pipeline against a bare smtplib loop, same sink, same run (Mail plumbing
#3). Target: pipeline >= 0.6 x bare.

    liaison bench transport [--count 20000] [--database-url postgresql://postgres@127.0.0.1:5432/]

Pipeline: COUNT personalized outbox rows (HTML ~4 KB, 5 merge fields, 3 links, a per-recipient
List-Unsubscribe) are inserted into PostgreSQL database `liaison_bench_transport` (dropped and
created; tables from the app's models), then sent by the real task `outbox.send_due` (claim under
a lease, sandboxed merge rendering, MessageTemplate build, SMTP to the sink, one commit per message
marking it sent) until none is due. Bare: the same number of pre-built messages (bytes) sent with
smtplib over one connection. The sink (aiosmtpd, bench/_sink.py) runs in a process of its own on
127.0.0.1 and counts. Checks: the sink got exactly COUNT messages (distinct recipients) in each
phase and every outbox row is 'sent'. Exit status: 0 PASS, 1 FAIL, 2 error or check failed.
"""

from __future__ import annotations

import argparse
import signal
import smtplib
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import _loader  # noqa: E402
import _sink  # noqa: E402

DB_NAME = "liaison_bench_transport"
SENDER = {"email": "sales@bench.example", "name": "Liaison Sales Équipe"}
PARAGRAPH = (
    '<p>Dear {{ first_name | default("there") }}, thank you for your interest in {{ company }}.'
    " Our team in {{ city }} has prepared a proposal tailored to your needs, with a few options"
    " to compare side by side.</p>\n"
)
HTML = (
    '<html><body><h1>Hello {{ first_name | default("there") }} {{ last_name }}</h1>\n'
    + PARAGRAPH * 14
    + '<p><a href="https://example.com/offer?c={{ company | urlencode }}">See the offer</a> ·'
    ' <a href="https://example.com/book?city={{ city | urlencode }}">Book a call</a> ·'
    ' <a href="https://example.com/u/{{ token }}">Unsubscribe</a></p></body></html>'
)
SUBJECT = 'Une offre pour {{ company }}, {{ first_name | default("vous") }} ✨'


class Timeout(Exception):
    """The run took longer than --timeout."""


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liaison bench transport", description=__doc__)
    add = parser.add_argument
    add("--count", type=int, default=20_000, help="messages per phase")
    add("--database-url", default="postgresql://postgres@127.0.0.1:5432/",
        help=f"PostgreSQL server ({DB_NAME} is created on it, dropped after)")  # fmt: skip
    add("--database-name", default=DB_NAME, help="the benchmark database (dropped, created)")
    add("--batch-size", type=int, default=None, help="claim size (default: send_due's)")
    add("--target", type=float, default=0.6, help="required pipeline/bare ratio")
    add("--timeout", type=int, default=900, help="seconds before the run is abandoned")
    add("--rounds", type=int, default=5,
        help="bare and pipeline alternate in rounds (a shared machine's load shifts)")  # fmt: skip
    add("--no-pipelining", dest="pipelining", action="store_false",
        help="the sink does not offer PIPELINING (the transport goes in lock-step)")  # fmt: skip
    add("--keep", action="store_true", help="keep the database after the run")
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, flush=True)


def content(i: int) -> dict:
    """Row i's outbox content: the shared templates and its own merge fields."""
    address = f"zoe{i}@example.org"
    return {
        "template_key": "bench:transport",
        "from": SENDER,
        "to": [{"email": address, "name": f"Zoë{i} Müller"}],
        "subject": SUBJECT,
        "html": HTML,
        "headers": {
            "List-Unsubscribe": f"<https://example.com/u/tok{i:08d}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "merge": {
            "first_name": f"Zoë{i}",
            "last_name": "Müller",
            "company": f"Acme & Co {i}",
            "city": "Zürich",
            "token": f"tok{i:08d}",
        },
    }


def make_app(opts: argparse.Namespace, sink: _sink.Sink):
    """A fresh benchmark database (tables from the models) and an app pointed at it and the sink."""
    from server import create_app
    from server.config import Config

    admin_url, url = _loader.database_urls(opts.database_url, opts.database_name)
    _loader.recreate_database(admin_url, opts.database_name)
    app = create_app(
        Config(
            SQLALCHEMY_DATABASE_URI=url,
            SECRET_KEY="bench",
            SMTP_HOST=sink.host,
            SMTP_PORT=sink.port,
            SMTP_SECURITY="none",
            MAIL_DOMAIN="bench.example",
        )
    )
    _loader.create_tables(app)
    return app, admin_url


def queue_rows(app, start: int, count: int) -> None:
    """Insert `count` queued outbox rows (one org), in chunks, outside the measurement."""
    from sqlalchemy import insert

    from server.clock import utcnow
    from server.extensions import db
    from server.mail.models import OutboxMessage
    from server.orgs.models import Organization

    with app.app_context():
        org = db.session.query(Organization).first()
        if org is None:
            org = Organization(name="Bench Org", edition="professional")
            db.session.add(org)
            db.session.commit()
        now = utcnow()
        for chunk in range(start, start + count, 2000):
            rows = [
                {
                    "org_id": org.id,
                    "purpose": "bulk",
                    "group_key": "bench:transport",
                    "transport": "smtp",
                    "envelope_from": SENDER["email"],
                    "recipient": f"zoe{i}@example.org",
                    "message_id": f"<bench{i:08d}@bench.example>",
                    "content": content(i),
                    "state": "queued",
                    "attempts": 0,
                    "max_attempts": 8,
                    "reclaimed": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(chunk, min(chunk + 2000, start + count))
            ]
            db.session.execute(insert(OutboxMessage), rows)
        db.session.commit()


def run_pipeline(app, batch_size: int | None) -> tuple[int, float]:
    """Send everything due through outbox.send_due; (messages sent, seconds)."""
    from server.mail.outbox_tasks import send_due

    kwargs = {"batch_size": batch_size} if batch_size else {}
    sent = 0
    with app.app_context():
        started = time.perf_counter()
        while True:
            report = send_due(**kwargs)
            sent += report["sent"]
            if not any(report[k] for k in ("sent", "retrying", "failed", "skipped")):
                break
            if report["failed"] or report["skipped"]:
                raise RuntimeError(f"pipeline: {report}")
        return sent, time.perf_counter() - started


def prebuilt(app, start: int, count: int) -> list[tuple[str, bytes]]:
    """(recipient, message bytes) built ahead with the same renderer and builder."""
    from server.mail.merge import MergeComposer

    composer = MergeComposer("bench.example")
    return [
        (
            f"zoe{i}@example.org",
            composer.build(content(i), f"zoe{i}@example.org", f"<bare{i:08d}@bench.example>").data,
        )
        for i in range(start, start + count)
    ]


def run_bare(sink: _sink.Sink, messages: list[tuple[str, bytes]]) -> tuple[int, float]:
    """Send pre-built bytes with smtplib over one connection; (messages accepted, seconds)."""
    started = time.perf_counter()
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as conn:
        for recipient, data in messages:
            refused = conn.sendmail(SENDER["email"], [recipient], data, ["BODY=8BITMIME"])
            if refused:
                raise RuntimeError(f"bare: refused {refused}")
    return len(messages), time.perf_counter() - started


def outbox_states(app) -> dict[str, int]:
    """Outbox rows per state."""
    from server.extensions import db
    from server.mail.outbox import outbox_counts

    with app.app_context():
        counts = outbox_counts()
        db.session.remove()
        db.engine.dispose()
    return counts


def _check(sink: _sink.Sink, count: int, phase: str) -> list[str]:
    messages, recipients, size = sink.counts()
    _say(f"  sink ({phase}): {messages} messages, {recipients} recipients, {size / 1e6:.1f} MB")
    sink.reset()
    if messages == count and recipients == count:
        return []
    return [f"{phase}: the sink got {messages} messages for {recipients} recipients, not {count}"]


def measure(opts: argparse.Namespace) -> int:
    """Both phases in interleaved rounds, the checks and the verdict; the exit status."""
    count, warm = opts.count, min(200, max(opts.count // 20, 1))
    rounds = max(1, min(opts.rounds, count))
    sizes = [count // rounds + (1 if r < count % rounds else 0) for r in range(rounds)]
    problems: list[str] = []
    bare_sent = pipe_sent = 0
    bare_seconds = pipe_seconds = 0.0
    ratios: list[float] = []
    with _sink.Sink(pipelining=opts.pipelining) as sink:
        app, admin_url = make_app(opts, sink)
        try:
            _say(f"queueing {warm} warm-up outbox rows in {opts.database_name} ...")
            queue_rows(app, 0, warm)
            run_pipeline(app, opts.batch_size)  # warm-up: imports, first connections, caches
            _say(f"building {warm} + {count} messages for the bare loop ...")
            bare_messages = prebuilt(app, 0, warm + count)
            run_bare(sink, bare_messages[:warm])
            sink.reset()
            start = warm
            for number, size in enumerate(sizes, 1):
                queue_rows(app, start, size)  # not timed
                sent, seconds = run_bare(sink, bare_messages[start : start + size])
                problems += _check(sink, size, f"bare, round {number}")
                bare_sent, bare_seconds = bare_sent + sent, bare_seconds + seconds
                round_bare = sent / seconds
                sent, seconds = run_pipeline(app, opts.batch_size)
                problems += _check(sink, size, f"pipeline, round {number}")
                pipe_sent, pipe_seconds = pipe_sent + sent, pipe_seconds + seconds
                ratios.append((sent / seconds) / round_bare)
                _say(f"  round {number}: bare {round_bare:.0f}/s, pipeline {sent / seconds:.0f}/s,"
                     f" ratio {ratios[-1]:.2f}")  # fmt: skip
                start += size
            states = outbox_states(app)
        finally:
            if not opts.keep:
                _drop(admin_url, opts.database_name)
    if pipe_sent != count:
        problems.append(f"pipeline: send_due reported {pipe_sent} sent, not {count}")
    if states.get("sent") != count + warm or len(states) != 2:  # 'sent' and 'reclaimed'
        problems.append(f"outbox rows are not all sent: {states}")
    bare_rate, pipe_rate = bare_sent / bare_seconds, pipe_sent / pipe_seconds
    ratio = pipe_rate / bare_rate
    verdict = "PASS" if ratio >= opts.target else "FAIL"
    _say(f"bare smtplib loop : {bare_rate:8.0f} messages/s ({bare_sent} in {bare_seconds:.1f} s)")
    _say(f"outbox pipeline   : {pipe_rate:8.0f} messages/s ({pipe_sent} in {pipe_seconds:.1f} s)")
    _say(f"ratio             : {ratio:8.2f}  (target >= {opts.target})  {verdict}"
         f"   [rounds: median {statistics.median(ratios):.2f}, min {min(ratios):.2f},"
         f" max {max(ratios):.2f}]")  # fmt: skip
    for problem in problems:
        _say(f"CHECK FAILED: {problem}")
    if problems:
        return 2
    return 0 if verdict == "PASS" else 1


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark within --timeout; the exit status."""
    opts = _options(argv)

    def _abandon(*_args):
        raise Timeout(f"the benchmark took longer than {opts.timeout} s")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))  # so `finally` stops the sink
    signal.signal(signal.SIGALRM, _abandon)
    signal.alarm(opts.timeout)
    try:
        return measure(opts)
    except Timeout as exc:
        _say(f"ERROR: {exc}")
        return 2
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
