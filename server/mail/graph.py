"""Microsoft Graph transport: POST /v1.0/users/{mailbox}/sendMail as the user, with requests.

The message goes as MIME (the body is the base64 of the RFC 5322 bytes, Content-Type text/plain),
not as a Graph JSON message: it is the exact message our builder made — our Message-ID (threads
and bounce matching rely on it), List-Unsubscribe / List-Unsubscribe-Post, inline images with
their Content-IDs, the text and HTML alternatives — which the JSON form cannot all carry (it only
takes custom headers named X-..., and rebuilds the MIME itself). Graph reads the recipients from
the To/Cc/Bcc headers and saves a copy in Sent Items.

Answers: 202 accepted (provider id: Graph's request-id); 429, 500, 502, 503, 504 temporary with
Retry-After; 401 temporary (the token provider renews the token on the next try, or raises
MailboxNeedsReconnect, which is permanent); other 4xx permanent with Graph's error code and
message; network errors temporary.

Graph refuses requests over 4 MB, so a larger message goes in steps (its attachments apart): a
draft is created from the MIME without its attachments (POST /users/{id}/messages, base64 MIME,
our headers kept), each attachment is added — under 3 MB with one POST .../attachments
(fileAttachment), larger through an upload session (POST .../attachments/createUploadSession,
then PUT byte ranges of at most 4 MB to the returned uploadUrl with Content-Range and no
Authorization header: the URL carries its own token) — and the draft is sent (POST
.../messages/{id}/send, 202). A step that fails deletes the draft (best effort) and maps like a
sendMail answer. Exchange's own message size limit (35 MB by default) still applies.
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import quote

import requests

from .transport import (
    Accepted,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    credential_failure,
    parse_retry_after,
)

GRAPH_BASE = "https://graph.microsoft.com"
RETRYABLE = frozenset({401, 429, 500, 502, 503, 504})
SIMPLE_LIMIT = 3_500_000  # base64 MIME bytes sent with one sendMail (Graph's limit: 4 MB)
ATTACHMENT_POST_LIMIT = 3 * 1024 * 1024  # attachments from this size use an upload session
UPLOAD_CHUNK = 320 * 1024 * 10  # bytes per PUT: a multiple of 320 KiB, under 4 MB


class _Failed(Exception):
    """A step of a large send failed; carries the mapped result."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result)
        self.result = result


def _graph_error(response: requests.Response) -> str:
    """'status code: message' from a Graph error body (or the raw text)."""
    try:
        error = response.json().get("error", {})
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        detail = response.text[:200]
    return f"Graph {response.status_code} {detail}".strip()


class GraphTransport:
    """Sends as a Microsoft 365 user; `token_provider(mailbox)` returns a Graph access token."""

    def __init__(
        self,
        token_provider: Callable[[str], str],
        *,
        base_url: str = GRAPH_BASE,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.token_provider = token_provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def send(
        self,
        envelope_from: str,
        recipients: list[str],
        message: bytes,
        *,
        mailbox: str | None = None,
    ) -> SendResult:
        """sendMail with the MIME message; `mailbox` (default: envelope_from) is the user."""
        user = mailbox or envelope_from
        try:
            token = self.token_provider(user)
        except Exception as exc:  # the provider's own errors say permanent or not
            return credential_failure(exc, f"no Graph token for {user}")
        body = base64.b64encode(message)
        if len(body) > SIMPLE_LIMIT:
            return self._send_large(user, token, message)
        url = f"{self._user_url(user)}/sendMail"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            return TemporaryFailure(f"Graph unreachable: {exc!r}")
        if 200 <= response.status_code < 300:
            return Accepted(response.headers.get("request-id"))
        return _failure(response)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.session.close()

    # --- messages over 4 MB: draft, attachments, send ------------------------------------------

    def _user_url(self, user: str) -> str:
        return f"{self.base_url}/v1.0/users/{quote(user, safe='@')}"

    def _call(self, method: str, url: str, expect: tuple[int, ...], **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise _Failed(TemporaryFailure(f"Graph unreachable: {exc!r}")) from exc
        if response.status_code not in expect:
            raise _Failed(_failure(response))
        return response

    def _send_large(self, user: str, token: str, message: bytes) -> SendResult:
        """Draft without attachments, attachments added (upload sessions when large), send."""
        auth = {"Authorization": f"Bearer {token}"}
        draft, attachments = split_attachments(message)
        body = base64.b64encode(draft)
        if len(body) > SIMPLE_LIMIT:
            return PermanentFailure("message too large for Graph even without its attachments")
        messages_url = f"{self._user_url(user)}/messages"
        try:
            created = self._call(
                "POST",
                messages_url,
                (201,),
                data=body,
                headers={**auth, "Content-Type": "text/plain"},
            )
            draft_id = created.json()["id"]
        except _Failed as failed:
            return failed.result
        except (ValueError, KeyError):
            return TemporaryFailure("Graph created a draft without an id")
        draft_url = f"{messages_url}/{quote(draft_id, safe='')}"
        try:
            for part in attachments:
                self._attach(draft_url, auth, part)
            sent = self._call("POST", f"{draft_url}/send", (202,), headers=auth)
        except _Failed as failed:
            with contextlib.suppress(requests.RequestException):
                self.session.delete(draft_url, headers=auth, timeout=self.timeout)
            return failed.result
        return Accepted(sent.headers.get("request-id") or draft_id)

    def _attach(self, draft_url: str, auth: dict, part: EmailMessage) -> None:
        content = part.get_payload(decode=True) or b""
        item = {"name": part.get_filename() or "attachment", "contentType": part.get_content_type()}
        if len(content) < ATTACHMENT_POST_LIMIT:
            attachment = {
                "@odata.type": "#microsoft.graph.fileAttachment",
                **item,
                "contentBytes": base64.b64encode(content).decode(),
            }
            self._call("POST", f"{draft_url}/attachments", (201,), json=attachment, headers=auth)
            return
        session = self._call(
            "POST",
            f"{draft_url}/attachments/createUploadSession",
            (200, 201),
            json={"AttachmentItem": {"attachmentType": "file", "size": len(content), **item}},
            headers=auth,
        )
        try:
            upload_url = session.json()["uploadUrl"]
        except (ValueError, KeyError) as exc:
            raise _Failed(TemporaryFailure("Graph upload session without an uploadUrl")) from exc
        total = len(content)
        for start in range(0, total, UPLOAD_CHUNK):
            chunk = content[start : start + UPLOAD_CHUNK]
            end = start + len(chunk) - 1
            headers = {  # no Authorization: the upload URL carries its own token
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{end}/{total}",
            }
            self._call("PUT", upload_url, (200, 201), data=chunk, headers=headers)


def split_attachments(message: bytes) -> tuple[bytes, list[EmailMessage]]:
    """The message without its attachment parts (inline parts stay), and those parts."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(message)
    attachments: list[EmailMessage] = []
    for part in parsed.walk():
        if not part.is_multipart():
            continue
        kept = []
        for sub in part.get_payload():
            if not sub.is_multipart() and sub.is_attachment():
                attachments.append(sub)
            else:
                kept.append(sub)
        part.set_payload(kept)
    return parsed.as_bytes(policy=email.policy.SMTP), attachments


def _failure(response: requests.Response) -> SendResult:
    """A Graph error answer as a temporary or permanent failure."""
    status = response.status_code
    reason = _graph_error(response)
    if status in RETRYABLE:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return TemporaryFailure(reason, retry_after, status)
    if 400 <= status < 500:
        return PermanentFailure(reason, status)
    return TemporaryFailure(reason, None, status)
