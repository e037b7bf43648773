"""Injection (TRK-1, TRK-2, TRK-9): links rewritten in place, pixel and trap link, text bodies,
and signed tokens that carry no URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from server.tracking.injection import rewrite
from server.tracking.tokens import click_token, open_token, verify_click, verify_open

BASE = "http://localhost"
PIXEL = f"{BASE}/t/o/PIXEL"

OUTLOOK = (Path(__file__).parent / "outlook_email.html").read_text()

GMAIL = (
    '<div dir="ltr">Hi Ann,<div><br></div><div>The deck: <a href="https://docs.example.org/d/1'
    '?usp=sharing&amp;x=%20y" target="_blank">https://docs.example.org/d/1</a></div>'
    '<div><a href=https://www.example.net/ title=x>unquoted</a></div><br clear="all">'
    '<div><br></div><span class="gmail_signature_prefix">-- </span><br>'
    '<div dir="ltr" class="gmail_signature"><a href=\'https://seller.example\'>Seller</a></div>'
    "</div>"
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def _url(position: int) -> str:
    return f"{BASE}/t/c/T{position}"


def test_outlook_html_links_rewritten_in_place_and_everything_else_kept(app):
    """TRK-1: http(s) links (also the VML button in a conditional comment) go to /t/c/, mailto,
    tel and our unsubscribe link stay; entities, case and comments are kept byte for byte."""
    result = rewrite(OUTLOOK, None, _url, BASE, PIXEL)
    assert result.urls[:3] == [
        "https://shop.example.com/offer?id=7&ref=mail",
        "https://shop.example.com/buy",
        "https://shop.example.com/buy",
    ]
    assert result.trap_position == 3 and len(result.urls) == 4
    assert '<A HREF="http://localhost/t/c/T0">our offer &#8211; today</A>' in result.html
    assert 'href="http://localhost/t/c/T1" style="height:40px' in result.html
    assert '<a href="mailto:sales@seller.example">' in result.html
    assert '<a href="tel:+441234">' in result.html
    assert '<a href="http://localhost/u/abc123">' in result.html
    assert "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/>" in result.html
    assert "Dear Ann &amp; team," in result.html
    # only the href values changed: undo them and the document is the original
    undone = result.html
    for position in range(3):
        undone = undone.replace(f'"{_url(position)}"', "X", 1)
    original = OUTLOOK
    for url in ('"https://shop.example.com/offer?id=7&amp;ref=mail"',
                '"https://shop.example.com/buy"', '"https://shop.example.com/buy"'):  # fmt: skip
        original = original.replace(url, "X", 1)
    assert undone.split("</DIV>")[0] == original.split("</DIV>")[0]


def test_pixel_and_trap_go_at_the_end_of_the_body(app):
    """TRK-1, TRK-8: one 1×1 image and one hidden, empty, unfocusable trap link before </BODY>."""
    result = rewrite(OUTLOOK, None, _url, BASE, PIXEL)
    tail = result.html[result.html.index("</DIV>") :]
    assert tail.endswith("</BODY></HTML>")
    assert f'<img src="{PIXEL}" width="1" height="1" alt=""' in tail
    trap = re.search(r'<a href="http://localhost/t/c/T3"[^>]*></a>', tail).group(0)
    assert 'aria-hidden="true"' in trap and 'tabindex="-1"' in trap
    assert "display:none" in trap and "mso-hide:all" in trap
    assert _visible(result.html) == _visible(OUTLOOK)  # visible text untouched


def test_gmail_fragment_without_body_gets_pixel_appended(app):
    """A Gmail compose fragment (no <body>): links in every quoting style, pixel at the end."""
    result = rewrite(GMAIL, None, _url, BASE, PIXEL)
    assert result.urls[:3] == [
        "https://docs.example.org/d/1?usp=sharing&x=%20y",
        "https://www.example.net/",
        "https://seller.example",
    ]
    assert ">https://docs.example.org/d/1</a>" in result.html  # the visible URL text stays
    assert '<a href="http://localhost/t/c/T1" title=x>unquoted</a>' in result.html
    assert '<a href="http://localhost/t/c/T2">Seller</a>' in result.html
    assert result.html.endswith(f'<img src="{PIXEL}" width="1" height="1" alt="" border="0" '
                                'style="display:block;width:1px;height:1px;border:0;margin:0;'
                                'padding:0">')  # fmt: skip


def test_plain_text_gets_links_rewritten_and_no_pixel(app):
    """TRK-2: text links rewritten (trailing punctuation kept outside), nothing else added."""
    text = "See https://example.com/a, or (https://example.com/b). Mail me: mailto:x@y.z"
    result = rewrite(None, text, _url, BASE, PIXEL)
    assert result.text == (
        "See http://localhost/t/c/T0, or (http://localhost/t/c/T1). Mail me: mailto:x@y.z"
    )
    assert result.urls == ["https://example.com/a", "https://example.com/b"]
    assert result.html is None and result.trap_position is None


def test_merge_template_links_are_left_alone(app):
    """A link built by a merge field is per recipient: it is not rewritten."""
    html = '<a href="https://example.com/p?c={{ contact.id }}">x</a><a href="https://e.com">y</a>'
    result = rewrite(html, None, _url, BASE, None)
    assert result.urls == ["https://e.com", ""]
    assert "{{ contact.id }}" in result.html


def test_tokens_are_signed_ids_only(app):
    """TRK-9: a token carries ids and a MAC, no URL; altered, forged or swapped kinds fail."""
    token = click_token(42, 3)
    assert "example" not in token and verify_click(token) == (42, 3)
    ids, mac = token.rsplit(".", 1)
    assert verify_click(f"{ids}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}") is None
    assert verify_click(f"{ids[:-1]}4.{mac}") is None  # another link, same MAC
    assert verify_click(f"0{ids}.{mac}") is None  # another spelling of the same id
    assert verify_click(open_token(42)) is None and verify_open(token) is None
    assert verify_open(open_token(42)) == 42
    assert verify_open("") is None and verify_open("x" * 500) is None
    assert verify_open("zz.\u00e9\u00e9") is None
