"""Sanitized display of logged mail (LOG-10): nothing active survives, nothing remote is fetched."""

from __future__ import annotations

import pytest

from server.emails.sanitize import sanitize_html, show_html
from server.emails.service import log_email
from tests.factories import ApiClient, make_org, make_user

HOSTILE = [
    ("<script>alert(1)</script><p>ok</p>", "alert"),
    ('<img src="x.png" onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">x</a>', "javascript"),
    ('<a href="JaVaScRiPt&#58;alert(1)">x</a>', "alert"),
    ('<a href=" vbscript:msgbox(1)">x</a>', "vbscript"),
    ('<p style="width: expression(alert(1))">x</p>', "expression"),
    ('<p style="background: url(http://t.test/p.gif)">x</p>', "t.test"),
    ('<p style="color: red; behavior: url(x.htc)">x</p>', "htc"),
    ("<style>body { background: url(http://t.test/a) }</style><p>x</p>", "t.test"),
    ('<base href="http://evil.test/"><a href="a">x</a>', "evil.test"),
    ('<meta http-equiv="refresh" content="0;url=http://evil.test">', "evil.test"),
    ('<svg><script>alert(1)</script><image href="http://t.test/x"/></svg>', "t.test"),
    ('<svg onload="alert(1)"></svg>', "onload"),
    ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "onerror"),
    ('<form action="http://evil.test"><input name="pw"></form>', "evil.test"),
    ('<iframe src="http://evil.test"></iframe>', "evil.test"),
    ('<object data="http://evil.test/x.swf"></object><embed src="x.swf">', "swf"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
    ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', "svg"),
    ('<table background="http://t.test/bg.png"><tr><td>x</td></tr></table>', "t.test"),
    ('<img srcset="http://t.test/a.png 2x">', "t.test"),
    ('<link rel="stylesheet" href="http://t.test/s.css">', "t.test"),
    ('<div onclick="alert(1)" onmouseover="alert(2)">x</div>', "alert"),
    ("<!-- <script>alert(1)</script> -->", "alert"),
]


@pytest.mark.parametrize(("html", "forbidden"), HOSTILE)
def test_hostile_html_comes_out_inert(html, forbidden):
    """LOG-10: script, handlers, javascript: URLs, CSS expressions, base, meta refresh, SVG..."""
    clean, _ = sanitize_html(html)
    assert forbidden.lower() not in clean.lower(), clean
    shown = show_html(clean, images=True, cid_url=lambda cid: None)
    assert forbidden.lower() not in shown.lower(), shown


def test_links_open_safely_and_formatting_stays():
    clean, count = sanitize_html(
        '<p style="color: red">Hi <b>Bob</b></p><a href="https://acme.test/q" target="_self">q</a>'
        '<table><tr><td colspan="2">cell</td></tr></table><a href="mailto:bob@customer.test">m</a>'
    )
    assert '<p style="color:red">Hi <b>Bob</b></p>' in clean
    assert 'href="https://acme.test/q"' in clean and 'target="_blank"' in clean
    assert 'rel="noopener noreferrer"' in clean and "_self" not in clean
    assert '<td colspan="2">cell</td>' in clean and "mailto:bob@customer.test" in clean
    assert count == 0


def test_remote_images_are_held_back_until_asked():
    """LOG-10: no remote tracking of the viewer; asking restores the (sanitized) source."""
    clean, count = sanitize_html(
        '<img src="https://t.test/pixel.gif?u=1&amp;e=2" alt="a&gt;b" width="1">'
        '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    assert count == 1
    assert ' src="https://t.test' not in clean
    assert 'data-remote-src="https://t.test/pixel.gif?u=1&amp;e=2"' in clean
    hidden = show_html(clean, cid_url=lambda cid: f"/api/emails/1/attachments/{len(cid)}")
    assert ' src="https://' not in hidden and 'src="/api/emails/1/attachments/6"' in hidden
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in hidden
    shown = show_html(clean, images=True)
    assert 'src="https://t.test/pixel.gif?u=1&amp;e=2"' in shown and 'alt="a&gt;b"' in shown
    assert show_html(clean, cid_url=lambda cid: None).count("cid:") == 0


def test_the_api_shows_only_the_sanitized_html(app, client):
    """LOG-10: GET /api/emails/<id> answers the sanitized HTML; ?images=show restores images."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    html = (
        '<p onclick="steal()">Hello</p><script>steal()</script><img src="http://t.test/open.gif">'
    )
    structured = {
        "message_id": "<h1@acme.test>",
        "subject": "Hi",
        "text": "Hello",
        "html": html,
        "from": {"email": "alice@acme.test"},
        "to": [{"email": "bob@customer.test"}],
    }
    api = ApiClient(client, alice)
    logged = api.post("/api/emails/log", json={"email": structured})
    assert logged.status_code == 200, logged.json
    email = logged.json["email"]
    assert "steal" not in email["body_html"] and "<p>Hello</p>" in email["body_html"]
    assert email["remote_images"] == 1 and not email["images_shown"]
    assert ' src="http://t.test' not in email["body_html"]
    assert "body_html_raw" not in email
    shown = api.get(f"/api/emails/{email['id']}?images=show").json
    assert 'src="http://t.test/open.gif"' in shown["body_html"] and shown["images_shown"]
    assert "steal" not in shown["body_html"]
    assert api.get(f"/api/emails/{email['id']}?images=maybe").status_code == 422
    row = log_email(
        alice,
        structured=None,
        raw=b"From: alice@acme.test\r\nTo: b@customer.test\r\nSubject: t\r\n\r\ntext only\r\n",
    ).email
    assert row.body_html is None and row.remote_images == 0
