"""`liaison inbound dead-letters`: the operator's place for dead letters of no org, which no org
admin can see (LOG-2, Mail plumbing #3): listed, shown, retried and purged from the command line."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from click.testing import CliRunner
from flask import current_app
from flask.cli import ScriptInfo

from server.cli import main
from server.clock import utcnow
from server.extensions import db
from server.mail.inbound import route_inbound
from server.mail.inbound_models import DeadLetter
from tests.factories import make_org, make_user

from .inbound_world import sample


def run(app, *args: str, input: str | None = None):
    result = CliRunner().invoke(
        main, ["inbound", "dead-letters", *args], obj=ScriptInfo(create_app=lambda: app),
        input=input,
    )  # fmt: skip
    return result


def unrouted(app, recipient: str) -> int:
    domain = current_app.config["INBOUND_DOMAIN"]
    result = route_inbound(sample("bcc_logged.eml"), [f"{recipient}@{domain}"], "smtp")
    assert result.status == "dead_letter"
    return result.dead_letter_id


def test_dead_letters_of_no_org_are_listed_shown_and_purged_by_operators(app):
    old = unrouted(app, "sales")
    org = make_org()
    make_user(org)
    owned = DeadLetter(org_id=org.id, source="http", envelope_recipients=["x@in.example"],
                       size=3, reason="org's own", raw=b"x: y\r\n\r\nbody")  # fmt: skip
    db.session.add(owned)
    db.session.commit()
    owned_id, org_id = owned.id, org.id
    with time_machine.travel(utcnow() + timedelta(days=40)):
        recent = unrouted(app, "info")
        db.session.remove()

        listed = run(app, "list")
        assert listed.exit_code == 0, listed.output
        lines = listed.stdout.splitlines()
        assert [int(line.split("\t")[0]) for line in lines] == [recent, old]  # no org's only
        assert "org=-" in lines[0] and "no route for info@" in lines[0]
        everything = run(app, "list", "--org", "all").stdout.splitlines()
        assert {int(line.split("\t")[0]) for line in everything} == {recent, old, owned_id}
        assert run(app, "list", "--org", str(org_id)).stdout.startswith(f"{owned_id}\t")
        assert run(app, "list", "--org", "acme").exit_code != 0

        shown = run(app, "show", str(old))
        assert shown.exit_code == 0 and "reason: no route for sales@" in shown.stdout
        assert "Subject:" in shown.stdout
        assert run(app, "show", str(old), "--raw").stdout_bytes == sample("bcc_logged.eml")
        assert run(app, "show", "999999").exit_code != 0

        retried = run(app, "retry", str(old))
        assert retried.exit_code == 0 and f"{old}: retried" in retried.stdout

        refused = run(app, "purge", input="n\n")  # asks first
        assert refused.exit_code != 0
        purged = run(app, "purge", "--yes")  # default: no org, over 30 days old
        assert purged.exit_code == 0 and "Deleted 1 dead letter(s)." in purged.stdout
    db.session.remove()
    assert {row.id for row in db.session.query(DeadLetter)} == {recent, owned_id}
