"""Outgoing and incoming mail: MIME building, DKIM, transports, throttles (and, beside them, the
outbox, inbound mail and bounces).

Sending one message, start to end::

    from server.mail.builder import MessageTemplate, Attachment
    from server.mail.dkim import DkimSigner
    from server.mail.smtp import SmtpTransport
    from server.mail.transport import Accepted, TemporaryFailure, PermanentFailure

    template = MessageTemplate(sender=("Ann", "ann@org.example"), domain=app.config["MAIL_DOMAIN"],
                               attachments=[Attachment("offer.pdf", pdf_bytes)])
    built = template.render(to=("Bob", "bob@example.org"), subject="Hi", html=html,
                            headers={"List-Unsubscribe": "<https://.../u/tok>",
                                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    data = signer.sign(built.data) if signer else built.data      # SMTP only
    result = transport.send("bounces+42@org.example", built.recipients, data)

Building (builder.py, encoding.py, html_text.py)
  `MessageTemplate` encodes the shared parts of a send once; `render()` per recipient costs tens
  of microseconds (see bench/build.py). `build_message()` is the one-off form. Messages parse
  back identically with the standard `email` parser (tests/mail/test_builder*.py). With only
  `html`, the text part is derived with `html_to_text`; that uses `html.parser` and costs ~1 ms
  per 4 KB, so a bulk send should derive its text once from the template HTML (merge tags survive
  as text) and render it per recipient, passing `text=`. `BuiltMessage.smtputf8` is True when an
  address has a non-ASCII local part (the SMTP transport then needs the server's SMTPUTF8).

DKIM (dkim.py)
  `DkimSigner(selector, domain, private_key_pem).sign(message)` returns the message with a
  DKIM-Signature (rsa-sha256, relaxed/relaxed) over From, To, Subject, Date, Message-ID,
  List-Unsubscribe, List-Unsubscribe-Post (those present). Keys: `liaison dkim generate`.

Transports (transport.py; smtp.py, graph.py, gmail.py)
  One protocol: `send(envelope_from, recipients, message, *, mailbox=None) -> Accepted |
  TemporaryFailure | PermanentFailure` and `close()`. A transport never retries or sleeps and
  never raises for provider or network trouble: it answers. Retry policy, backoff and the
  outbox state belong to the caller. `TemporaryFailure.retry_after` carries the provider's
  Retry-After (seconds) when there was one.
  - SmtpTransport: smtplib, STARTTLS or implicit TLS, AUTH, a small pool of reused connections
    (stale ones are replaced once, transparently); 2xx accepted (queue id parsed from the DATA
    reply), 4xx temporary, 5xx permanent, connection errors temporary.
  - GraphTransport: POST /v1.0/users/{mailbox}/sendMail with the MIME bytes base64-encoded
    (text/plain; why MIME and not JSON: see graph.py), bearer token from
    `token_provider(mailbox)`; 202 accepted, 429/5xx temporary with Retry-After, 401 temporary
    (a new token next time), other 4xx permanent.
  - GmailTransport: google-api-python-client users.messages.send(userId="me", raw=base64url;
    over 4 MB a message/rfc822 media upload) with `credentials_provider(mailbox)` →
    google.oauth2.credentials.Credentials; 200 accepted (id, threadId), 429/5xx and 403 rate
    limits temporary with Retry-After, other 4xx permanent.
  A token/credentials provider that raises is answered for too: a ServiceError below 500 (e.g.
  MailboxNeedsReconnect) is permanent, anything else temporary (transport.credential_failure).

Throttling (throttle.py)
  `Throttle.reserve(mailbox_key, recipients) -> wait_seconds`: 0 means "send now" and the send
  is counted; > 0 means "not before that many seconds" and nothing is counted (defer the row and
  ask again then). Sliding windows per mailbox, in Redis when configured (atomic, shared by all
  workers), else in memory. `throttle_for("graph" | "gmail", config)` applies the provider
  limits: Graph 30 messages/minute and 10,000 recipients/day, Gmail 2,000 messages/day
  (MAIL_GRAPH_PER_MINUTE, MAIL_GRAPH_RECIPIENTS_PER_DAY, MAIL_GMAIL_PER_DAY override them).
"""
