"""A forward from the CRM carries the original's stored files (LOG-9, LOG-7): delivery reads
them from the blob store when it builds the message, and fails the row when one is gone."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from server.emails.blobs import blob_store
from server.emails.service import log_email
from server.extensions import db
from server.mail.delivery import Delivery
from server.mail.models import OutboxMessage
from tests.emails.test_send_reply import world
from tests.factories import ApiClient

PDF = b"%PDF-1.4 the quote\n" * 50


def _forward(app, client) -> OutboxMessage:
    _org, alice, *_ = world()
    parent = log_email(alice, direction="in", structured={
        "message_id": "<files@x.test>", "subject": "Quote",
        "from": {"email": "bob@customer.test", "name": "Bob"},
        "to": [{"email": "alice@acme.test", "name": ""}], "text": "See attached.",
        "attachments": [{"filename": "quote.pdf", "content_type": "application/pdf",
                         "content": PDF}],
    }).email  # fmt: skip
    forward = {"mode": "forward", "to": ["dana@partner.test"], "text": "FYI"}
    response = ApiClient(client, alice).post(f"/api/emails/{parent.id}/reply", json=forward)
    assert response.status_code == 202, response.json
    return db.session.scalars(select(OutboxMessage)).one()


def test_forward_is_built_with_the_original_attachment(app, client):
    row = _forward(app, client)
    with Delivery() as delivery:
        message = email.message_from_bytes(delivery.compose(row), policy=default_policy)
    assert message["Subject"] == "Fwd: Quote"
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "quote.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == PDF


def test_forward_whose_file_is_gone_fails_with_the_reason(app, client):
    row = _forward(app, client)
    blob_store().delete(row.content["attachments"][0]["blob_key"])
    with Delivery() as delivery, pytest.raises(ValueError, match="'quote.pdf' is no longer stored"):
        delivery.compose(row)
