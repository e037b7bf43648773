"""The blob store (LOG-7) and the attachments part of data subject rights (GDPR-8)."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import func, select

from server.consent import data_subject
from server.emails.attachments import delete_attachments_of
from server.emails.blobs import FilesystemBlobStore, blob_store
from server.emails.models import LoggedEmail, LoggedEmailAttachment
from server.emails.service import log_email
from server.extensions import db
from tests.emails.conftest import sample
from tests.factories import make_contact, make_org, make_user


class CountingStream(io.BytesIO):
    """A stream that records the largest read, to show put() never reads it whole."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.largest = max(self.largest, len(chunk))
        return chunk


def test_put_is_content_addressed_atomic_and_streamed(tmp_path):
    store = FilesystemBlobStore(tmp_path / "blobs")
    data = b"x" * (3 * 1024 * 1024 + 5)
    stream = CountingStream(data)
    key = store.put(stream)
    assert key == hashlib.sha256(data).hexdigest()
    assert stream.largest <= 1024 * 1024
    assert store.exists(key) and store.size(key) == len(data)
    assert store.put(data) == key  # same content, same key, no second file
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [key]  # no temporary file left behind
    with store.open(key) as handle:
        assert handle.read() == data
    assert store.delete(key) and not store.exists(key) and not store.delete(key)


def test_keys_that_are_not_sha256_never_reach_the_filesystem(tmp_path):
    store = FilesystemBlobStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "abc", ""):
        with pytest.raises(ValueError):
            store.open(bad)
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)


def test_the_default_store_lives_in_the_instance_folder(app):
    assert str(blob_store().root).startswith(app.instance_path)


def test_erasing_a_contact_removes_its_emails_attachments_and_unused_blobs(app):
    """GDPR-8: the attachments part deletes the rows of the emails erasure deletes; a blob still
    used by an email that stays (another party in it) is kept."""
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    bob = make_contact(org, "bob@customer.test")
    only_bob = log_email(alice, raw=sample("mixed_attachments.eml")).email
    shared = (
        sample("mixed_attachments.eml")
        .replace(b"To: Bob Buyer <bob@customer.test>", b"To: bob@customer.test, dan@other.test")
        .replace(b"Message-ID: <", b"Message-ID: <shared-")
    )
    stays = log_email(alice, raw=shared).email
    tnef = log_email(alice, raw=sample("winmail_dat.eml")).email
    tnef_key = db.session.scalars(
        select(LoggedEmailAttachment.blob_key).where(LoggedEmailAttachment.email_id == tnef.id)
    ).one()
    exported = data_subject.export_contact(org.id, bob.id, alice.id, "api")["parts"]
    files = exported["attachments"]
    assert {f["email_id"] for f in files} == {only_bob.id, stays.id}
    assert files[0]["filename"] == "quote.pdf" and files[0]["content_base64"].startswith("JVBER")
    keys = {r.blob_key for r in db.session.scalars(select(LoggedEmailAttachment))}
    counts = data_subject.erase_contact(org.id, bob.id, None, "cli", "bob@customer.test")
    assert counts["attachments"] == {"attachments": 2, "blobs": 0}  # the shared email keeps them
    assert db.session.get(LoggedEmail, only_bob.id) is None
    assert all(blob_store().exists(k) for k in keys)
    removed = delete_attachments_of({stays.id, tnef.id})
    assert removed["attachments"] == 3
    db.session.rollback()  # nothing is deleted from disk when the transaction does not commit
    assert all(blob_store().exists(k) for k in keys)
    removed = delete_attachments_of({stays.id, tnef.id})
    db.session.commit()
    assert removed == {"attachments": 3, "blobs": 3}
    assert not any(blob_store().exists(k) for k in keys | {tnef_key})
    assert db.session.scalar(select(func.count()).select_from(LoggedEmailAttachment)) == 0


def test_sweep_removes_old_unreferenced_blobs_only(app):
    """LOG-7: a blob left by a failed logging transaction is swept; used and recent ones stay."""
    import os
    import time

    from server.emails.attachments import sweep_orphan_blobs

    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test")
    log_email(alice, raw=sample("winmail_dat.eml"))
    used = db.session.scalars(select(LoggedEmailAttachment.blob_key)).one()
    store = blob_store()
    orphan, recent = store.put(b"left behind"), store.put(b"just written")
    temp = store.root / ".incoming-abandoned"
    temp.write_bytes(b"partial")
    old = time.time() - 7200
    for key in (used, orphan):
        os.utime(store.root / key[:2] / key[2:4] / key, (old, old))
    os.utime(temp, (old, old))
    assert sweep_orphan_blobs(older_than_seconds=3600) == 2
    assert store.exists(used) and store.exists(recent) and not store.exists(orphan)
    assert not temp.exists()
