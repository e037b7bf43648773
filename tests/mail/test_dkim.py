"""DKIM signatures verify with dkimpy; keys come from `liaison dkim generate` (Mail plumbing #3)."""

from __future__ import annotations

import re
import stat

import dkim
import pytest
import time_machine
from click.testing import CliRunner
from flask.cli import ScriptInfo

from server import create_app
from server.cli import main
from server.mail.builder import Attachment, build_message
from server.mail.dkim import DkimSigner, generate_key, load_signer, txt_value

from .test_builder import CORPUS

KEY = generate_key()
HEADERS = {
    "List-Unsubscribe": "<https://example.com/u/tok>, <mailto:unsub@example.com>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def dns_answer(record: str):
    """A dnsfunc for dkimpy answering every TXT query with `record` (no DNS involved)."""
    queried: list[bytes] = []

    def dnsfunc(name, timeout=5):
        queried.append(name)
        return record.encode("ascii")

    dnsfunc.queried = queried
    return dnsfunc


def signed_header_names(signed: bytes) -> list[str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    unfolded = re.sub(r"\r\n[ \t]+", " ", header)
    h_tag = re.search(r"\bh=([^;]+);", unfolded).group(1)
    return [name.strip() for name in h_tag.split(":")]


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_signatures_on_the_whole_corpus_verify(case):
    built = build_message(domain="example.com", **CORPUS[case])
    signed = DkimSigner("s1", "example.com", KEY).sign(built.data)
    dnsfunc = dns_answer(txt_value(KEY))
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert dnsfunc.queried == [b"s1._domainkey.example.com."]


def test_signature_covers_the_listed_headers_that_are_present():
    built = build_message(
        domain="example.com",
        sender="ann@example.com",
        to="bob@example.org",
        subject="Offer",
        html="<p>Hello</p>",
        headers=HEADERS,
        attachments=[Attachment("a.pdf", b"%PDF" * 100)],
    )
    signed = DkimSigner("s1", "example.com", KEY).sign(built.data)
    assert signed_header_names(signed) == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]
    plain = build_message(domain="example.com", sender="a@example.com", to="b@x.org", subject="s")
    names = signed_header_names(DkimSigner("s1", "example.com", KEY).sign(plain.data))
    assert names == ["from", "to", "subject", "date", "message-id"]


def test_tampering_breaks_the_signature():
    built = build_message(
        domain="example.com",
        sender="ann@example.com",
        to="bob@example.org",
        subject="Pay invoice 100",
        text="Pay 100 EUR",
        headers=HEADERS,
    )
    signed = DkimSigner("s1", "example.com", KEY).sign(built.data)
    dnsfunc = dns_answer(txt_value(KEY))
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"invoice 100", b"invoice 900"), dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"Pay 100 EUR", b"Pay 900 EUR"), dnsfunc=dnsfunc)
    unsub = signed.replace(b"https://example.com/u/tok", b"https://evil.example/u/tok")
    assert not dkim.verify(unsub, dnsfunc=dnsfunc)
    assert not dkim.verify(signed, dnsfunc=dns_answer(txt_value(generate_key())))


def test_signature_is_byte_identical_to_dkimpy_sign():
    built = build_message(
        domain="example.com",
        sender=("Zoë", "zoe@example.com"),
        to="bob@example.org",
        subject="Grüße " * 20,
        html="<p>x</p>" * 500,
        headers=HEADERS,
    )
    with time_machine.travel(1_700_000_000, tick=False):
        ours = DkimSigner("s1", "example.com", KEY).signature_header(built.data)
        reference = dkim.sign(
            built.data,
            b"s1",
            b"example.com",
            KEY,
            include_headers=[
                b"from",
                b"to",
                b"subject",
                b"date",
                b"message-id",
                b"list-unsubscribe",
                b"list-unsubscribe-post",
            ],
            canonicalize=(b"relaxed", b"relaxed"),
        )
    assert ours == reference


def test_dkim_generate_stores_a_private_key_and_prints_the_txt_record(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "MAIL_DOMAIN": "mail.example.com",
        }
    )
    runner = CliRunner()
    args = ["dkim", "generate", "--selector", "s1", "--domain", "example.com"]
    result = runner.invoke(main, args, obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    record = re.search(r"^s1\._domainkey\.example\.com\. IN TXT \( (.+) \)$", result.stdout, re.M)
    txt = "".join(re.findall(r'"([^"]*)"', record.group(1)))
    assert txt.startswith("v=DKIM1; k=rsa; p=")

    path = tmp_path / "instance" / "dkim" / "example.com" / "s1.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = load_signer(app.instance_path, "example.com", "s1")
    built = build_message(domain="example.com", sender="a@example.com", to="b@x.org", subject="s")
    assert dkim.verify(signer.sign(built.data), dnsfunc=dns_answer(txt))

    stored = path.read_bytes()
    again = runner.invoke(main, args, obj=ScriptInfo(create_app=lambda: app))
    assert again.exit_code != 0 and "already exists" in again.output
    assert path.read_bytes() == stored

    default_domain = runner.invoke(
        main, ["dkim", "generate", "--selector", "s2"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert default_domain.exit_code == 0
    assert "s2._domainkey.mail.example.com." in default_domain.stdout
    bad = runner.invoke(
        main, ["dkim", "generate", "--selector", "../x"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert bad.exit_code != 0
