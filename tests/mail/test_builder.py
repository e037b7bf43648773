"""Built messages parse back (email.policy.default) to what was put in (Mail plumbing #3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.mail.builder import Address, Attachment, HeaderError, MessageTemplate, build_message

from .roundtrip import (
    expected_mailbox,
    lines_of,
    mailboxes,
    one_line,
    parse,
    structure,
    text_of,
    utf8_header,
    wire_lines,
)

DOMAIN = "mail.example.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40

CORPUS = {
    "ascii": {
        "sender": ("Ann Smith", "ann@example.com"),
        "to": [("Bob Jones", "bob@example.org")],
        "subject": "Quarterly review",
        "text": "Hi Bob,\n\nSee you soon.\n",
    },
    "non_ascii_everywhere": {
        "sender": ("Zoë Ørsted-Müller", "zoe@example.com"),
        "to": [("李小龍", "li@example.cn"), ("Ahmad عربي", "ahmad@example.ae")],
        "cc": [
            ("שלום עליכם", "shalom@example.il"),
            ("Ünïcödé Lönger Nämé " * 12, "long@example.de"),
        ],
        "subject": "Résumé 📎 of our call — 会议纪要 — مرحبا بكم",
        "text": "Grüße aus Zürich 👋\nשלום\nمرحبا\n日本語のテキスト\n",
        "html": "<p dir='rtl'>مرحبا <b>بكم</b></p><p>Grüße 👋🏽 👨‍👩‍👧</p>",
    },
    "emoji_only_name_and_subject": {
        "sender": ("🚀🚀🚀", "rocket@example.com"),
        "to": ["plain@example.org"],
        "subject": "🎉" * 40,
        "text": "🎉" * 300,
    },
    "long_lines_and_words": {
        "sender": "sender@example.com",
        "to": ["r@example.org"],
        "subject": "word " * 30 + "x" * 2000,
        "text": "a" * 5000 + "\n" + "b " * 3000,
        "html": "<p>" + "c" * 10000 + "</p>",
    },
    "line_end_mixture": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "line\r\nbreaks\nin\rsubject",
        "text": "one\r\ntwo\nthree\rfour\r\n\r\nfive",
        "html": "<p>a</p>\r\n<p>b</p>\n<p>c</p>\r",
    },
    "empty_text": {"sender": "s@example.com", "to": ["r@example.org"], "subject": "", "text": ""},
    "html_only_text_derived": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "Derived",
        "html": "<h1>Title</h1><p>Go <a href='https://example.com/x'>here</a></p>",
    },
    "tricky_7bit_lookalikes": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "=?utf-8?q?not_an_encoded_word?= and  two  spaces\tand tab",
        "text": "From the start\n.\n..\n=_ not a boundary\n--=_x\ntrailing space \ttab\t\n"
        "nul\x00x\n",
        "html": "<p>=_boundary-like</p>\n--=_\n",
    },
    "specials_in_names": {
        "sender": ('Doe, John "JD" \\ Jr.', "jd@example.com"),
        "to": [("=?utf-8?b?ZmFrZQ==?=", "fake@example.org"), ("a;b<c>@d", "x@example.org")],
        "reply_to": [("Support Team", "support@example.com"), ("Ünïcode Reply", "r@example.com")],
        "subject": "Names",
        "text": "x",
    },
    "idna_and_smtputf8": {
        "sender": ("Jörg", "jorg@bücher.example"),
        "to": [("Ä", "ä@例え.jp"), ("quoted", '"john smith"@example.org')],
        "subject": "IDN",
        "text": "x",
    },
    "attachments_rfc2231": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "Files",
        "text": "See attached.",
        "html": "<p>Logo: <img src='cid:logo@example.com'></p>",
        "attachments": [
            Attachment("logo.png", PNG, "image/png", content_id="logo@example.com"),
            Attachment("Überweisung März 2024 — 📄 sehr langer Dateiname für den Test.pdf", PDF),
            Attachment('quote"and\\backslash.txt', b"plain text file\n", "text/plain"),
            Attachment("a" * 120 + ".bin", b"\x00\x01\x02"),
            Attachment("", b"no name"),
            Attachment(
                "forward.eml", b"From: a@b.c\r\nSubject: fwd\r\n\r\nbody\n", "message/rfc822"
            ),
        ],
    },
    "inline_without_html": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "Inline on text",
        "text": "text only",
        "attachments": [Attachment("logo.png", PNG, content_id="logo")],
    },
    "reply_with_long_references": {
        "sender": "s@example.com",
        "to": ["r@example.org"],
        "subject": "Re: thread",
        "text": "reply",
        "in_reply_to": "<last@example.org>",
        "references": [f"<id{i}.{'x' * 30}@example.org>" for i in range(25)],
    },
    "many_recipients_and_extra_headers": {
        "sender": "s@example.com",
        "to": [(f"Recipient Number {i}", f"r{i}@example.org") for i in range(60)],
        "bcc": ["hidden@example.org"],
        "subject": "Bulk",
        "text": "x",
        "headers": {
            "List-Unsubscribe": "<https://example.com/u/" + "t" * 300 + ">, <mailto:u@example.com>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Liaison-Send-Id": "42",
            "X-Note": "non-ASCII värde",
        },
    },
}


def _addresses(values) -> list[tuple[str, str]]:
    if isinstance(values, str | Address) or (isinstance(values, tuple) and len(values) == 2):
        values = [values]
    out = []
    for value in values:
        if isinstance(value, Address):
            out.append((value.email, value.name))
        elif isinstance(value, tuple):
            out.append((value[1], value[0]))
        else:
            out.append((value, ""))
    return out


def _expected_local(email_address: str) -> str:
    local = email_address.rpartition("@")[0]
    return local[1:-1] if local.startswith('"') else local


def check_roundtrip(kwargs: dict) -> None:
    """Build, parse back and compare every header, body and attachment with the inputs."""
    date = datetime(2024, 3, 5, 14, 30, 7, tzinfo=UTC)
    built = build_message(domain=DOMAIN, date=date, **kwargs)
    msg = parse(built)

    assert msg["Message-ID"] == built.message_id
    assert built.message_id.endswith(f"@{DOMAIN}>")
    assert msg["Date"].datetime == date
    assert msg["MIME-Version"] == "1.0"
    assert str(msg["Subject"]) == one_line(kwargs["subject"])
    for header, key in (("From", "sender"), ("To", "to"), ("Cc", "cc"), ("Reply-To", "reply_to")):
        if not kwargs.get(key):
            assert msg[header] is None
            continue
        expected = []
        for email_address, name in _addresses(kwargs[key]):
            display, _, domain = expected_mailbox(email_address, name)
            expected.append((display, _expected_local(email_address), domain))
        assert mailboxes(msg, header, built.data) == expected
    if kwargs.get("bcc"):
        assert [a.addr_spec for a in msg["Bcc"].addresses] == ["hidden@example.org"]
    recipients = _addresses(kwargs["to"]) + _addresses(kwargs.get("cc", ()))
    recipients += _addresses(kwargs.get("bcc", ()))
    assert len(built.recipients) == len(recipients)
    assert built.smtputf8 == any(not e.rpartition("@")[0].isascii() for e, _ in recipients)

    if kwargs.get("in_reply_to"):
        assert msg["In-Reply-To"] == kwargs["in_reply_to"]
        assert str(msg["References"]).split() == kwargs["references"]
    for name, value in kwargs.get("headers", {}).items():
        assert str(msg[name]) == value

    html, text = kwargs.get("html"), kwargs.get("text")
    plain = msg.get_body(("plain",))
    if html is None:
        assert lines_of(plain.get_content()) == text_of(text or "")
    else:
        assert lines_of(msg.get_body(("html",)).get_content()) == text_of(html)
        if text is not None:
            assert lines_of(plain.get_content()) == text_of(text)
        else:
            assert plain.get_content().strip()
    attachments = kwargs.get("attachments", [])
    files = {
        (part.get_filename() or ""): part
        for part in msg.walk()
        if part.get_content_disposition() in ("attachment", "inline")
        and part.get_content_maintype() != "multipart"
    }
    assert len(files) == len(attachments)
    for attachment in attachments:
        part = files[attachment.filename]
        if part.get_content_type() == "message/rfc822":
            assert part.get_content()["Subject"] == "fwd"
        else:
            assert part.get_payload(decode=True) == attachment.content
        if attachment.content_type and not attachment.content_type.startswith("message/"):
            assert part.get_content_type() == attachment.content_type
        if attachment.content_id:
            assert part["Content-ID"] == f"<{attachment.content_id}>"
    for line in wire_lines(built.data):
        assert len(line) <= 998


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_corpus_round_trips_through_the_email_parser(case):
    check_roundtrip(CORPUS[case])


def test_smtputf8_local_parts_are_written_as_utf8_and_flagged():
    built = build_message(domain=DOMAIN, **CORPUS["idna_and_smtputf8"])
    assert built.smtputf8
    assert "ä@xn--r8jz45g.jp" in built.recipients
    assert "jorg@xn--bcher-kva.example" in parse(built)["From"].addresses[0].addr_spec
    assert utf8_header(parse(built)["To"].addresses[0].username) == "ä"


def test_mime_structure_with_inline_images_and_attachments():
    built = build_message(domain=DOMAIN, **CORPUS["attachments_rfc2231"])
    assert structure(parse(built)) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    multipart/related",
        "      text/html",
        "      image/png",
        "  application/pdf",
        "  text/plain",
        "  application/octet-stream",
        "  application/octet-stream",
        "  message/rfc822",
        "    text/plain",
    ]


def test_simple_shapes():
    text_only = build_message(domain=DOMAIN, sender="a@b.example", to="c@d.example", subject="s")
    assert structure(parse(text_only)) == ["text/plain"]
    html = build_message(
        domain=DOMAIN, sender="a@b.example", to="c@d.example", subject="s", html="<p>x</p>"
    )
    assert structure(parse(html)) == ["multipart/alternative", "  text/plain", "  text/html"]


def test_transfer_encodings_are_chosen_by_content():
    def encoding(text):
        built = build_message(domain=DOMAIN, sender="a@b.example", to="c@d.example", subject="s",
                              text=text)  # fmt: skip
        return parse(built)["Content-Transfer-Encoding"]

    assert encoding("short ascii lines\nonly\n") == "7bit"
    assert encoding("x" * 100) == "quoted-printable"
    assert encoding("Grüße, one accent in a long latin line") == "quoted-printable"
    assert encoding("日本語のテキストです。" * 5) == "base64"
    assert encoding("contains =_ boundary marker") == "quoted-printable"


def test_headers_stay_within_78_characters_when_they_can():
    built = build_message(domain=DOMAIN, **CORPUS["many_recipients_and_extra_headers"])
    head = built.data.split(b"\r\n\r\n", 1)[0]
    long_lines = [line for line in head.split(b"\r\n") if len(line) > 78]
    assert all(b"https://example.com/u/" in line for line in long_lines)


def test_template_shares_parts_and_personalizes_each_message():
    template = MessageTemplate(
        sender=("Sales", "sales@example.com"),
        domain=DOMAIN,
        attachments=[Attachment("brochure.pdf", PDF)],
        headers={"X-Liaison-Send-Id": "7"},
    )
    ids = set()
    for i in range(3):
        built = template.render(
            to=(f"Zoë {i}", f"z{i}@example.org"),
            subject=f"Hello {i}",
            html=f"<p>Hi Zoë {i}</p>",
            headers={"List-Unsubscribe": f"<https://example.com/u/{i}>"},
        )
        msg = parse(built)
        assert msg["To"].addresses[0].display_name == f"Zoë {i}"
        assert msg["List-Unsubscribe"] == f"<https://example.com/u/{i}>"
        assert msg["X-Liaison-Send-Id"] == "7"
        assert lines_of(msg.get_body(("plain",)).get_content()) == f"Hi Zoë {i}\n"
        ids.add(built.message_id)
    assert len(ids) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to": "not-an-address"},
        {"to": "a@b.example\r\nBcc: victim@example.org"},
        {"to": "a@exa mple.org"},
        {"to": "a@b.example", "headers": {"Subject": "twice"}},
        {"to": "a@b.example", "headers": {"Bad Name": "x"}},
        {"to": "a@b.example", "in_reply_to": "no-at-sign"},
        {"to": "a@b.example", "attachments": [Attachment("x", b"", "not a type")]},
        {"to": []},
    ],
)
def test_bad_input_is_refused(kwargs):
    with pytest.raises(HeaderError):
        build_message(domain=DOMAIN, sender="s@example.com", subject="s", text="x", **kwargs)


def test_header_injection_through_subject_and_names_is_neutralized():
    built = build_message(
        domain=DOMAIN,
        sender=("Evil\r\nBcc: victim@example.org", "s@example.com"),
        to="r@example.org",
        subject="hi\r\nBcc: victim@example.org",
        text="x",
        headers={"X-Tag": "a\r\nBcc: victim@example.org"},
    )
    msg = parse(built)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "hi Bcc: victim@example.org"
