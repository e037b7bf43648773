"""Settings read from LIAISON_* environment variables; nothing here touches disk or network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"LIAISON_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Config:
    """Flask configuration; `from_env()` fills it from the environment, tests pass overrides."""

    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite file in the instance folder
    SECRET_KEY: str | None = None  # None: generated once and kept in the instance folder
    BASE_URL: str = "http://127.0.0.1:5000"
    QUEUE: str = "inline"
    REDIS_URL: str | None = None
    CELERY_QUEUE: str = "liaison"
    # Microsoft identity: tokens are issued by {MS_AUTHORITY}/{tenant}/v2.0
    MS_AUTHORITY: str = "https://login.microsoftonline.com"
    MS_CLIENT_ID: str | None = None
    MS_API_AUDIENCE: str | None = None  # e.g. api://host/<client id>; defaults to MS_CLIENT_ID
    MS_REQUIRED_SCOPE: str = "access_as_user"
    # Google identity
    GOOGLE_CLIENT_ID: str | None = None
    GOOGLE_CERTS_URL: str = "https://www.googleapis.com/oauth2/v1/certs"
    GMAIL_ADDON_SERVICE_ACCOUNT: str | None = None  # the add-on's service account (system ID token)
    GMAIL_ADDON_API_TIMEOUT: float = 3.0  # seconds per Gmail API call made for a card
    GMAIL_ADDON_AUDIENCE_BASE: str | None = None  # public base of /gmail/... URLs; None: BASE_URL
    # Web sign-in and connected mailboxes (authorization-code flow); tokens encrypted at rest
    MS_CLIENT_SECRET: str | None = None
    GOOGLE_CLIENT_SECRET: str | None = None
    GOOGLE_AUTH_URI: str = "https://accounts.google.com/o/oauth2/v2/auth"
    GOOGLE_TOKEN_URI: str = "https://oauth2.googleapis.com/token"
    TOKEN_KEY: str | None = None  # Fernet key(s), comma-separated; None: derived from SECRET_KEY
    DEMO: bool = False
    # Outgoing mail through the org relay, and the domain of our Message-IDs
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_SECURITY: str = "starttls"  # starttls | tls | none
    MAIL_DOMAIN: str = "liaison.localhost"
    DKIM_SELECTOR: str = (
        "s1"  # SMTP sends are signed when instance/dkim/<domain>/<selector>.pem exists
    )
    OUTBOX_LEASE_SECONDS: int = 300
    GRAPH_BASE_URL: str = "https://graph.microsoft.com"
    # Provider limits per mailbox, kept by waiting (server/mail/throttle.py)
    MAIL_GRAPH_PER_MINUTE: int = 30
    MAIL_GRAPH_RECIPIENTS_PER_DAY: int = 10_000
    MAIL_GMAIL_PER_DAY: int = 2_000
    GMAIL_DISCOVERY_URL: str | None = None  # None: the discovery document google-api ships
    # Inbound mail: our addresses (log+, unsubscribe+, bounce+) and the largest message taken
    INBOUND_DOMAIN: str = "inbound.liaison.localhost"
    INBOUND_MAX_BYTES: int = 60 * 1024 * 1024
    MAX_CONTENT_LENGTH: int = 64 * 1024 * 1024
    # The Outlook pane loads Office.js from here (Microsoft's CDN; tests point it at a local copy)
    OFFICE_JS_URL: str = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
    # Live notifications (server-sent events): keep-alive comment and a stream's lifetime
    NOTIFICATIONS_KEEPALIVE_SECONDS: float = 15.0
    NOTIFICATIONS_STREAM_SECONDS: float = 300.0
    # Tracking (TRK-8): events this soon after sending are machine; admin machine signatures file
    TRACKING_MACHINE_WINDOW_SECONDS: float = 5.0
    TRACKING_SIGNATURES: str | None = None
    TRACKING_SENDER_IP_HOURS: float = 24.0  # a sender's recent IPs: their own opens (TRK-5)
    TRACKING_SPOOL: str | None = None  # spool files of tracking events; None: instance folder
    BENCH_ENDPOINTS: bool = False  # bare endpoints for `liaison bench` (never in production)
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Config:
        """Build a Config from LIAISON_* variables."""
        return cls(
            SQLALCHEMY_DATABASE_URI=_env("DATABASE_URL"),
            SECRET_KEY=_env("SECRET_KEY"),
            BASE_URL=_env("BASE_URL", cls.BASE_URL) or cls.BASE_URL,
            QUEUE=_env("QUEUE", "inline") or "inline",
            REDIS_URL=_env("REDIS_URL"),
            CELERY_QUEUE=_env("CELERY_QUEUE", "liaison") or "liaison",
            MS_AUTHORITY=_env("MS_AUTHORITY", cls.MS_AUTHORITY) or cls.MS_AUTHORITY,
            MS_CLIENT_ID=_env("MS_CLIENT_ID"),
            MS_API_AUDIENCE=_env("MS_API_AUDIENCE"),
            GOOGLE_CLIENT_ID=_env("GOOGLE_CLIENT_ID"),
            GOOGLE_CERTS_URL=_env("GOOGLE_CERTS_URL", cls.GOOGLE_CERTS_URL) or cls.GOOGLE_CERTS_URL,
            GMAIL_ADDON_SERVICE_ACCOUNT=_env("GMAIL_ADDON_SERVICE_ACCOUNT"),
            GMAIL_ADDON_API_TIMEOUT=float(_env("GMAIL_ADDON_API_TIMEOUT", "3") or 3),
            GMAIL_ADDON_AUDIENCE_BASE=_env("GMAIL_ADDON_AUDIENCE_BASE"),
            MS_CLIENT_SECRET=_env("MS_CLIENT_SECRET"),
            GOOGLE_CLIENT_SECRET=_env("GOOGLE_CLIENT_SECRET"),
            GOOGLE_AUTH_URI=_env("GOOGLE_AUTH_URI", cls.GOOGLE_AUTH_URI) or cls.GOOGLE_AUTH_URI,
            GOOGLE_TOKEN_URI=_env("GOOGLE_TOKEN_URI", cls.GOOGLE_TOKEN_URI) or cls.GOOGLE_TOKEN_URI,
            TOKEN_KEY=_env("TOKEN_KEY"),
            DEMO=_env_bool("DEMO", False),
            SMTP_HOST=_env("SMTP_HOST"),
            SMTP_PORT=int(_env("SMTP_PORT", "587") or 587),
            SMTP_USERNAME=_env("SMTP_USERNAME"),
            SMTP_PASSWORD=_env("SMTP_PASSWORD"),
            SMTP_SECURITY=_env("SMTP_SECURITY", "starttls") or "starttls",
            MAIL_DOMAIN=_env("MAIL_DOMAIN", cls.MAIL_DOMAIN) or cls.MAIL_DOMAIN,
            DKIM_SELECTOR=_env("DKIM_SELECTOR", cls.DKIM_SELECTOR) or cls.DKIM_SELECTOR,
            OUTBOX_LEASE_SECONDS=int(_env("OUTBOX_LEASE_SECONDS", "300") or 300),
            GRAPH_BASE_URL=_env("GRAPH_BASE_URL", cls.GRAPH_BASE_URL) or cls.GRAPH_BASE_URL,
            GMAIL_DISCOVERY_URL=_env("GMAIL_DISCOVERY_URL"),
            MAIL_GRAPH_PER_MINUTE=int(_env("MAIL_GRAPH_PER_MINUTE", "30") or 30),
            MAIL_GRAPH_RECIPIENTS_PER_DAY=int(
                _env("MAIL_GRAPH_RECIPIENTS_PER_DAY", "10000") or 10_000
            ),
            MAIL_GMAIL_PER_DAY=int(_env("MAIL_GMAIL_PER_DAY", "2000") or 2_000),
            INBOUND_DOMAIN=_env("INBOUND_DOMAIN", cls.INBOUND_DOMAIN) or cls.INBOUND_DOMAIN,
            INBOUND_MAX_BYTES=int(_env("INBOUND_MAX_BYTES", "0") or 0) or cls.INBOUND_MAX_BYTES,
            OFFICE_JS_URL=_env("OFFICE_JS_URL", cls.OFFICE_JS_URL) or cls.OFFICE_JS_URL,
            NOTIFICATIONS_KEEPALIVE_SECONDS=float(
                _env("NOTIFICATIONS_KEEPALIVE_SECONDS", "15") or 15
            ),
            NOTIFICATIONS_STREAM_SECONDS=float(_env("NOTIFICATIONS_STREAM_SECONDS", "300") or 300),
            TRACKING_MACHINE_WINDOW_SECONDS=float(
                _env("TRACKING_MACHINE_WINDOW_SECONDS", "5") or 5
            ),
            TRACKING_SIGNATURES=_env("TRACKING_SIGNATURES"),
            TRACKING_SENDER_IP_HOURS=float(_env("TRACKING_SENDER_IP_HOURS", "24") or 24),
            TRACKING_SPOOL=_env("TRACKING_SPOOL"),
            BENCH_ENDPOINTS=_env_bool("BENCH_ENDPOINTS", False),
        )

    def as_flask(self) -> dict:
        """The fields as a plain dict for app.config.update()."""
        return dict(self.__dict__)


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for postgres URLs written the common way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
