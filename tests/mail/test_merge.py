"""Merge fields in outbox messages (Mail plumbing #3, BULK): sandboxed Jinja2 rendering, HTML
escaping, defaults for missing fields, each template compiled once, and the outbox sending
personalized messages over SMTP."""

from __future__ import annotations

import email
from email import policy

import pytest
from jinja2.exceptions import SecurityError

from server.extensions import db
from server.mail import outbox
from server.mail.merge import MergeComposer, MergeRenderer
from server.mail.models import OutboxMessage
from server.mail.outbox_tasks import send_due
from tests.factories import make_org, make_user

HTML = (
    '<p>Dear {{ first_name | default("there") }},</p>'
    '<p><a href="https://example.com/offer?c={{ company | urlencode }}">the offer</a></p>'
)


def content(merge: dict, **extra) -> dict:
    return {
        "template_key": "send:1",
        "from": {"email": "ann@org.example", "name": "Ann"},
        "subject": 'An offer for {{ company | default("you") }}',
        "html": HTML,
        "merge": merge,
        **extra,
    }


def test_fields_render_with_html_escaped_and_subject_and_text_not():
    rendered = MergeRenderer().render(
        content(
            {"first_name": "<b>Zoë</b>", "company": "Smith & Sons"},
            text="Hi {{ first_name }} of {{ company }}",
        )
    )
    assert "Dear &lt;b&gt;Zoë&lt;/b&gt;," in rendered.html
    assert "c=Smith%20%26%20Sons" in rendered.html
    assert rendered.subject == "An offer for Smith & Sons"
    assert rendered.text == "Hi <b>Zoë</b> of Smith & Sons"


def test_a_missing_field_renders_its_default_and_without_one_renders_empty():
    renderer = MergeRenderer()
    rendered = renderer.render(content({}))
    assert "Dear there," in rendered.html
    assert rendered.subject == "An offer for you"
    bare = renderer.render(content({}, subject="Hello {{ first_name }}!"))
    assert bare.subject == "Hello !"


def test_an_empty_value_keeps_the_fallback_only_when_asked():
    renderer = MergeRenderer()
    source = content({"first_name": ""}, subject='Hi {{ first_name | default("there", true) }}')
    assert renderer.render(source).subject == "Hi there"
    assert "Dear ," in renderer.render(source).html  # default() without true: "" is a value


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_the_sandbox_blocks_attribute_tricks(expression):
    with pytest.raises(SecurityError):
        MergeRenderer().render(content({"first_name": "Zoë"}, subject=expression))


def test_each_distinct_template_is_compiled_once():
    renderer = MergeRenderer()
    first = renderer.compile(HTML, html=True, key="send:1")
    assert renderer.compile(HTML, html=True, key="send:1") is first
    assert renderer.compile(HTML + " ", html=True, key="send:1") is not first  # text is the key
    assert renderer.compile(HTML, html=False, key="send:1") is not first


def test_the_text_part_is_derived_once_from_the_template_and_rendered_per_recipient():
    renderer = MergeRenderer()
    zoe = renderer.render(content({"first_name": "Zoë", "company": "A & B"}))
    bob = renderer.render(content({"first_name": "Bob"}))
    assert "Dear Zoë," in zoe.text and "A%20%26%20B" in zoe.text
    assert "Dear Bob," in bob.text
    assert "&amp;" not in zoe.text


def test_rows_of_one_send_share_one_message_template():
    composer = MergeComposer("liaison.test")
    a = composer.build(content({"first_name": "A"}), "a@example.org", "<a@liaison.test>")
    b = composer.build(content({"first_name": "B"}), "b@example.org", "<b@liaison.test>")
    assert len(composer._templates) == 1
    parsed = email.message_from_bytes(b.data, policy=policy.default)
    assert parsed["To"] == "b@example.org" and parsed["From"] == "Ann <ann@org.example>"
    html = parsed.get_body(("html",)).get_content()
    assert "Dear B," in html and "Dear A," in a.data.decode()


def test_the_outbox_sends_personalized_messages_and_fails_a_sandbox_violation(app, relay):
    org = make_org()
    user = make_user(org, email="ann@org.example")
    people = {"zoe@example.org": "Zoë", "bob@example.org": "<Bob>", "anon@example.org": None}
    for address, name in people.items():
        merge = {"first_name": name} if name else {}
        outbox.queue_message(
            org_id=org.id,
            recipient=address,
            envelope_from=user.email,
            message_id=outbox.new_message_id("liaison.test"),
            content=content(merge, to=[{"email": address}]),
        )
    outbox.queue_message(
        org_id=org.id,
        recipient="evil@example.org",
        envelope_from=user.email,
        message_id=outbox.new_message_id("liaison.test"),
        content=content({}, subject="{{ ''.__class__.__mro__ }}"),
    )
    outbox.queue_message(  # a row without merge fields is sent as written
        org_id=org.id,
        recipient="plain@example.org",
        envelope_from=user.email,
        message_id=outbox.new_message_id("liaison.test"),
        content={
            "from": {"email": user.email},
            "subject": "Literal {{ x }}",
            "html": "<p>{{ x }}</p>",
        },
    )
    db.session.commit()

    report = send_due()

    assert (report["sent"], report["failed"]) == (4, 1)
    bodies = {}
    for received in relay.messages:
        parsed = email.message_from_bytes(received.data, policy=policy.default)
        bodies[received.recipients[0]] = (
            parsed["Subject"],
            parsed.get_body(("html",)).get_content(),
            parsed.get_body(("plain",)).get_content(),
        )
    assert "Dear Zoë," in bodies["zoe@example.org"][1]
    assert "Dear Zoë," in bodies["zoe@example.org"][2]
    assert "Dear &lt;Bob&gt;," in bodies["bob@example.org"][1]
    assert "Dear <Bob>," in bodies["bob@example.org"][2]
    assert "Dear there," in bodies["anon@example.org"][1]
    assert bodies["plain@example.org"][0] == "Literal {{ x }}"
    evil = db.session.query(OutboxMessage).filter_by(recipient="evil@example.org").one()
    assert evil.state == "failed" and "build:" in evil.last_error
    assert "evil@example.org" not in bodies
