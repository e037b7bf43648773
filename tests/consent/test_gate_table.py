"""The gate over every combination (issue 5 test 1): data privacy × basis × one-to-one
subscription × global opt-out × origin × purpose, each expectation written from GDPR-1..4."""

from __future__ import annotations

import itertools

import pytest

from server.consent import gate, service
from server.orgs.settings import set_org_settings
from tests.factories import make_contact, make_org, make_user


def expected_from_spec(privacy, basis, subscription, opted_out, origin, purpose):
    """What GDPR-1..4 say, in our own words (not the gate's code).

    GDPR-3: an opted-out contact ALWAYS needs a one-time basis, privacy or not, ticket or not
    (we read "always" literally); only a transactional reason is accepted, so a commercial email
    cannot be sent at all, and the subscription option is not offered.
    GDPR-4: an email from a ticket is transactional and needs no legal basis.
    GDPR-1: with data privacy on, a legal basis must exist first: a recorded basis, or a
    one-to-one subscription (GDPR-2); without one the prompt offers both ways (GDPR-2).
    With data privacy off, nothing is needed.
    """
    if origin == "ticket":
        purpose = "transactional"
    if opted_out:
        if purpose == "commercial":
            return ("refused", [], False)
        return ("needs_basis", ["one_time"], True)
    if origin == "ticket" or not privacy:
        return ("allowed", [], False)
    if basis or subscription == "subscribed":
        return ("allowed", [], False)
    return ("needs_basis", ["subscription", "one_time"], False)


CASES = list(
    itertools.product(
        [False, True],  # data privacy
        [False, True],  # legal basis recorded
        [None, "subscribed", "unsubscribed"],  # one-to-one subscription status
        [False, True],  # globally opted out
        ["ticket", "record"],  # origin
        ["commercial", "transactional"],  # purpose
    )
)


def test_the_table_covers_every_combination():
    assert len(CASES) == 2 * 2 * 3 * 2 * 2 * 2


@pytest.mark.parametrize("privacy", [False, True], ids=["privacy_off", "privacy_on"])
def test_gate_matches_the_spec_for_every_combination(app, privacy):
    org = make_org()
    admin = make_user(org, role="super_admin")
    set_org_settings(admin, {"data_privacy": privacy})
    rows = []
    for n, (p, basis, sub, opted_out, origin, purpose) in enumerate(CASES):
        if p != privacy:
            continue
        address = f"c{n}@example.org"
        contact = make_contact(org, address)
        if basis:
            service.grant_basis(org.id, admin.id, contact.id, "consent", "signed form", "api")
        if sub:
            service.set_subscription(org.id, admin.id, contact.id, "one_to_one", sub, "api")
        if opted_out:
            service.set_opt_out(org.id, admin.id, contact.id, True, "api")
        rows.append((address, (p, basis, sub, opted_out, origin, purpose)))
    for address, case in rows:
        _, _, _, _, origin, purpose = case
        decision = gate.check_recipients(org.id, [address], purpose, {"type": origin})[address]
        got = (decision.status, decision.options, decision.transactional_only)
        assert got == expected_from_spec(*case), case
        if decision.status == "refused":
            assert decision.reason


@pytest.mark.parametrize("privacy", [False, True])
@pytest.mark.parametrize("origin", ["ticket", "record"])
def test_an_address_that_is_no_contact(app, privacy, origin):
    org = make_org()
    set_org_settings(make_user(org, role="super_admin"), {"data_privacy": privacy})
    decision = gate.check_recipients(
        org.id, ["Stranger@Example.org"], "commercial", {"type": origin}
    )["Stranger@Example.org"]
    if privacy and origin == "record":
        assert decision.status == "needs_basis" and decision.contact_id is None
    else:
        assert decision.status == "allowed"


def test_withdrawn_basis_no_longer_counts(app):
    org = make_org()
    admin = make_user(org, role="super_admin")
    set_org_settings(admin, {"data_privacy": True})
    contact = make_contact(org, "w@example.org")
    basis = service.grant_basis(org.id, admin.id, contact.id, "contract", "order 12", "web")
    assert (
        gate.check_recipients(org.id, ["w@example.org"], "commercial")["w@example.org"].status
        == "allowed"
    )
    service.withdraw_basis(org.id, admin.id, contact.id, basis.id)
    assert (
        gate.check_recipients(org.id, ["w@example.org"], "commercial")["w@example.org"].status
        == "needs_basis"
    )
