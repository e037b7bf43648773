"""Property tests: any text, any names, any file names round-trip (Mail plumbing #3)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.mail.builder import Attachment, MessageTemplate

from .roundtrip import display_name, lines_of, mailboxes, one_line, parse, text_of, utf8_header

LOCAL = st.from_regex(r"\A[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]\Z").filter(lambda s: ".." not in s)
DOMAINS = st.sampled_from(["example.org", "bücher.example", "例え.jp", "xn--fsq.example", "a.b.c"])
NAMES = st.text(max_size=120)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEMPLATE = MessageTemplate(sender=("Sender", "s@example.com"), domain="mail.example.com")


@SETTINGS
@given(subject=st.text(max_size=400), text=st.text(max_size=3000), html=st.text(max_size=3000))
def test_any_subject_and_bodies_round_trip(subject, text, html):
    built = TEMPLATE.render(to="r@example.org", subject=subject, text=text, html=html)
    msg = parse(built)
    assert str(msg["Subject"]) == one_line(subject)
    assert lines_of(msg.get_body(("plain",)).get_content()) == text_of(text)
    assert lines_of(msg.get_body(("html",)).get_content()) == text_of(html)


@SETTINGS
@given(
    people=st.lists(st.tuples(NAMES, LOCAL, DOMAINS), min_size=1, max_size=6),
    utf8_local=st.sampled_from(["", "ü", "用户"]),
)
def test_any_display_names_and_domains_round_trip(people, utf8_local):
    to = [(name, f"{local}{utf8_local}@{domain}") for name, local, domain in people]
    built = TEMPLATE.render(to=to, subject="x", text="x")
    msg = parse(built)
    got = mailboxes(msg, "To", built.data)
    assert [name for name, _, _ in got] == [display_name(name) for name, _ in to]
    assert [local for _, local, _ in got] == [f"{local}{utf8_local}" for _, local, _ in people]
    assert all(domain.isascii() for _, _, domain in got)
    assert built.smtputf8 == bool(utf8_local)


@SETTINGS
@given(
    names=st.lists(st.text(min_size=1, max_size=150), min_size=1, max_size=4, unique=True),
    content=st.binary(max_size=2000),
)
def test_any_attachment_names_and_contents_round_trip(names, content):
    names = [n for n in names if one_line(n)]
    attachments = [Attachment(name, content + name.encode()) for name in names]
    template = MessageTemplate(
        sender="s@example.com", domain="mail.example.com", attachments=attachments
    )
    msg = parse(template.render(to="r@example.org", subject="files", html="<p>x</p>"))
    files = {
        utf8_header(part.get_filename()): part.get_payload(decode=True)
        for part in msg.iter_attachments()
    }
    assert files == {one_line(a.filename): a.content for a in attachments}
