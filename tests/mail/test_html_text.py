"""The text part derived from HTML reads like the email (Mail plumbing #3)."""

from __future__ import annotations

import pytest

from server.mail.html_text import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<h1>Title</h1>Body", "Title\n\nBody"),
        ("a<br>b<br><br>c", "a\nb\n\nc"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("  lots \n of\t  space  ", "lots of space"),
        (
            'Read <a href="https://x.example/a?b=1">the offer</a>.',
            "Read the offer (https://x.example/a?b=1).",
        ),
        ('<a href="https://x.example">https://x.example</a>', "https://x.example"),
        ('<a href="mailto:ann@x.example">ann@x.example</a>', "ann@x.example"),
        ('<a href="#top">Top</a> <a href="javascript:void(0)">JS</a>', "Top JS"),
        ('<a href="https://x.example/img"><img src="a.png"></a>', "https://x.example/img"),
        (
            '<a href="https://x.example/"><img src="a.png" alt="Logo"></a>',
            "Logo (https://x.example/)",
        ),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<ol><li>first</li><li>second</li></ol>", "1. first\n2. second"),
        ("<ul><li>a<ul><li>a1</li></ul></li><li>b</li></ul>", "- a\n  - a1\n- b"),
        (
            "<blockquote><p>quoted</p><p>more</p></blockquote><p>after</p>",
            "> quoted\n>\n> more\n\nafter",
        ),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"),
        ("<pre>  keep\n    this</pre>", "  keep\n    this"),
        (
            "<style>p{}</style><script>x()</script><head><title>T</title></head><p>shown</p>",
            "shown",
        ),
        ("&amp; &lt;tag&gt; &eacute; &#128512;", "& <tag> é 😀"),
        ("<p>مرحبا <b>بكم</b></p>", "مرحبا بكم"),
        ("before<hr>after", "before\n\n---\n\nafter"),
        ("", ""),
        ("plain text, no tags", "plain text, no tags"),
        ('<img src="https://t.example/pixel.gif" width="1" height="1" alt="">', ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_a_typical_email_layout():
    html = """<html><head><style>.x{color:red}</style></head><body>
      <table width="100%"><tr><td>
        <h2>Hello Zoë,</h2>
        <p>Thanks for your call. Here is <a href="https://example.com/offer">your offer</a>.</p>
        <ul><li>Price: 100&nbsp;€</li><li>Valid until Friday</li></ul>
        <p>Best,<br>Ann</p>
      </td></tr></table></body></html>"""
    assert html_to_text(html) == (
        "Hello Zoë,\n\n"
        "Thanks for your call. Here is your offer (https://example.com/offer).\n\n"
        "- Price: 100\xa0€\n- Valid until Friday\n\n"
        "Best,\nAnn"
    )
