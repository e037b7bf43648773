"""DSN parsing (BULK-10): RFC 3464 reports and the common non-standard bounce shapes."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest

from server.mail.dsn import RecipientResult, parse_dsn, status_from_text

from .inbound_world import sample


def parsed(name: str):
    return email.message_from_bytes(sample(name), policy=default_policy)


# file, shape, original Message-ID, [(recipient, kind, status, a phrase of the diagnostic)]
SHAPES = [
    (
        "rfc3464_postfix.eml",
        "rfc3464",
        "<1f0c9a7e2b5d4e8f9a0b1c2d3e4f5a60@liaison.localhost>",
        [("Nobody@Example.org", "hard", "5.1.1", "User unknown in virtual mailbox table")],
    ),
    (
        "rfc3464_postfix_delayed.eml",
        "rfc3464",
        "<2a7d0e4b9c1f4a3e8b6d5c4b3a291807@liaison.localhost>",
        [("slow@example.com", "soft", "4.7.1", "Greylisted")],
    ),
    (
        "rfc3464_sendmail_multi.eml",
        "rfc3464",
        "<3b8e1f5c0d2a4b6c9e7f8a1b2c3d4e5f@liaison.localhost>",
        [
            ("gone@example.com", "hard", "5.1.1", "User unknown"),
            ("full@example.com", "soft", "4.2.2", "Mailbox full"),
        ],
    ),
    (
        "qmail.eml",
        "qmail",
        "<4c9f2a6d1e3b4c7d0f8a9b2c3d4e5f61@liaison.localhost>",
        [
            ("nosuchuser@example.net", "hard", "5.1.1", "no mailbox here by that name"),
            ("closed@example.org", "hard", "5.0.0", "550 Requested action not taken"),
        ],
    ),
    (
        "exim.eml",
        "exim",
        "<5d0a3b7e2f4c4d8e1a9b0c3d4e5f6a72@liaison.localhost>",
        [("ghost@example.org", "hard", "5.1.1", "SMTP error from remote mail server after RCPT")],
    ),
    (
        "exim_delayed.eml",
        "exim",
        None,  # Exim's delay warning carries no copy of the message: VERP matches it
        [("slowpoke@example.org", "soft", "4.3.0", "Temporary lookup failure")],
    ),
    (
        "postfix_noreport.eml",
        "postfix",
        "<6e1b4c8f3a5d4e9f2b0c1d4e5f6a7b83@liaison.localhost>",
        [("left.company@example.de", "hard", "5.1.1", "(in reply to RCPT TO command)")],
    ),
    (
        "exchange_ndr.eml",
        "exchange",
        "<7f2c5d9a4b6e4f0a3c1d2e5f6a7b8c94@liaison.localhost>",
        [("jane.doe@contoso.com", "hard", "5.1.1", "RESOLVER.ADR.RecipNotFound")],
    ),
    (
        "gmail.eml",
        "rfc3464",
        "<8a3d6e0b5c7f4a1b4d2e3f6a7b8c9da5@liaison.localhost>",
        [("nobody.here@example.com", "hard", "5.1.1", "does not exist")],
    ),
]


@pytest.mark.parametrize(("name", "shape", "message_id", "expected"), SHAPES)
def test_each_bounce_shape_gives_per_recipient_results(name, shape, message_id, expected):
    report = parse_dsn(parsed(name))
    assert report is not None
    assert report.shape == shape
    assert report.original_message_id == message_id
    got = [(r.recipient, r.kind, r.status) for r in report.results]
    assert got == [(recipient, kind, status) for recipient, kind, status, _ in expected]
    for result, (*_, phrase) in zip(report.results, expected, strict=True):
        assert phrase in result.diagnostic
        assert "\n" not in result.diagnostic  # folded lines are joined


def test_rfc3464_fields_are_read_from_the_delivery_status_part():
    report = parse_dsn(parsed("rfc3464_postfix.eml"))
    (result,) = report.results
    assert report.reporting_mta == "mail.example.net"
    assert result.action == "failed"
    assert result.remote_mta == "mx1.example.org"
    assert result.original_recipient == "Nobody@Example.org"
    assert result.diagnostic.startswith("550 5.1.1 <nobody@example.org>")  # "smtp;" dropped


def test_gmail_notice_without_its_status_part_is_read_from_the_text():
    message = parsed("gmail.eml")
    message.set_payload(
        [p for p in message.get_payload() if "delivery-status" not in p.get_content_type()]
    )
    report = parse_dsn(message)
    assert report.shape == "gmail"
    assert [(r.recipient, r.kind, r.status) for r in report.results] == [
        ("nobody.here@example.com", "hard", "5.1.1")
    ]
    assert (
        "The email account that you tried to reach does not exist" in report.results[0].diagnostic
    )
    assert report.original_message_id == "<8a3d6e0b5c7f4a1b4d2e3f6a7b8c9da5@liaison.localhost>"


def test_gmail_delivery_incomplete_is_soft():
    text = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        "Subject: Delivery Status Notification (Delay)\r\n\r\n"
        "** Delivery incomplete **\r\n\r\n"
        "There was a temporary problem delivering your message to later@example.com. "
        "Gmail will retry for 46 more hours. You'll be notified if the delivery fails "
        "permanently.\r\n\r\n"
        "The response was:\r\n"
        "The recipient server did not accept our requests to connect.\r\n"
    )
    report = parse_dsn(email.message_from_string(text, policy=default_policy))
    assert [(r.recipient, r.kind, r.status) for r in report.results] == [
        ("later@example.com", "soft", "4.0.0")
    ]


def test_exchange_delayed_notice_is_soft():
    text = (
        "From: Microsoft Outlook <postmaster@contoso.com>\r\n"
        "Subject: Delivery delayed: Meeting next week\r\n\r\n"
        "Delivery is delayed to these recipients or groups:\r\n\r\n"
        "jane.doe@contoso.com\r\n\r\n"
        "Diagnostic information for administrators:\r\n\r\n"
        "jane.doe@contoso.com\r\n"
        "#451 4.4.0 DNS query failed ##\r\n"
    )
    report = parse_dsn(email.message_from_string(text, policy=default_policy))
    assert [(r.recipient, r.kind, r.status) for r in report.results] == [
        ("jane.doe@contoso.com", "soft", "4.4.0")
    ]


@pytest.mark.parametrize("name", ["bcc_logged.eml", "read_receipt.eml"])
def test_ordinary_mail_and_read_receipts_are_no_bounces(name):
    assert parse_dsn(parsed(name)) is None


def test_status_comes_from_enhanced_code_else_reply_code_never_an_ip_address():
    assert status_from_text("host [192.0.2.25] said: 550 5.7.1 relay denied") == "5.7.1"
    assert status_from_text("host [192.0.2.25] said: 550 User unknown") == "5.0.0"
    assert status_from_text("421 Service not available") == "4.0.0"
    assert status_from_text("Giving up on 192.0.2.44.", "5.0.0") == "5.0.0"


def test_success_results_are_neither_hard_nor_soft():
    delivered = RecipientResult("a@example.com", "delivered", "2.0.0")
    assert delivered.kind == "success" and not delivered.hard
    assert RecipientResult("a@example.com", "failed", "5.2.1").hard
    assert RecipientResult("a@example.com", "delayed", "4.4.7").kind == "soft"
