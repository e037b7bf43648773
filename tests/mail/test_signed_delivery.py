"""Build, DKIM-sign and send over SMTP: what arrives parses back and verifies (Mail #3)."""

from __future__ import annotations

import dkim

from server.mail.builder import Attachment, MessageTemplate
from server.mail.dkim import DkimSigner, generate_key, txt_value
from server.mail.smtp import SmtpTransport
from server.mail.transport import Accepted

from .roundtrip import lines_of, parse


def test_signed_messages_arrive_intact_and_verify(smtp_sink):
    key = generate_key()
    signer = DkimSigner("s1", "example.com", key)
    template = MessageTemplate(
        sender=("Ventes Équipe", "sales@example.com"),
        domain="example.com",
        attachments=[Attachment("tarifs 2024 — été.pdf", b"%PDF-1.4" + bytes(range(256)) * 20)],
    )
    transport = SmtpTransport(smtp_sink.host, smtp_sink.port, security="none", timeout=10)
    sent = []
    for i in range(10):
        built = template.render(
            to=(f"Zoë {i}", f"zoe{i}@example.org"),
            subject=f"Offre n°{i} ✨",
            html=f"<p>Bonjour Zoë {i},</p>\n.\n<p>" + "long line " * 200 + "</p>",
            headers={
                "List-Unsubscribe": f"<https://example.com/u/{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        data = signer.sign(built.data)
        assert isinstance(transport.send("bounces@example.com", built.recipients, data), Accepted)
        sent.append((built, data))
    transport.close()

    assert smtp_sink.connections == 1
    record = txt_value(key).encode()
    for i, ((built, data), received) in enumerate(zip(sent, smtp_sink.messages, strict=True)):
        assert received.data == data
        assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
        msg = parse(built)
        assert msg["Subject"] == f"Offre n°{i} ✨"
        assert msg.get_body(("html",)).get_content().startswith(f"<p>Bonjour Zoë {i},</p>")
        assert "long line" in lines_of(msg.get_body(("plain",)).get_content())
        [attachment] = msg.iter_attachments()
        assert attachment.get_filename() == "tarifs 2024 — été.pdf"
