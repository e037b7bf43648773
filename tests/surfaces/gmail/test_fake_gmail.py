"""The fake Gmail API answers users.messages.get the way Gmail does, through the real client:
metadata (only the asked headers), full (MIME parts, bodies base64url, attachments by id), raw,
and the current-message access token a Gmail add-on must send."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from .conftest import MESSAGE_TOKEN, OAUTH_TOKEN, make_mime


def _get(gmail_api, message_id, token=MESSAGE_TOKEN, **kwargs):
    service = build("gmail", "v1", http=httplib2.Http(timeout=5), static_discovery=False,
                    discoveryServiceUrl=gmail_api.discovery_url, cache_discovery=False)  # fmt: skip
    request = service.users().messages().get(userId="me", id=message_id, **kwargs)
    request.headers["X-Goog-Gmail-Access-Token"] = token
    http = google_auth_httplib2.AuthorizedHttp(Credentials(OAUTH_TOKEN), http=httplib2.Http())
    return request.execute(http=http, num_retries=0)


def test_metadata_has_only_the_asked_headers(gmail_api):
    message_id = gmail_api.add_message(make_mime("a@x.example", ["b@y.example"], "Hello"))

    answer = _get(gmail_api, message_id, format="metadata", metadataHeaders=["From", "Subject"])

    assert answer["id"] == message_id and answer["labelIds"] == ["INBOX"]
    assert answer["payload"]["headers"] == [{"name": "From", "value": "a@x.example"},
                                            {"name": "Subject", "value": "Hello"}]  # fmt: skip
    assert "parts" not in answer["payload"] and "raw" not in answer


def test_full_has_the_mime_tree_with_base64url_bodies(gmail_api):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.example", "b@y.example", "Files"
    message.set_content("Plain body")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="offer.pdf")  # fmt: skip
    message_id = gmail_api.add_message(message.as_bytes())

    answer = _get(gmail_api, message_id, format="full")

    payload = answer["payload"]
    assert payload["partId"] == "" and payload["mimeType"] == "multipart/mixed"
    text, pdf = payload["parts"]
    assert (text["partId"], text["mimeType"]) == ("0", "text/plain")
    assert base64.urlsafe_b64decode(text["body"]["data"]).decode() == "Plain body\n"
    assert pdf["filename"] == "offer.pdf" and "attachmentId" in pdf["body"]
    assert "data" not in pdf["body"] and pdf["body"]["size"] == 8
    assert answer["snippet"] == "Plain body"


def test_raw_is_the_whole_message(gmail_api):
    mime = make_mime("a@x.example", ["b@y.example"], "Raw")
    message_id = gmail_api.add_message(mime)

    answer = _get(gmail_api, message_id, format="raw")

    assert base64.urlsafe_b64decode(answer["raw"]) == mime


def test_a_wrong_message_token_is_refused(gmail_api):
    message_id = gmail_api.add_message(make_mime("a@x.example", ["b@y.example"], "Secret"))

    with pytest.raises(HttpError) as refused:
        _get(gmail_api, message_id, token="other", format="metadata")

    assert refused.value.resp.status == 403
