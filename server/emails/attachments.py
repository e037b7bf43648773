"""Attachments of logged emails (LOG-7): stored in the blob store, described on the email.

When an email is logged for the first time, each attachment part gets a `LoggedEmailAttachment`
row in the same transaction and, unless it is over the limit, a blob. The limit is the app config
`ATTACHMENT_MAX_BYTES`, else the environment's LIAISON_ATTACHMENT_MAX_BYTES, else 50 MiB; a part
over it is not stored (`skipped: "over 50 MB"`) and the email is still logged. Inline parts (inline
disposition or a Content-ID) already stored for the same thread, by content hash or Content-ID,
get no new blob: the row points at the first one (`duplicate_of_id`). The email's `attachments`
column keeps a summary of its rows, so a timeline shows them without another query.

Blobs are content-addressed and shared; one is deleted only when no row refers to it any more,
after the transaction that removed its last row commits (`forget_blobs`).
"""

from __future__ import annotations

import base64
import os
import re
import time
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..extensions import db
from .blobs import blob_store
from .models import LoggedEmail, LoggedEmailAttachment
from .parsing import ParsedEmail, part_bytes

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
EXPORT_CONTENT_MAX = 5 * 1024 * 1024
_SAFE_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_PENDING = "liaison_blobs_to_delete"


