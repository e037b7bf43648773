"""Message building: server.mail.builder (one template per send, render per recipient) against the
standard library's EmailMessage API, on the same personalized inputs, in the same run.

Each message: ~4 KB HTML with 5 merge fields and 3 links, a text part, a UTF-8 display name and
subject, List-Unsubscribe headers, one 20 KB PDF attachment shared by the send.
Usage: python bench/build.py [--messages N]   (or `liaison bench build`)
"""

from __future__ import annotations

import argparse
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.clock import utcnow  # noqa: E402
from server.mail.builder import Attachment, MessageTemplate  # noqa: E402

PARAGRAPH = (
    "<p>Dear {first}, thank you for your interest in {company}. Our team in {city} has prepared a"
    " proposal tailored to your needs — with a few options to compare side by side.</p>\n"
)
HTML = (
    "<html><body><h1>Hello {first} {last}</h1>\n"
    + PARAGRAPH * 14
    + '<p><a href="https://example.com/offer?c={company}">See the offer</a> ·'
    ' <a href="https://example.com/book?city={city}">Book a call</a> ·'
    ' <a href="https://example.com/u/{token}">Unsubscribe</a></p></body></html>'
)
TEXT = "Hello {first} {last}\n\n" + PARAGRAPH.replace("<p>", "").replace("</p>", "") * 14
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 80


def recipients(count: int) -> list[dict]:
    """Personalized merge values for `count` recipients."""
    return [
        {
            "first": f"Zoë{i}",
            "last": "Müller",
            "company": f"Acme {i}",
            "city": "Zürich",
            "token": f"tok{i:08d}",
            "email": f"zoe{i}@example.org",
        }
        for i in range(count)
    ]


def ours(people: list[dict], derive_text: bool = False) -> float:
    """Builds per second with MessageTemplate.render (text given, or derived from the HTML)."""
    start = time.perf_counter()
    template = MessageTemplate(
        sender=("Liaison Sales Équipe", "sales@example.com"),
        domain="mail.example.com",
        attachments=[Attachment("brochure.pdf", PDF, "application/pdf")],
    )
    for p in people:
        built = template.render(
            to=(f"{p['first']} {p['last']}", p["email"]),
            subject=f"Une offre pour {p['company']}, {p['first']} ✨",
            html=HTML.format(**p),
            text=None if derive_text else TEXT.format(**p),
            headers={
                "List-Unsubscribe": f"<https://example.com/u/{p['token']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        assert built.data
    return len(people) / (time.perf_counter() - start)


def stdlib(people: list[dict]) -> float:
    """Builds per second with email.message.EmailMessage."""
    start = time.perf_counter()
    for p in people:
        msg = EmailMessage()
        msg["Date"] = format_datetime(utcnow())
        msg["From"] = "Liaison Sales Équipe <sales@example.com>"
        msg["To"] = f"{p['first']} {p['last']} <{p['email']}>"
        msg["Subject"] = f"Une offre pour {p['company']}, {p['first']} ✨"
        msg["Message-ID"] = make_msgid(domain="mail.example.com")
        msg["List-Unsubscribe"] = f"<https://example.com/u/{p['token']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(TEXT.format(**p))
        msg.add_alternative(HTML.format(**p), subtype="html")
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="brochure.pdf")
        assert msg.as_bytes(policy=SMTP)
    return len(people) / (time.perf_counter() - start)


def main() -> None:
    """Run both and print the rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000, help="messages for our builder")
    args = parser.parse_args()
    people = recipients(args.messages)
    ours(people[:200])  # warm up imports and caches
    stdlib(people[:20])
    ours_rate = ours(people)
    std_rate = stdlib(people[: max(100, args.messages // 10)])
    derived_rate = ours(people[: max(100, args.messages // 10)], derive_text=True)
    print(f"server.mail.builder : {ours_rate:10.0f} builds/s ({args.messages} messages)")
    print(f"EmailMessage (std)  : {std_rate:10.0f} builds/s")
    print(f"ratio               : {ours_rate / std_rate:10.1f} x")
    print(f"builder, text derived from each HTML (html.parser): {derived_rate:.0f} builds/s")


if __name__ == "__main__":
    main()
