"""The demo seed and `liaison demo`: what it makes, determinism, loopback only, and the command
serving for real on a free loopback port."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from server.extensions import db
from server.orgs.models import Organization, SettingsAudit, User
from server.orgs.settings import effective_settings
from server.records.custom_types import clean_values
from server.records.models import (
    Association,
    Company,
    Contact,
    CustomObjectType,
    CustomRecord,
    Deal,
    Ticket,
)
from server.surfaces.web.demo import build_demo_app, demo, is_loopback_host
from server.surfaces.web.seed import seed_demo

ROOT = Path(__file__).resolve().parents[2]


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_makes_the_demo_org(app):
    made = seed_demo(db.session)
    org = db.session.get(Organization, made["org_id"])
    assert org.name == "Northwind Demo" and org.time_zone == "Europe/Berlin"
    assert org.org_address and org.tenants and org.domains
    roles = Counter(u.role for u in db.session.scalars(select(User)))
    assert roles == {"super_admin": 1, "admin": 1, "rep": 2}
    rep = db.session.get(User, made["users"]["rep1"])
    assert effective_settings(rep)["log_by_default"] == {"value": True, "locked": True}
    audited = db.session.execute(select(SettingsAudit.key, SettingsAudit.actor_id)).all()
    super_admin = made["users"]["super_admin"]
    assert set(audited) == {("apply_default_log", super_admin), ("never_log_domains", super_admin)}

    contacts = list(db.session.scalars(select(Contact)))
    assert len(contacts) == 200
    assert all(1 <= len(c.emails) <= 2 for c in contacts)
    assert any(len(c.emails) == 2 for c in contacts)
    stages = Counter(c.lifecycle_stage for c in contacts)
    assert stages["lead"] > 10 and stages["customer"] > 10
    assert 10 < sum(not c.is_marketing for c in contacts) < 100
    assert _count(Company) == 40 and all(c.domains for c in db.session.scalars(select(Company)))
    assert sum(c.primary_company_id is not None for c in contacts) > 100
    assert _count(Deal) == 60 and 0 < _count(Deal, Deal.is_closed.is_(True)) < 60
    assert _count(Ticket) == 40 and _count(Ticket, Ticket.last_activity_at.is_not(None)) == 40

    vehicle = db.session.scalar(select(CustomObjectType))
    kinds = {p["type"] for p in vehicle.property_schema}
    assert {"text", "number", "date", "enum", "email", "bool"} <= kinds
    records = list(db.session.scalars(select(CustomRecord)))
    assert len(records) == 20
    assert all(clean_values(vehicle, r.properties) == r.properties for r in records)

    pairs = Counter((a.a_type, a.b_type) for a in db.session.scalars(select(Association)))
    for pair in [("company", "contact"), ("contact", "deal"), ("contact", "ticket"),
                 ("company", "deal"), ("contact", "custom")]:  # fmt: skip
        assert pairs[pair] > 0, pair
    assert sum(pairs.values()) == made["associations"]


def _snapshot() -> list:
    owners = {u.id: u.email for u in db.session.scalars(select(User))}
    contacts = db.session.scalars(select(Contact).order_by(Contact.id))
    deals = db.session.scalars(select(Deal).order_by(Deal.id))
    links = db.session.execute(
        select(Association.a_type, Association.b_type, func.count()).group_by(
            Association.a_type, Association.b_type
        )
    )
    return [
        [
            (c.display_name, c.primary_email, c.lifecycle_stage, owners[c.owner_id])
            for c in contacts
        ],
        [(d.name, d.amount, d.stage) for d in deals],
        sorted(tuple(row) for row in links),
    ]


def test_seed_is_deterministic(app):
    seed_demo(db.session)
    first = _snapshot()
    db.session.execute(delete(Organization))
    db.session.commit()
    for model in (Contact, Deal, Association):
        assert _count(model) == 0
    seed_demo(db.session)
    assert _snapshot() == first


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", "10.0.0.1"])
def test_demo_refuses_a_non_loopback_host(host):
    result = CliRunner().invoke(demo, ["--host", host])
    assert result.exit_code == 2
    assert "loopback" in result.output and "password" in result.output


def test_demo_app_resets_by_default_and_keeps_on_request(tmp_path):
    app, seeded = build_demo_app(instance=tmp_path)
    assert app.config["DEMO"] is True
    assert seeded["contacts"] == 200
    assert (tmp_path / "demo.sqlite").exists()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
        db.engine.dispose()
    kept, seeded_again = build_demo_app(reset=False, instance=tmp_path)
    assert seeded_again is None
    with kept.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
        db.engine.dispose()
    fresh, seeded_fresh = build_demo_app(reset=True, instance=tmp_path)
    assert seeded_fresh["contacts"] == 200
    with fresh.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
        db.engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read_until(process: subprocess.Popen, marker: str, limit_s: float = 120) -> str:
    """stdout of `process` up to the line holding `marker` (fails if the process ends first)."""
    seen, deadline = [], time.monotonic() + limit_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=1):
                continue
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if marker in line:
                return "".join(seen)
    raise AssertionError(f"`liaison demo` did not print {marker!r}; it printed:\n{''.join(seen)}")


def _get_when_listening(url: str, limit_s: float = 60) -> requests.Response:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            return requests.get(url, timeout=30)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_liaison_demo_serves_the_seeded_app_on_loopback(tmp_path):
    port = _free_port()
    env = {**os.environ, "LIAISON_INSTANCE_PATH": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("LIAISON_DATABASE_URL", None)
    command = [sys.executable, "-c", "from server.cli import main; main()", "demo",
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        printed = _read_until(process, "OpenAPI JSON")
        base = f"http://127.0.0.1:{port}"
        for path in ["/", "/signin", "/api/docs", "/api/openapi.json"]:
            assert f"{base}{path}" in printed
        signin = _get_when_listening(f"{base}/signin")  # URLs are printed just before it listens
        assert signin.status_code == 200 and "Sign in as Lena Fischer" in signin.text
        assert requests.get(f"{base}/api/openapi.json", timeout=30).json()["openapi"]
        home = requests.get(f"{base}/", timeout=30, allow_redirects=False)
        assert home.status_code == 302 and "/signin" in home.headers["Location"]
        assert (tmp_path / "demo.sqlite").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