def max_bytes() -> int:
    """The largest attachment stored, in bytes."""
    configured = current_app.config.get("ATTACHMENT_MAX_BYTES")
    if configured is None:
        configured = os.environ.get("LIAISON_ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES
    return int(configured)


def _limit_text(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"over {mib:g} MB" if mib >= 1 else f"over {limit} bytes"


def _thread_inline(email: LoggedEmail) -> list[LoggedEmailAttachment]:
    return list(
        db.session.scalars(
            select(LoggedEmailAttachment)
            .join(LoggedEmail, LoggedEmail.id == LoggedEmailAttachment.email_id)
            .where(
                LoggedEmail.org_id == email.org_id,
                LoggedEmail.thread_key == email.thread_key,
                LoggedEmail.id != email.id,
                LoggedEmailAttachment.blob_key.is_not(None),
                LoggedEmailAttachment.duplicate_of_id.is_(None),
                (LoggedEmailAttachment.inline.is_(True))
                | LoggedEmailAttachment.content_id.is_not(None),
            )
            .order_by(LoggedEmailAttachment.id)
        )
    )


def summary(row: LoggedEmailAttachment) -> dict:
    """One attachment as the email's `attachments` list shows it."""
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "inline": row.inline,
        "content_id": row.content_id,
        "stored": row.blob_key is not None,
        "skipped": row.skipped,
        "duplicate_of_id": row.duplicate_of_id,
    }


def store_attachments(email: LoggedEmail, parsed: ParsedEmail) -> list[dict]:
    """Rows (and blobs) for the parsed attachments of a newly logged email; returns the summary."""
    if not parsed.attachments:
        return []
    limit, store = max_bytes(), blob_store()
    by_hash: dict[str, LoggedEmailAttachment] = {}
    by_cid: dict[str, LoggedEmailAttachment] = {}
    any_inline = any(m["inline"] or m["content_id"] for m in parsed.attachments)
    for earlier in _thread_inline(email) if any_inline else []:
        by_hash.setdefault(earlier.sha256 or "", earlier)
        if earlier.content_id:
            by_cid.setdefault(earlier.content_id, earlier)
    rows = []
    for position, (meta, part) in enumerate(zip(parsed.attachments, parsed.parts, strict=True)):
        row = LoggedEmailAttachment(
            org_id=email.org_id, email_id=email.id, position=position,
            filename=meta["filename"], content_type=meta["content_type"], size=meta["size"],
            sha256=meta.get("sha256"), inline=bool(meta["inline"]), content_id=meta["content_id"],
        )  # fmt: skip
        inline = row.inline or row.content_id is not None
        first = (
            (by_hash.get(row.sha256 or "") or by_cid.get(row.content_id or "")) if inline else None
        )
        if first is not None:
            row.blob_key, row.duplicate_of_id = first.blob_key, first.id
            row.sha256, row.size, row.content_type = first.sha256, first.size, first.content_type
        elif row.size > limit:
            row.skipped = _limit_text(limit)
        else:
            row.blob_key = store.put(part_bytes(part))
        db.session.add(row)
        db.session.flush()
        if inline and first is None and row.blob_key:
            by_hash.setdefault(row.sha256 or "", row)
            if row.content_id:
                by_cid.setdefault(row.content_id, row)
        rows.append(row)
    return [summary(row) for row in rows]


def get_attachment(email: LoggedEmail, attachment_id: int) -> LoggedEmailAttachment:
    """The email's attachment with this id; 404 otherwise."""
    row = db.session.scalar(
        select(LoggedEmailAttachment).where(
            LoggedEmailAttachment.id == attachment_id,
            LoggedEmailAttachment.email_id == email.id,
            LoggedEmailAttachment.org_id == email.org_id,
        )
    )
    if row is None:
        raise NotFound(f"No attachment {attachment_id} on email {email.id}.", field="attachment_id")
    return row


def open_attachment(row: LoggedEmailAttachment):
    """A binary file object of the attachment's content; 404 when it was not stored."""
    if row.blob_key is None:
        raise NotFound(f"{row.filename or 'This attachment'} was not stored ({row.skipped}).",
                       field="attachment_id")  # fmt: skip
    try:
        return blob_store().open(row.blob_key)
    except FileNotFoundError:
        raise NotFound("The attachment's content is no longer stored.") from None


def safe_content_type(value: str | None) -> str:
    """The declared type when it is a plain type/subtype, else application/octet-stream."""
    value = (value or "").strip().lower()
    return value if _SAFE_TYPE.match(value) else "application/octet-stream"


# --- deleting rows and their blobs ---------------------------------------------------------------


def forget_blobs(keys: set[str]) -> int:
    """After the current transaction commits, delete those blobs no row refers to any more (the
    rows being removed must already be flushed). Returns how many will be deleted."""
    if not keys:
        return 0
    still = set(
        db.session.scalars(
            select(LoggedEmailAttachment.blob_key)
            .where(LoggedEmailAttachment.blob_key.in_(keys))
            .group_by(LoggedEmailAttachment.blob_key)
            .having(func.count() > 0)
        )
    )
    unused = set(keys) - still
    db.session.info.setdefault(_PENDING, set()).update(unused)
    return len(unused)


@event.listens_for(Session, "after_commit", propagate=True)
def _delete_forgotten(session) -> None:
    keys = session.info.pop(_PENDING, None)
    if keys and has_app_context():
        store = blob_store()
        for key in keys:
            store.delete(key)


@event.listens_for(Session, "after_rollback", propagate=True)
def _keep_on_rollback(session) -> None:
    session.info.pop(_PENDING, None)


def delete_attachments_of(email_ids: set[int]) -> dict:
    """Delete the attachment rows of these emails (caller's transaction); their blobs go after
    commit when nothing else refers to them."""
    if not email_ids:
        return {"attachments": 0, "blobs": 0}
    rows = list(
        db.session.scalars(
            select(LoggedEmailAttachment).where(LoggedEmailAttachment.email_id.in_(email_ids))
        )
    )
    keys = {row.blob_key for row in rows if row.blob_key}
    for row in sorted(rows, key=lambda r: r.duplicate_of_id is None):  # duplicates first
        db.session.delete(row)
    db.session.flush()
    return {"attachments": len(rows), "blobs": forget_blobs(keys)}


def sweep_orphan_blobs(older_than_seconds: int = 3600) -> int:
    """Delete filesystem blobs (and abandoned temporary files) older than the given age that no
    row refers to: left by a logging transaction that failed after storing its files, or by an
    organization deleted whole. Returns how many files were removed."""
    store = blob_store()
    root = getattr(store, "root", None)
    if root is None or not root.exists():
        return 0
    cutoff = time.time() - older_than_seconds
    old = [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    temps = [p for p in old if p.name.startswith(".incoming-")]
    blobs = {p.name: p for p in old if not p.name.startswith(".")}
    used: set[str] = set()
    names = sorted(blobs)
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        used |= set(db.session.scalars(
            select(LoggedEmailAttachment.blob_key).where(LoggedEmailAttachment.blob_key.in_(batch))
        ))  # fmt: skip
    removed = 0
    for path in temps + [blobs[k] for k in names if k not in used]:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


# --- the data subject part (GDPR-8) --------------------------------------------------------------


def export_for_contact(org_id: int, contact: Any) -> list[dict]:
    """Attachments of the logged emails the contact is in, content base64 up to 5 MB each."""
    from ..consent.data_subject_parts import involved_emails

    ids = [e.id for e in involved_emails(org_id, contact)]
    if not ids:
        return []
    rows = db.session.scalars(
        select(LoggedEmailAttachment)
        .where(LoggedEmailAttachment.org_id == org_id, LoggedEmailAttachment.email_id.in_(ids))
        .order_by(LoggedEmailAttachment.email_id, LoggedEmailAttachment.position)
    )
    found = []
    for row in rows:
        item = {"email_id": row.email_id, **summary(row), "content_base64": None}
        if row.blob_key and row.size <= EXPORT_CONTENT_MAX:
            try:
                with blob_store().open(row.blob_key) as handle:
                    item["content_base64"] = base64.b64encode(handle.read()).decode()
            except FileNotFoundError:
                item["content_base64"] = None
        found.append(item)
    return found


def erase_for_contact(org_id: int, contact: Any) -> dict:
    """Delete the attachments (rows, then unused blobs after commit) of the emails erasure
    deletes; emails that stay for their other parties keep theirs."""
    from ..consent.data_subject import erasable_email_ids

    return delete_attachments_of(erasable_email_ids(org_id, contact))


def register_data_subject_part() -> bool:
    """Register the `attachments` part with the consent registry, when it exists."""
    try:
        from ..consent.data_subject import register_data_subject_part as register
    except ImportError:
        return False
    register("attachments", export_for_contact, erase_for_contact, order=50)
    return True


register_data_subject_part()
