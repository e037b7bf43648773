"""Every send path calls the consent gate (GDPR-6, issue 5 "prove it with a test that lists them").

How it works, over the source of server/ (with `ast`, no imports):
1. PRODUCERS: every function that writes an outbox row — a call of `queue_message`, an
   `OutboxMessage(...)` or an `insert(OutboxMessage)` — outside the outbox module itself. Each
   must be listed below, must call the gate (`check_recipients` / `require_allowed`) itself or
   through a function of its own module, must build content with a "consent" key (so the outbox
   re-runs the gate at send time), and must name a behavioural test showing a refusal.
2. ENTRY POINTS: every route (`@bp.get/post/...`) and background task (`@task(...)`) that reaches
   a producer through calls by name. Each must be listed with a behavioural test of a refusal.
A new send path fails this test with the exact `file::function` to add, and the tests named
in the lists must exist. To add a path: put `"server/x.py::func": ["tests/...::test_name"]` in
PRODUCERS or ENTRY_POINTS (keep it sorted), with a test that a recipient without a legal basis
is refused (409 / ConsentRequired) and no row is queued. Entries for modules that do not exist
(yet) are ignored, so the lists can name paths another helper is still adding.
At send time the outbox re-runs the gate for every row carrying content["consent"]
(server/consent/gate.py) and skips unsubscribed recipients of commercial rows
(server/consent/unsubscribe.py): see tests/consent/test_send_time.py and test_unsubscribe.py.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from server.consent.gate import check_recipients
from server.errors import ConsentRequired
from server.extensions import db
from server.mail.models import OutboxMessage
from server.orgs.settings import set_org_settings
from tests.factories import make_contact, make_org, make_user

ROOT = Path(__file__).resolve().parents[2]
OUTBOX_MODULES = {"server/mail/outbox.py", "server/mail/outbox_writer.py", "server/mail/models.py"}
GATE_NAMES = {"check_recipients", "require_allowed"}

# producer (file::function) -> behavioural tests showing it refuses a recipient without a basis
PRODUCERS: dict[str, list[str]] = {
    "server/emails/sending.py::queue_send": [
        "tests/consent/test_send_paths.py::test_queue_send_refuses_without_basis_and_queues_nothing",
    ],
}
# route or task (file::function) reaching a producer -> behavioural tests of a refusal
ENTRY_POINTS: dict[str, list[str]] = {
    "server/emails/send_routes.py::reply": [
        "tests/emails/test_send_reply.py::test_reply_goes_through_the_consent_gate",
    ],
    "server/emails/send_routes.py::send_from": [
        "tests/emails/test_send.py::test_gate_refusal_is_a_409_naming_recipients_and_options",
    ],
}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted((ROOT / "server").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        found[path.relative_to(ROOT).as_posix()] = ast.parse(path.read_text(), str(path))
    return found


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _functions(module: ast.Module):
    """(qualified name, node) of every function, methods as Class.method."""
    stack = [("", node) for node in module.body]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, ast.ClassDef):
            stack.extend((f"{prefix}{node.name}.", child) for child in node.body)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{node.name}", node


def _calls(node) -> set[str]:
    return {name for c in ast.walk(node) if isinstance(c, ast.Call) and (name := _called_name(c))}


def _writes_outbox(node) -> bool:
    for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
        name = _called_name(call)
        if name in ("queue_message", "OutboxMessage"):
            return True
        if name == "insert" and any(getattr(a, "id", None) == "OutboxMessage" for a in call.args):
            return True
    return False


def _sets_consent_content(node) -> bool:
    """True when the function builds content with a "consent" key (so the outbox re-runs the
    gate at send time, server/consent/gate.py)."""
    for item in ast.walk(node):
        if isinstance(item, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "consent" for k in item.keys
        ):
            return True
        if isinstance(item, ast.Subscript) and getattr(item.slice, "value", None) == "consent":
            return True
    return False


def _decorations(node) -> set[str]:
    names = set()
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        owner = getattr(target, "value", None)
        if isinstance(owner, ast.Name) and (owner.id == "bp" or owner.id.endswith("_bp")):
            names.add("route")
        if isinstance(target, ast.Name) and target.id == "task":
            names.add("task")
    return names


@functools.cache
def _scan():
    """(producers found, entry points found, {producer: gated?})."""
    functions = {}
    for path, module in _modules().items():
        for name, node in _functions(module):
            functions[f"{path}::{name}"] = (path, node)
    producers = {
        key for key, (path, node) in functions.items()
        if path not in OUTBOX_MODULES and _writes_outbox(node)
    }  # fmt: skip
    gated = {}
    for key in producers:
        path, node = functions[key]
        own = {k.split("::")[1].split(".")[-1]: n for k, (p, n) in functions.items() if p == path}
        reached = _calls(node)
        reached |= {c for name in list(reached) if name in own for c in _calls(own[name])}
        gated[key] = bool(reached & GATE_NAMES) and _sets_consent_content(node)
    reaching = {key.split("::")[1].split(".")[-1] for key in producers}
    callers: set[str] = set(producers)
    changed = True
    while changed:  # functions that reach a producer through calls by name
        changed = False
        for key, (_path, node) in functions.items():
            if key not in callers and _calls(node) & reaching:
                callers.add(key)
                reaching.add(key.split("::")[1].split(".")[-1])
                changed = True
    entries = {key for key in callers if _decorations(functions[key][1])}
    return producers, entries, gated


def _exists(path: str) -> bool:
    return (ROOT / path).exists()


def test_every_outbox_producer_is_listed_gated_and_tested():
    producers, _entries, gated = _scan()
    unlisted = sorted(producers - set(PRODUCERS))
    assert not unlisted, (
        "send paths (outbox producers) not listed in PRODUCERS of tests/consent/test_send_paths.py;"
        " each must call the consent gate and name a test of a refusal:\n"
        + "\n".join(f"  {key}" for key in unlisted)
    )
    ungated = sorted(key for key, ok in gated.items() if not ok)
    assert not ungated, (
        "outbox producers that do not call check_recipients/require_allowed, or queue content"
        ' without a "consent" key (then the send-time gate does not run):\n'
        + "\n".join(f"  {key}" for key in ungated)
    )
    stale = sorted(k for k in PRODUCERS if _exists(k.split("::")[0]) and k not in producers)
    assert not stale, f"listed producers that no longer write to the outbox: {stale}"


def test_every_route_and_task_that_sends_is_listed_with_a_refusal_test():
    _producers, entries, _gated = _scan()
    unlisted = sorted(entries - set(ENTRY_POINTS))
    assert not unlisted, (
        "routes/tasks that send, not listed in ENTRY_POINTS of tests/consent/test_send_paths.py"
        " (add each with a test showing a refusal without a legal basis):\n"
        + "\n".join(f"  {key}" for key in unlisted)
    )
    stale = sorted(k for k in ENTRY_POINTS if _exists(k.split("::")[0]) and k not in entries)
    assert not stale, f"listed entry points that no longer send: {stale}"


@pytest.mark.parametrize("listing", ["PRODUCERS", "ENTRY_POINTS"])
def test_the_named_refusal_tests_exist(listing):
    missing = []
    for key, tests in globals()[listing].items():
        if not _exists(key.split("::")[0]):
            continue
        assert tests, f"{key} names no behavioural test"
        for ref in tests:
            path, _, name = ref.partition("::")
            module = ast.parse((ROOT / path).read_text()) if _exists(path) else None
            names = (
                {n.name for n in ast.walk(module) if isinstance(n, ast.FunctionDef)}
                if module
                else set()
            )
            if name not in names:
                missing.append(ref)
    assert not missing, f"behavioural tests named in {listing} do not exist: {missing}"


def test_queue_send_refuses_without_basis_and_queues_nothing(app):
    sending = pytest.importorskip("server.emails.sending")
    org = make_org()
    admin = make_user(org, role="super_admin", email="boss@org.example")
    set_org_settings(admin, {"data_privacy": True})
    contact = make_contact(org, "nobasis@example.org")
    message = sending.Outgoing(to=[{"email": "nobasis@example.org", "name": ""}], cc=[],
                               subject="Offer", html="<p>Offer</p>", text=None)  # fmt: skip
    sender = sending.Sender("smtp", "boss@org.example", "Boss")
    with pytest.raises(ConsentRequired):
        sending.queue_send(admin, message, sender, purpose="commercial", log=False)
    assert db.session.query(OutboxMessage).count() == 0
    assert check_recipients(org.id, ["nobasis@example.org"], "commercial")[
        "nobasis@example.org"].status == "needs_basis"  # fmt: skip
    from server.consent import service

    service.set_subscription(org.id, admin.id, contact.id, "one_to_one", "subscribed", "api")
    summary = sending.queue_send(admin, message, sender, purpose="commercial", log=False)
    row = db.session.get(OutboxMessage, summary["outbox_ids"][0])
    assert row.content["consent"] == {"purpose": "commercial", "origin": None}
