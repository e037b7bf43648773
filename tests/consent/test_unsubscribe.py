"""Unsubscribe (GDPR-7): List-Unsubscribe headers on commercial mail only, RFC 8058 one-click
exactly as Gmail posts it, a scanner's GET changes nothing, the mailto form through the inbound
router, the preference page, and an unsubscribe between queueing and sending stops the message."""

from __future__ import annotations

import email
import re
from email.policy import default as default_policy

import dkim
import pytest
from sqlalchemy import func, select

from server.consent import service
from server.consent.models import ConsentAudit, ContactSubscription, GlobalOptOut
from server.consent.unsubscribe import mailto_for, make_token
from server.extensions import db
from server.mail import outbox
from server.mail.dkim import generate_key, key_path, store_key, txt_value
from server.mail.inbound import route_inbound
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from server.mail.suppression import is_suppressed
from tests.factories import make_contact, make_org, make_user


def queue(org, user, address, purpose="commercial", origin=None, *, sub_type=None, **extra):
    consent = {"purpose": purpose, "origin": origin}
    if sub_type:
        consent["subscription_type"] = sub_type
    row = outbox.queue_message(
        org_id=org.id,
        user_id=user.id,
        recipient=address,
        envelope_from=user.email,
        message_id=outbox.new_message_id("liaison.test"),
        purpose=extra.pop("row_purpose", "one_to_one"),
        content={
            "from": {"email": user.email, "name": user.name},
            "to": [{"email": address}],
            "subject": "Spring offer",
            "html": extra.pop("html", "<p>Our offer.</p>"),
            "consent": consent,
            **extra,
        },
    )
    db.session.commit()
    return row


def sent_message(relay, index=-1):
    return email.message_from_bytes(relay.messages[index].data, policy=default_policy)


def link_of(message) -> tuple[str, str]:
    """(path of the https link, mailto address) from a List-Unsubscribe header."""
    value = str(message["List-Unsubscribe"])
    https, mailto = [part.strip().strip("<>") for part in value.split(",")]
    assert https.startswith("http") and mailto.startswith("mailto:")
    return "/" + https.split("/", 3)[3], mailto[len("mailto:") :]


def audit_count() -> int:
    return db.session.scalar(select(func.count(ConsentAudit.id)))


def test_commercial_mail_carries_one_click_headers_transactional_does_not(app, relay):
    org = make_org()
    user = make_user(org, email="rep@unsub-dkim.example")
    make_contact(org, "buyer@example.org")
    key = generate_key()
    store_key(key_path(app.instance_path, "unsub-dkim.example", app.config["DKIM_SELECTOR"]), key,
              overwrite=True)  # fmt: skip
    queue(org, user, "buyer@example.org")
    queue(org, user, "buyer@example.org", "transactional", {"type": "ticket", "id": 1})
    send_due()
    assert len(relay.messages) == 2
    commercial, transactional = sorted(
        (sent_message(relay, i) for i in range(2)), key=lambda m: "List-Unsubscribe" not in m
    )
    path, mailto = link_of(commercial)
    assert path.startswith("/u/") and mailto.startswith("unsubscribe+")
    assert mailto.endswith("@" + app.config["INBOUND_DOMAIN"]) and len(mailto.split("@")[0]) <= 64
    assert commercial["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in transactional
    signed = next(m.data for m in relay.messages if b"List-Unsubscribe" in m.data)
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", signed.split(b"\r\n\r\n", 1)[0])
    signed_names = re.search(rb"\bh=([^;]+);", unfolded).group(1).lower()
    assert b"list-unsubscribe" in signed_names and b"list-unsubscribe-post" in signed_names
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: txt_value(key).encode())


def test_one_click_post_exactly_as_gmail_sends_it(app, client, relay):
    org = make_org()
    user = make_user(org, email="rep2@org.example")
    contact = make_contact(org, "ann@example.org")
    queue(org, user, "ann@example.org")
    send_due()
    path, _ = link_of(sent_message(relay))
    waiting = queue(org, user, "ann@example.org")  # queued before the unsubscribe
    res = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert res.status_code == 200
    assert "Set-Cookie" not in res.headers
    send_due()
    db.session.expire_all()
    assert db.session.get(OutboxMessage, waiting.id).state == "skipped"
    assert len(relay.messages) == 1
    assert db.session.get(GlobalOptOut, contact.id) is not None
    entry = db.session.scalars(select(ConsentAudit).order_by(ConsentAudit.id.desc())).first()
    assert (entry.action, entry.surface, entry.actor_id) == ("opted_out", "unsubscribe_link", None)
    assert entry.details == {"via": "one_click"}


