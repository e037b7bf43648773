"""Request and response schemas of the email logging API (LOG-1, LOG-4)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Email, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf

from ..fields import Id
from .models import DIRECTIONS, PRIVACY_LEVELS, SOURCES

RECORD_TYPES = ("contact", "company", "deal", "ticket", "custom")


class EmailRecordRef(Schema):
    type = String(required=True, validate=OneOf(RECORD_TYPES))
    id = Id(required=True)


class EmailParty(Schema):
    email = Email(required=True)
    name = String(load_default="", validate=Length(max=300))


class StructuredAttachment(Schema):
    filename = String(load_default="", validate=Length(max=500))
    content_type = String(load_default="application/octet-stream", validate=Length(max=255))
    content = String(required=True, metadata={"description": "the file, base64-encoded"})
    inline = Boolean(load_default=False)
    content_id = String(allow_none=True, validate=Length(max=998))


class StructuredEmail(Schema):
    """An email given field by field (the add-ins send this at send time)."""

    message_id = String(allow_none=True, validate=Length(max=998))
    subject = String(load_default="", validate=Length(max=10000))
    from_ = Nested(EmailParty, required=True, data_key="from")
    to = List(Nested(EmailParty), load_default=list)
    cc = List(Nested(EmailParty), load_default=list)
    bcc = List(Nested(EmailParty), load_default=list)
    sent_at = DateTime(allow_none=True)
    in_reply_to = String(allow_none=True, validate=Length(max=998))
    references = List(String(validate=Length(max=998)), load_default=list)
    html = String(allow_none=True)
    text = String(allow_none=True)
    attachments = List(Nested(StructuredAttachment), load_default=list, validate=Length(max=100))


class EmailLogIn(Schema):
    raw = String(metadata={"description": "the RFC 5322 message, base64-encoded"})
    email = Nested(StructuredEmail, metadata={"description": "or the email field by field"})
    source = String(load_default="api", validate=OneOf(SOURCES))
    direction = String(allow_none=True, validate=OneOf(DIRECTIONS))
    provider_thread_id = String(
        allow_none=True,
        validate=Length(max=255),
        metadata={"description": "the mail provider's conversation id (Gmail threadId, Outlook "
                  "conversationId): groups the thread whatever order its messages arrive in"},
    )  # fmt: skip
    associations = List(
        Nested(EmailRecordRef),
        allow_none=True,
        metadata={"description": "exactly these records; absent or null: the default ticks"},
    )
    create_contacts = Boolean(
        allow_none=True, metadata={"description": "false: create no contact for unknown parties"}
    )
    new_contacts = List(
        String(validate=Length(max=320)),
        allow_none=True,
        metadata={"description": "only these unknown addresses become contacts"},
    )
    privacy = String(
        allow_none=True,
        validate=OneOf(PRIVACY_LEVELS),
        metadata={"description": "full, subject or metadata; never below the org minimum"},
    )
    intent = String(
        allow_none=True,
        validate=Length(max=2000),
        metadata={"description": "a send intent's X-Liaison-Intent header value"},
    )


class EmailAssociationOut(Schema):
    type = String()
    id = Integer()
    source = String()
    added_by_id = Integer(allow_none=True)
    created_at = DateTime()


class EmailAttachmentOut(Schema):
    id = Integer()
    filename = String()
    content_type = String()
    size = Integer()
    inline = Boolean()
    content_id = String(allow_none=True)
    stored = Boolean()
    skipped = String(allow_none=True, metadata={"description": "why not stored, e.g. over 50 MB"})
    duplicate_of_id = Integer(allow_none=True)
    download_url = String(allow_none=True)


class LoggedEmailOut(Schema):
    """An email as the caller may see it (privacy applied, sanitized HTML only)."""

    id = Integer()
    message_key = String()
    message_id = String(allow_none=True)
    thread_key = String()
    in_reply_to = String(allow_none=True)
    subject = String(allow_none=True, metadata={"description": "null at privacy metadata"})
    from_ = Nested(EmailParty, data_key="from", attribute="from")
    to = List(Nested(EmailParty))
    cc = List(Nested(EmailParty))
    sent_at = DateTime(allow_none=True)
    direction = String()
    source = String()
    logged_by_id = Integer(allow_none=True)
    created_at = DateTime()
    pinned_at = DateTime(allow_none=True)
    deleted_at = DateTime(allow_none=True)
    privacy = String(metadata={"enum": list(PRIVACY_LEVELS)})
    visible = String(metadata={"description": "what you see: full, subject or metadata"})
    restricted = Boolean()
    body_html = String(allow_none=True, metadata={"description": "sanitized (LOG-10)"})
    body_text = String(allow_none=True)
    remote_images = Integer(metadata={"description": "remote images held back (?images=show)"})
    images_shown = Boolean()
    attachment_count = Integer()
    attachments = List(Nested(EmailAttachmentOut))
    attachments_left_out = List(String())
    associations = List(Nested(EmailAssociationOut))


class LoggedEmailInResult(LoggedEmailOut):
    """The logged email inside a log result (its own schema name in the OpenAPI document)."""


class EmailLogOut(Schema):
    status = String(metadata={"description": "logged, already_logged or not_logged"})
    reason = String(allow_none=True)
    email = Nested(LoggedEmailInResult, allow_none=True)
    created_contact_ids = List(Integer())
    never_logged = List(String())


class EmailPreviewIn(Schema):
    addresses = List(String(validate=Length(max=320)), required=True, validate=Length(max=500))
    direction = String(load_default="out", validate=OneOf(DIRECTIONS))


class EmailCandidateOut(Schema):
    type = String()
    id = Integer()
    name = String()
    checked = Boolean()
    addresses = List(String())


class EmailNewContactOut(Schema):
    email = String()
    name = String()
    checked = Boolean()


class EmailPreviewOut(Schema):
    direction = String()
    records = List(Nested(EmailCandidateOut))
    new_contacts = List(Nested(EmailNewContactOut))
    never_logged = List(String())
    not_logged_reason = String(allow_none=True)


class EmailAssociationsPatch(Schema):
    add = List(Nested(EmailRecordRef), load_default=list)
    remove = List(Nested(EmailRecordRef), load_default=list)


class EmailViewQuery(Schema):
    images = String(
        load_default="hide",
        validate=OneOf(("hide", "show")),
        metadata={"description": "show: put remote images back (still sanitized)"},
    )


class EmailIntentIn(Schema):
    associations = List(Nested(EmailRecordRef), allow_none=True, validate=Length(max=500))
    create_contacts = Raw(
        allow_none=True,
        metadata={"description": "true, false, or the list of unknown addresses to create",
                  "oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]},
    )  # fmt: skip
    privacy = String(allow_none=True, validate=OneOf(PRIVACY_LEVELS))
    track = Boolean(allow_none=True)


class EmailIntentHeader(Schema):
    name = String()
    value = String()


class EmailIntentOut(Schema):
    intent_id = Integer()
    header = Nested(EmailIntentHeader)
    associations = List(Nested(EmailRecordRef), allow_none=True)
    create_contacts = Raw(allow_none=True)
    privacy = String(allow_none=True)
    track = Boolean(allow_none=True)
