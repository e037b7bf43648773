"""Attachments of logged emails (LOG-7): stored once, over the limit left out, downloaded safely."""

from __future__ import annotations

import base64
import hashlib
from email.message import EmailMessage

from sqlalchemy import func, select

from server.emails.blobs import blob_store
from server.emails.models import LoggedEmail, LoggedEmailAttachment
from server.emails.service import email_view, log_email
from server.extensions import db
from tests.emails.conftest import b64, sample
from tests.factories import ApiClient, make_org, make_user

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def rows() -> list[LoggedEmailAttachment]:
    return list(db.session.scalars(select(LoggedEmailAttachment).order_by("id")))


def reply_quoting_logo(message_id: str, logo: bytes = PNG, cid: str = "logo@x") -> bytes:
    """A later message of the nested_alternative.eml thread that quotes the same inline logo."""
    msg = EmailMessage()
    msg["From"], msg["To"] = "alice@acme.test", "bob@customer.test"
    msg["Subject"], msg["Message-ID"] = "Re: Re: Quote attached", f"<{message_id}>"
    msg["In-Reply-To"] = "<reply-1@customer.test>"
    msg["References"] = "<quote-1@acme.test> <reply-1@customer.test>"
    msg.set_content("Thanks.")
    msg.add_alternative(
        f'<p>Thanks.</p><blockquote><img src="cid:{cid}"></blockquote>', subtype="html"
    )
    msg.get_payload()[1].add_related(logo, "image", "png", cid=f"<{cid}>", disposition="inline")
    return msg.as_bytes()


def test_attachments_are_stored_with_their_metadata_and_download(app, client):
    """LOG-7: each part is a row with name, type, size, sha256 and a blob; the file downloads as
    an attachment with nosniff, never inline."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    api = ApiClient(client, alice)
    logged = api.post("/api/emails/log", json={"raw": b64(sample("mixed_attachments.eml"))})
    assert logged.status_code == 200, logged.json
    email = logged.json["email"]
    assert [(a["filename"], a["content_type"], a["stored"]) for a in email["attachments"]] == [
        ("quote.pdf", "application/pdf", True),
        ("lines.csv", "text/csv", True),
    ]
    assert email["attachment_count"] == 2 and email["attachments_left_out"] == []
    pdf = email["attachments"][0]
    got = api.get(pdf["download_url"])
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"] == 'attachment; filename="quote.pdf"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert len(got.data) == pdf["size"] and got.data.startswith(b"%PDF")
    stored = rows()[0]
    assert stored.sha256 == hashlib.sha256(got.data).hexdigest() == stored.blob_key
    assert blob_store().exists(stored.blob_key)


def test_html_attachments_download_as_octet_safe_files(app, client):
    """LOG-7: an HTML file from mail is served as a download with a sandboxing CSP."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "bob@customer.test", "page"
    msg.set_content("see file")
    msg.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename='evil"; x.html'
    )
    msg.add_attachment(b"x", maintype="application", subtype="x<bad>", filename="odd.bin")
    email = log_email(alice, raw=msg.as_bytes()).email
    api = ApiClient(client, alice)
    page, odd = email_view(email, alice)["attachments"]
    got = api.get(page["download_url"])
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert api.get(odd["download_url"]).headers["Content-Type"] == "application/octet-stream"


def test_winmail_dat_and_calendar_parts_are_stored_as_attachments(app):
    """LOG-7: winmail.dat (TNEF) is kept as a file, not unpacked; an invite's .ics likewise."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    tnef = log_email(alice, raw=sample("winmail_dat.eml")).email
    assert [(a["filename"], a["stored"]) for a in tnef.attachments] == [("winmail.dat", True)]
    row = rows()[0]
    with blob_store().open(row.blob_key) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == row.sha256
    invite = log_email(alice, raw=sample("calendar_invite.eml")).email
    assert invite.attachments[0]["content_type"] == "text/calendar"
    assert invite.attachments[0]["stored"]


def test_identical_files_make_one_blob(app):
    """LOG-7: content addressing; the same PDF on two emails is one blob, two rows."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    first = sample("mixed_attachments.eml")
    second = first.replace(b"Message-ID: <", b"Message-ID: <again-")
    log_email(alice, raw=first)
    log_email(alice, raw=second)
    assert count(LoggedEmail) == 2 and count(LoggedEmailAttachment) == 4
    assert len({r.blob_key for r in rows()}) == 2


