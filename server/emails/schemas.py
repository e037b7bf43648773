"""Request and response schemas of the email logging API (LOG-1, LOG-4)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Email, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from ..fields import Id
from .models import DIRECTIONS, SOURCES

RECORD_TYPES = ("contact", "company", "deal", "ticket", "custom")


class EmailRecordRef(Schema):
    type = String(required=True, validate=OneOf(RECORD_TYPES))
    id = Id(required=True)


class EmailParty(Schema):
    email = Email(required=True)
    name = String(load_default="", validate=Length(max=300))


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


class EmailLogIn(Schema):
    raw = String(metadata={"description": "the RFC 5322 message, base64-encoded"})
    email = Nested(StructuredEmail, metadata={"description": "or the email field by field"})
    source = String(load_default="api", validate=OneOf(SOURCES))
    direction = String(allow_none=True, validate=OneOf(DIRECTIONS))
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


class EmailAssociationOut(Schema):
    type = String()
    id = Integer()
    source = String()
    added_by_id = Integer(allow_none=True)
    created_at = DateTime()


class LoggedEmailOut(Schema):
    id = Integer()
    message_key = String()
    message_id = String(allow_none=True)
    thread_key = String()
    subject = String()
    from_address = Nested(EmailParty, data_key="from")
    to_addresses = List(Nested(EmailParty), data_key="to")
    cc_addresses = List(Nested(EmailParty), data_key="cc")
    sent_at = DateTime(allow_none=True)
    direction = String()
    source = String()
    logged_by_id = Integer(allow_none=True)
    body_html_raw = String(allow_none=True)
    body_text = String(allow_none=True)
    attachments = List(Nested(Schema.from_dict({
        "filename": String(), "content_type": String(), "size": Integer(),
        "inline": Boolean(), "content_id": String(allow_none=True),
    }, name="AttachmentInfo")))  # fmt: skip
    created_at = DateTime()
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
