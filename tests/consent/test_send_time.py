"""The gate at send time (GDPR-3, GDPR-7 "takes effect at once"), one-time bases used once,
require_allowed's 409 and may_track (TRK-10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from server.consent import gate, service
from server.consent.models import OneTimeBasis
from server.errors import ConsentRequired
from server.extensions import db
from server.mail import outbox
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from server.orgs.settings import set_org_settings
from tests.factories import make_contact, make_org, make_user


def queue(org, user, address: str, purpose="commercial", origin=None) -> OutboxMessage:
    gate.require_allowed(org.id, [address], purpose, origin)
    row = outbox.queue_message(
        org_id=org.id,
        user_id=user.id,
        recipient=address,
        envelope_from=user.email,
        message_id=outbox.new_message_id("liaison.test"),
        content={
            "from": {"email": user.email, "name": user.name},
            "to": [{"email": address}],
            "subject": "Your invoice",
            "html": "<p>Here is the invoice.</p>",
            "consent": {"purpose": purpose, "origin": origin},
        },
    )
    db.session.commit()
    return row


def state_of(row_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, row_id)


def test_opt_out_between_queueing_and_sending_skips_the_message(app, relay):
    org = make_org()
    user = make_user(org, email="rep@org.example")
    contact = make_contact(org, "buyer@example.org")
    row = queue(org, user, "buyer@example.org")
    service.set_opt_out(org.id, user.id, contact.id, True, "web")
    send_due()
    skipped = state_of(row.id)
    assert skipped.state == "skipped"
    assert "opted out" in skipped.last_error
    assert relay.messages == []


def test_one_time_basis_is_consumed_by_one_message_only(app, relay):
    org = make_org()
    admin = make_user(org, role="super_admin", email="admin@org.example")
    set_org_settings(admin, {"data_privacy": True})
    contact = make_contact(org, "client@example.org")
    with pytest.raises(ConsentRequired) as refused:
        gate.require_allowed(org.id, ["client@example.org"], "transactional")
    assert "client@example.org" in refused.value.message and "one_time" in refused.value.message
    basis = service.give_one_time_basis(
        org.id, admin.id, contact.id, "Sending the signed contract", "transactional", "outlook"
    )
    first = queue(org, admin, "client@example.org", "transactional")
    second = queue(org, admin, "client@example.org", "transactional")  # queued on the same basis
    send_due()
    assert [state_of(first.id).state, state_of(second.id).state] == ["sent", "skipped"]
    used = db.session.get(OneTimeBasis, basis.id)
    assert used.used_by_outbox_id == first.id and used.used_at is not None
    assert len(relay.messages) == 1
    with pytest.raises(ConsentRequired):
        gate.require_allowed(org.id, ["client@example.org"], "transactional")


def test_opted_out_contact_takes_only_a_transactional_one_time_basis(app, relay):
    org = make_org()
    user = make_user(org, email="rep2@org.example")
    contact = make_contact(org, "gone@example.org")
    service.set_opt_out(org.id, user.id, contact.id, True, "gmail")
    with pytest.raises(ConsentRequired):  # privacy off, from a ticket: still needs one (GDPR-3)
        gate.require_allowed(org.id, ["gone@example.org"], "transactional", {"type": "ticket"})
    with pytest.raises(Exception) as bad:
        service.give_one_time_basis(
            org.id, user.id, contact.id, "Spring promotion", "commercial", "gmail"
        )
    assert getattr(bad.value, "field", None) == "purpose"
    service.give_one_time_basis(
        org.id, user.id, contact.id, "Refund confirmation", "transactional", "gmail"
    )
    decision = gate.check_recipients(org.id, ["gone@example.org"], "commercial")["gone@example.org"]
    assert decision.status == "refused"
    row = queue(org, user, "gone@example.org", "transactional", {"type": "ticket", "id": 1})
    send_due()
    assert state_of(row.id).state == "sent"


def test_rows_without_consent_content_are_not_gated(app, relay):
    org = make_org()
    user = make_user(org, email="rep3@org.example")
    contact = make_contact(org, "plain@example.org")
    service.set_opt_out(org.id, user.id, contact.id, True, "api")
    row = outbox.queue_message(
        org_id=org.id,
        user_id=user.id,
        recipient="plain@example.org",
        envelope_from=user.email,
        message_id=outbox.new_message_id("liaison.test"),
        content={
            "from": {"email": user.email},
            "to": [{"email": "plain@example.org"}],
            "subject": "s",
            "html": "<p>x</p>",
        },
    )
    db.session.commit()
    send_due()
    assert state_of(row.id).state == "sent"


def test_may_track(app):
    org = make_org()
    admin = make_user(org, role="super_admin")
    contact = make_contact(org, "t@example.org")
    assert gate.may_track(org.id, "t@example.org") is True
    assert gate.may_track(org.id, "nobody@example.org") is False
    set_org_settings(admin, {"data_privacy": True})
    assert gate.may_track(org.id, "T@example.org") is False
    service.set_subscription(org.id, admin.id, contact.id, "one_to_one", "subscribed", "api")
    assert gate.may_track(org.id, "t@example.org") is True
    service.set_subscription(org.id, admin.id, contact.id, "one_to_one", "unsubscribed", "api")
    assert gate.may_track(org.id, "t@example.org") is False
    service.grant_basis(org.id, admin.id, contact.id, "legitimate_interest_customer", "", "web")
    assert gate.may_track(org.id, "t@example.org") is True
    assert gate.may_track(org.id, "nobody@example.org") is False


def test_a_retried_message_keeps_the_one_time_basis_it_consumed(app, relay):
    org = make_org()
    admin = make_user(org, role="super_admin", email="admin4@org.example")
    set_org_settings(admin, {"data_privacy": True})
    contact = make_contact(org, "retry@example.org")
    service.give_one_time_basis(
        org.id, admin.id, contact.id, "Invoice number 77 attached", "transactional", "web"
    )
    row = queue(org, admin, "retry@example.org", "transactional")
    relay.fail_next(451, count=1, stage="data")
    send_due()
    assert state_of(row.id).state == "queued"
    with time_machine.travel(state_of(row.id).next_attempt_at + timedelta(seconds=1)):
        send_due()
    assert state_of(row.id).state == "sent" and len(relay.messages) == 1


def test_a_basis_taken_by_a_message_that_failed_is_usable_again(app, relay):
    """GDPR-2: a one-time basis is for one message *sent*; a message the relay never accepted
    does not use it up (found by the newcomer pass: a failed send took the basis)."""
    org = make_org()
    admin = make_user(org, role="super_admin", email="admin@org.example")
    set_org_settings(admin, {"data_privacy": True})
    contact = make_contact(org, "client@example.org")
    basis = service.give_one_time_basis(
        org.id, admin.id, contact.id, "Sending the signed contract", "transactional", "api"
    )
    failed = queue(org, admin, "client@example.org", "transactional")
    app.config["SMTP_HOST"] = None  # no relay: the message fails for good
    send_due()
    assert state_of(failed.id).state == "failed"
    gate.require_allowed(org.id, ["client@example.org"], "transactional")  # usable again

    app.config["SMTP_HOST"] = relay.host
    resent = queue(org, admin, "client@example.org", "transactional")
    send_due()
    assert state_of(resent.id).state == "sent" and len(relay.messages) == 1
    db.session.expire_all()
    assert db.session.get(OneTimeBasis, basis.id).used_by_outbox_id == resent.id
    with pytest.raises(ConsentRequired):
        gate.require_allowed(org.id, ["client@example.org"], "transactional")