def test_inline_images_are_stored_once_per_thread(app):
    """LOG-7: a later message quoting the same inline image (same hash, or same cid with other
    bytes) adds no blob: its row points at the first one."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    first = log_email(alice, raw=sample("nested_alternative.eml"), direction="in").email
    original = rows()[0]
    assert original.content_id == "logo@x" and original.inline and original.blob_key
    blobs_before = sorted(p.name for p in blob_store().root.rglob("*") if p.is_file())
    same = log_email(alice, raw=reply_quoting_logo("r2@acme.test")).email
    recoded = log_email(alice, raw=reply_quoting_logo("r3@acme.test", logo=PNG + b"\0")).email
    assert sorted(p.name for p in blob_store().root.rglob("*") if p.is_file()) == blobs_before
    for email in (same, recoded):
        (item,) = email.attachments
        assert item["duplicate_of_id"] == original.id and item["sha256"] == original.sha256
        view = email_view(email, alice)
        assert f'src="/api/emails/{email.id}/attachments/{item["id"]}"' in view["body_html"]
    assert first.thread_key == same.thread_key == recoded.thread_key
    other_thread = (
        reply_quoting_logo("r4@acme.test")
        .replace(b"quote-1@", b"other-1@")
        .replace(b"reply-1@", b"other-2@")  # names no logged message: another thread (LOG-8)
    )
    log_email(alice, raw=other_thread)
    assert rows()[-1].duplicate_of_id is None  # another thread: its own row (same blob by hash)


def test_an_attachment_over_the_limit_is_left_out_and_the_email_still_logged(app, client):
    """LOG-7: over ATTACHMENT_MAX_BYTES nothing is stored, the list says what was left out."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    try:
        result = log_email(alice, raw=sample("mixed_attachments.eml"))
    finally:
        app.config.pop("ATTACHMENT_MAX_BYTES")
    view = email_view(result.email, alice)
    assert result.status == "logged"
    pdf, csv = view["attachments"]
    assert (pdf["stored"], pdf["skipped"], pdf["download_url"]) == (False, "over 1000 bytes", None)
    assert csv["stored"] and view["attachments_left_out"] == ["quote.pdf: over 1000 bytes"]
    row = rows()[0]
    assert row.blob_key is None and row.size == 9 + 256 * 4 and row.sha256
    got = ApiClient(client, alice).get(f"/api/emails/{result.email.id}/attachments/{row.id}")
    assert got.status_code == 404 and "not stored" in got.json["error"]["message"]


def _write_big_message(path, attachment_bytes: int) -> None:
    """A message with one `attachment_bytes` file and a small one, streamed to `path`."""
    boundary = "big-boundary"
    chunk = bytes(range(256)) * 3 * 1024  # 786,432 bytes: a multiple of 3, so base64 joins cleanly
    with open(path, "wb") as out:
        out.write(
            b"From: alice@acme.test\r\nTo: bob@customer.test\r\nSubject: Big files\r\n"
            b"Message-ID: <big-1@acme.test>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="' + boundary.encode() + b'"\r\n\r\n'
            b"--" + boundary.encode() + b"\r\nContent-Type: text/plain\r\n\r\nThe video.\r\n"
            b"--" + boundary.encode() + b"\r\nContent-Type: video/mp4\r\n"
            b'Content-Disposition: attachment; filename="demo.mp4"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
        )
        left = attachment_bytes
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            left -= len(piece)
            encoded = base64.encodebytes(piece).replace(b"\n", b"\r\n")
            out.write(encoded)
        out.write(
            b"--" + boundary.encode() + b"\r\nContent-Type: text/plain\r\n"
            b'Content-Disposition: attachment; filename="notes.txt"\r\n\r\nsmall\r\n'
            b"--" + boundary.encode() + b"--\r\n"
        )