def test_one_click_multipart_unsubscribes_from_the_row_type_only(app, client, relay):
    org = make_org()
    user = make_user(org, email="rep3@org.example")
    contact = make_contact(org, "bea@example.org")
    news = service.create_subscription_type(org.id, "newsletter", "Newsletter")
    queue(org, user, "bea@example.org", sub_type="newsletter")
    send_due()
    path, _ = link_of(sent_message(relay))
    boundary = "----gmail"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
            f"One-Click\r\n--{boundary}--\r\n")  # fmt: skip
    res = client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert res.status_code == 200
    sub = db.session.scalar(select(ContactSubscription).filter_by(contact_id=contact.id))
    assert (sub.type_id, sub.status) == (news.id, "unsubscribed")
    assert db.session.get(GlobalOptOut, contact.id) is None


def test_a_scanner_get_changes_nothing(app, client):
    org = make_org()
    contact = make_contact(org, "cy@example.org")
    token = make_token(org.id, contact.id, None, None)
    before = audit_count()
    for url in (f"/u/{token}", f"/u/{token}/preferences"):
        res = client.get(url)
        assert res.status_code == 200 and b"<form" in res.data and b"<script" not in res.data
    assert b'method="post"' in client.get(f"/u/{token}").data
    assert audit_count() == before
    assert db.session.get(GlobalOptOut, contact.id) is None
    forged = token.rsplit("-", 1)[0] + "-" + "0" * 20
    assert client.get(f"/u/{forged}").status_code == 404
    one_click = {"data": "List-Unsubscribe=One-Click",
                 "content_type": "application/x-www-form-urlencoded"}  # fmt: skip
    assert client.post(f"/u/{forged}", **one_click).status_code == 404
    assert client.get(f"/u/{make_token(org.id + 999, contact.id, None, None)}").status_code == 404


def test_unsubscribe_between_queueing_and_sending_stops_the_message(app, client, relay):
    org = make_org()
    user = make_user(org, email="rep4@org.example")
    contact = make_contact(org, "dan@example.org")
    events = service.create_subscription_type(org.id, "events", "Events")
    first = queue(org, user, "dan@example.org", sub_type="events")
    second = queue(org, user, "dan@example.org", sub_type="events")
    other = queue(org, user, "dan@example.org")  # commercial, but not about events: still sent
    token = make_token(org.id, contact.id, None, events.id)
    res = client.post(f"/u/{token}", data={"action": "unsubscribe"})  # the confirmation page form
    assert res.status_code == 200 and b"unsubscribed" in res.data.lower()
    send_due()
    db.session.expire_all()
    states = [db.session.get(OutboxMessage, r.id) for r in (first, second, other)]
    assert [s.state for s in states] == ["skipped", "skipped", "sent"]
    assert states[0].last_error == "consent: the recipient unsubscribed from events"
    assert len(relay.messages) == 1


def test_mailto_unsubscribe_reaches_the_inbound_router(app):
    org = make_org()
    contact = make_contact(org, "eve@example.org")
    address = mailto_for(make_token(org.id, contact.id, None, None))
    raw = (f"From: eve@example.org\r\nTo: {address}\r\nSubject: unsubscribe\r\n"
           "Message-ID: <u1@example.org>\r\n\r\nunsubscribe\r\n").encode()  # fmt: skip
    result = route_inbound(raw, [address.upper().replace("UNSUBSCRIBE+", "unsubscribe+")], "smtp")
    assert result.status == "routed", result.reason
    assert db.session.get(GlobalOptOut, contact.id).surface == "unsubscribe_mailto"
    forged = address.replace(address.split("-")[-1].split("@")[0], "f" * 20)
    assert route_inbound(raw, [forged], "smtp").status == "dead_letter"


