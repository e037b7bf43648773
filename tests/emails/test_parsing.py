"""Parsing real-world MIME shapes (LOG-1) and the dedupe key (LOG-3); no database needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.emails.parsing import message_key, normalize_message_id, parse_mime

DATA = Path(__file__).parent / "data"
CORPUS = sorted(p.name for p in DATA.glob("*.eml"))


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_message_parses(name):
    parsed = parse_mime(sample(name))
    assert parsed.from_address["email"]
    assert parsed.subject
    assert parsed.text or parsed.html
    assert parsed.key.startswith(("mid:", "sha256:"))


def test_attachments_and_nested_alternatives():
    mixed = parse_mime(sample("mixed_attachments.eml"))
    assert mixed.text.startswith("Hello Bob") and "<b>quote</b>" in mixed.html
    assert [(a["filename"], a["content_type"]) for a in mixed.attachments] == [
        ("quote.pdf", "application/pdf"),
        ("lines.csv", "text/csv"),
    ]
    assert mixed.attachments[0]["size"] == 9 + 256 * 4
    nested = parse_mime(sample("nested_alternative.eml"))
    assert nested.text.strip() == "Looks good." and 'src="cid:logo@x"' in nested.html
    assert nested.attachments[0]["inline"] and nested.attachments[0]["content_id"] == "logo@x"


def test_charsets_and_encoded_words():
    latin = parse_mime(sample("latin1.eml"))
    assert latin.subject == "Réunion à München"
    assert latin.from_address == {"name": "François Müller", "email": "francois@client.test"}
    assert "réunion à München" in latin.text
    cp1252 = parse_mime(sample("windows1252.eml"))
    assert "€" in cp1252.subject and "“smart quotes”" in cp1252.html
    japanese = parse_mime(sample("iso2022jp.eml"))
    assert japanese.subject == "見積もりの件" and japanese.from_address["name"] == "山田"
    assert "お見積もり" in japanese.text
    assert parse_mime(sample("encoded_word_subject.eml")).subject == "🎉 New order — n°42"


def test_winmail_calendar_and_forwarded_parts_are_listed():
    tnef = parse_mime(sample("winmail_dat.eml"))
    assert [a["filename"] for a in tnef.attachments] == ["winmail.dat"]
    invite = parse_mime(sample("calendar_invite.eml"))
    assert [a["content_type"] for a in invite.attachments] == ["text/calendar"]
    forwarded = parse_mime(sample("forwarded_rfc822.eml"))
    assert forwarded.text.startswith("Forwarding")
    assert forwarded.attachments[0]["content_type"] == "message/rfc822"
    assert forwarded.attachments[0]["size"] > 0


def test_cc_heavy_reply_threads_to_the_first_reference():
    reply = parse_mime(sample("cc_heavy_reply.eml"))
    assert len(reply.cc) == 8 and reply.cc[1] == {"name": "Dan", "email": "dan@customer.test"}
    assert reply.in_reply_to == "kickoff-2@acme.test"
    assert reply.thread_key == "mid:kickoff-1@acme.test"


def test_unknown_charset_and_bad_date_do_not_fail():
    raw = (
        b"From: x@client.test\r\nTo: alice@acme.test\r\nSubject: odd\r\nDate: not a date\r\n"
        b"Content-Type: text/plain; charset=x-unknown-42\r\n\r\nCaf\xe9\r\n"
    )
    parsed = parse_mime(raw)
    assert parsed.sent_at is None and parsed.text.startswith("Caf")


def test_message_id_is_normalized():
    assert normalize_message_id(" <Abc.1@MAIL.Example.COM> ") == "Abc.1@mail.example.com"
    assert normalize_message_id("") is None


def test_derived_key_is_stable_without_a_message_id():
    raw = sample("no_message_id.eml")
    first, again = parse_mime(raw), parse_mime(raw.replace(b"To: ", b"X-Relayed: yes\r\nTo: "))
    assert first.message_id is None and first.key.startswith("sha256:")
    assert message_key(first) == message_key(again)
    other = parse_mime(raw.replace(b"No id here", b"Another subject"))
    assert other.key != first.key