def test_a_message_over_50_mb_of_attachments_is_logged_without_the_big_file(app, tmp_path):
    """LOG-7 corpus: a 51 MiB attachment (generated, streamed from a file) is not stored; the
    email and its small attachment are."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    path = tmp_path / "big.eml"
    _write_big_message(path, 51 * 1024 * 1024)
    assert path.stat().st_size > 51 * 1024 * 1024
    with open(path, "rb") as handle:
        result = log_email(alice, raw=handle)
    assert result.status == "logged"
    big, small = result.email.attachments
    assert (big["filename"], big["size"], big["stored"]) == ("demo.mp4", 51 * 1024 * 1024, False)
    assert big["skipped"] == "over 50 MB" and small["stored"]
    assert email_view(result.email, alice)["attachments_left_out"] == ["demo.mp4: over 50 MB"]
    assert [r.blob_key is not None for r in rows()] == [False, True]


def test_attachments_given_field_by_field_and_a_later_bcc_copy(app, client):
    """LOG-7: an add-in's structured log may carry attachments; when it carried none, the BCC
    copy of the same message adds them to the one row."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    api = ApiClient(client, alice)
    structured = {
        "message_id": "<quote-1@acme.test>",
        "subject": "Quote attached",
        "from": {"email": "alice@acme.test"},
        "to": [{"email": "bob@customer.test"}],
        "text": "Hello",
    }
    logged = api.post("/api/emails/log", json={"email": structured, "source": "outlook"})
    assert logged.json["email"]["attachments"] == []
    again = api.post("/api/emails/log", json={"raw": b64(sample("mixed_attachments.eml"))})
    assert again.json["status"] == "already_logged"
    assert [a["filename"] for a in again.json["email"]["attachments"]] == ["quote.pdf", "lines.csv"]
    with_file = {
        **structured,
        "message_id": "<s2@acme.test>",
        "attachments": [
            {"filename": "a.txt", "content_type": "text/plain", "content": b64(b"hello")}
        ],
    }
    third = api.post("/api/emails/log", json={"email": with_file, "source": "outlook"})
    (item,) = third.json["email"]["attachments"]
    assert (item["filename"], item["size"], item["stored"]) == ("a.txt", 5, True)
    assert api.get(item["download_url"]).data == b"hello"
    bad = api.post(
        "/api/emails/log",
        json={"email": {**with_file, "attachments": [{"filename": "x", "content": "not base64!"}]}},
    )
    assert bad.status_code == 422
    assert bad.json["error"]["field"] == "email.attachments.0.content"


def test_downloads_are_authorized_per_org_and_privacy(app, client):
    """LOG-7: another org's attachment is 404; at a privacy level below full only the sender
    downloads; another email's attachment id is 404."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    colleague = make_user(org, email="carol@acme.test")
    admin = make_user(org, role="super_admin", email="boss@acme.test")
    private = log_email(alice, raw=sample("mixed_attachments.eml"), privacy="subject").email
    other = log_email(alice, raw=sample("winmail_dat.eml")).email
    item = private.attachments[0]
    url = f"/api/emails/{private.id}/attachments/{item['id']}"
    assert ApiClient(client, alice).get(url).status_code == 200
    for viewer in (colleague, admin):
        got = ApiClient(client, viewer).get(url)
        assert got.status_code == 404 and "privacy level 'subject'" in got.json["error"]["message"]
        assert email_view(private, viewer)["attachments"] == []
    stranger = make_user(make_org(name="Other"), email="alice@other.test")
    assert ApiClient(client, stranger).get(url).status_code == 404
    cross = f"/api/emails/{other.id}/attachments/{item['id']}"
    assert ApiClient(client, alice).get(cross).status_code == 404