def test_recipient_who_is_no_contact_is_suppressed(app, client, relay):
    org = make_org()
    user = make_user(org, email="rep5@org.example")
    queue(org, user, "stranger@example.net")
    send_due()
    path, _ = link_of(sent_message(relay))
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert is_suppressed(org.id, "stranger@example.net")
    page = client.get(path + "/preferences")
    assert page.status_code == 200 and 'name="opt_out"' in page.get_data(True)
    later = queue(org, user, "stranger@example.net")
    send_due()
    db.session.expire_all()
    assert db.session.get(OutboxMessage, later.id).state == "skipped"


def test_preference_page_lists_types_and_changes_each(app, client):
    org = make_org()
    contact = make_contact(org, "fay@example.org")
    news = service.create_subscription_type(org.id, "newsletter", "Monthly newsletter")
    archived = service.create_subscription_type(org.id, "old", "Old list")
    from server.consent.subscription_types import archive_type

    archive_type(org.id, archived.id)
    token = make_token(org.id, contact.id, None, news.id)
    page = client.get(f"/u/{token}/preferences").get_data(True)
    assert "Monthly newsletter" in page and "One-to-one email" in page and "Old list" not in page
    res = client.post(f"/u/{token}/preferences", data={f"type_{news.id}": "subscribed"})
    assert res.status_code == 200 and "Saved" in res.get_data(True)
    sub = db.session.scalar(select(ContactSubscription).filter_by(contact_id=contact.id))
    assert sub.status == "subscribed"
    res = client.post(f"/u/{token}/preferences",
                      data={f"type_{news.id}": "unsubscribed", "opt_out": "1"})  # fmt: skip
    db.session.expire_all()
    assert db.session.get(ContactSubscription, sub.id).status == "unsubscribed"
    assert db.session.get(GlobalOptOut, contact.id) is not None
    assert 'name="opt_out" value="1" checked' in res.get_data(True)


def test_merge_templates_get_the_link_and_plain_bodies_their_placeholder(app, relay):
    org = make_org()
    user = make_user(org, email="rep6@org.example")
    make_contact(org, "gus@example.org")
    queue(org, user, "gus@example.org", row_purpose="bulk", template_key="bulk:1",
          html='<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>', merge={})  # fmt: skip
    queue(org, user, "gus@example.org", html='<a href="{{unsubscribe_url}}">stop</a>')
    send_due()
    for index in range(2):
        message = sent_message(relay, index)
        path, _ = link_of(message)
        html = message.get_body(("html",)).get_content()
        assert 'href="http' in html and path in html and "{{" not in html


@pytest.mark.parametrize(
    "token",
    ["x" * 500, "1-c1-all-" + "0" * 20, "1-c99999999999999999999-all-" + "a" * 20, "%00", "é",
     "1-m1-t1-" + "f" * 20, "-".join(["9" * 18] * 3)],
)  # fmt: skip
def test_garbage_tokens_are_404_pages_never_errors(app, client, token):
    for method in ("GET", "POST"):
        for suffix in ("", "/preferences"):
            res = client.open(f"/u/{token}{suffix}", method=method, data={"opt_out": "1"})
            assert res.status_code == 404, (method, suffix, res.status_code)


def test_per_row_check_and_preparer_outside_a_batch(app):
    from server.consent.unsubscribe_send import add_unsubscribe, unsubscribed_send_check

    org = make_org()
    user = make_user(org, email="rep7@org.example")
    contact = make_contact(org, "hal@example.org")
    row = queue(org, user, "hal@example.org")
    prepared = add_unsubscribe(row, dict(row.content))
    assert prepared["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"-c{contact.id}-all-" in prepared["headers"]["List-Unsubscribe"]
    assert "headers" not in row.content  # the stored content is left alone
    assert unsubscribed_send_check(row) is None
    service.set_opt_out(org.id, None, contact.id, True, "unsubscribe_link")
    assert "opted out" in unsubscribed_send_check(row)
    transactional = queue(org, user, "hal@example.org", "transactional")
    assert add_unsubscribe(transactional, dict(transactional.content)) == transactional.content
