"""A local OpenID issuer on 127.0.0.1 speaking Microsoft's and Google's wire formats.

It makes its own RSA keys and serves them the way the real issuers do:
- Microsoft: `/common/discovery/v2.0/keys` (JWKS) and
  `/{tid}/v2.0/.well-known/openid-configuration`; tokens are issued by `{url}/{tid}/v2.0`,
  so the app's MS_AUTHORITY is `url`.
- Google: `/oauth2/v1/certs` (kid → PEM X.509 certificate, with Cache-Control max-age) and
  `/oauth2/v3/certs` (JWKS); tokens are issued by https://accounts.google.com.

The `oidc` fixture points the app under test at it (MS_AUTHORITY, MS_CLIENT_ID, GOOGLE_CERTS_URL,
GOOGLE_CLIENT_ID), forgets the app's cached keys before and after the test, and hands out the
issuer: `oidc.ms_token(tid, oid, ...)`, `oidc.google_token(email, ...)`, `oidc.rotate()`,
`oidc.fetches(path)`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from server.auth.google import reset_certs_cache
from server.auth.microsoft import reset_jwks_cache

MS_CLIENT_ID = "6a1c2b9e-0000-4000-8000-00000000c11e"
GOOGLE_CLIENT_ID = "liaison-tests.apps.googleusercontent.com"
GOOGLE_ISSUER = "https://accounts.google.com"
MS_KEYS_PATH = "/common/discovery/v2.0/keys"
GOOGLE_CERTS_PATH = "/oauth2/v1/certs"
DROP = object()  # marker: ms_token(..., scp=DROP) leaves the claim out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA key pair with its key id, its JWK and a self-signed certificate (Google's form)."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-oidc.invalid")])
        now = dt.datetime.now(dt.UTC)
        self.certificate_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .sign(self.private, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    @property
    def public_pem(self) -> bytes:
        """The public key in PEM (what an HS256 key-confusion attack would use as its secret)."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class FakeOIDCIssuer:
    """The fake issuer: an HTTP server in a thread plus the keys and a token mint."""

    def __init__(self) -> None:
        self.fetch_counts: Counter[str] = Counter()
        self.certs_max_age = 3600
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOIDCIssuer:
        """Serve on an ephemeral port of 127.0.0.1."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """One fresh published key, counters at zero, default cache lifetime."""
        with self._lock:
            self.current = SigningKey()
            self.published: list[SigningKey] = [self.current]
            self.fetch_counts.clear()
            self.certs_max_age = 3600

    @property
    def url(self) -> str:
        """The base URL; it is also the Microsoft authority."""
        assert self._server is not None, "the fake issuer is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def app_config(self) -> dict[str, Any]:
        """The settings that point the app at this issuer."""
        return {
            "MS_AUTHORITY": self.url,
            "MS_CLIENT_ID": MS_CLIENT_ID,
            "MS_API_AUDIENCE": None,
            "MS_REQUIRED_SCOPE": "access_as_user",
            "GOOGLE_CERTS_URL": self.url + GOOGLE_CERTS_PATH,
            "GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
        }

    # --- keys --------------------------------------------------------------------------------

    def rotate(self, keep_old: bool = True) -> SigningKey:
        """Make a new current key and publish it (keeping the old ones published by default)."""
        with self._lock:
            self.current = SigningKey()
            self.published = [*self.published, self.current] if keep_old else [self.current]
            return self.current

    def fetches(self, path: str) -> int:
        """How many times `path` was requested."""
        return self.fetch_counts[path]

    # --- tokens ------------------------------------------------------------------------------

    def sign(
        self,
        claims: dict[str, Any],
        key: SigningKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        secret: bytes | None = None,
    ) -> str:
        """Encode `claims`; RS256 with `key` (default current) under `kid` (default key's), or
        `alg="none"` (unsigned) or `alg="HS256"` with `secret` (default: the public key PEM)."""
        key = key or self.current
        headers = {"kid": kid if kid is not None else key.kid}
        if alg == "RS256":
            return jwt.encode(claims, key.private, algorithm="RS256", headers=headers)
        header = {"alg": alg, "typ": "JWT", **headers}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        if alg == "none":
            return signing_input + "."
        if alg == "HS256":
            mac = hmac.new(secret or key.public_pem, signing_input.encode(), hashlib.sha256)
            return f"{signing_input}.{_b64(mac.digest())}"
        raise ValueError(f"unsupported alg {alg}")

    @staticmethod
    def _claims(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        claims = {**base, **overrides}
        return {k: v for k, v in claims.items() if v is not DROP}

    def ms_claims(self, tid: str, oid: str | None = None, **overrides: Any) -> dict[str, Any]:
        """Claims of a v2.0 access token for our API (override any; DROP removes one)."""
        now = int(time.time())
        oid = oid or str(uuid.uuid4())  # DROP leaves the claim out
        base = {
            "aud": MS_CLIENT_ID,
            "iss": f"{self.url}/{tid}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": tid,
            "oid": oid,
            "sub": hashlib.sha256(str(oid).encode()).hexdigest()[:43],
            "scp": "access_as_user",
            "name": "Ada Lovelace",
            "preferred_username": "ada@contoso.example",
            "ver": "2.0",
        }
        return self._claims(base, overrides)

    def ms_token(
        self,
        tid: str,
        oid: str | None = None,
        *,
        key: SigningKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A Microsoft identity token for tenant `tid` and object id `oid`."""
        return self.sign(self.ms_claims(tid, oid, **overrides), key=key, kid=kid, alg=alg)

    def google_claims(self, email: str, **overrides: Any) -> dict[str, Any]:
        """Claims of a Google ID token for `email` (override any; DROP removes one)."""
        now = int(time.time())
        domain = email.partition("@")[2]
        base = {
            "iss": GOOGLE_ISSUER,
            "aud": GOOGLE_CLIENT_ID,
            "azp": GOOGLE_CLIENT_ID,
            "sub": str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16)),
            "email": email,
            "email_verified": True,
            "hd": domain,
            "name": "Grace Hopper",
            "iat": now,
            "exp": now + 3600,
        }
        return self._claims(base, overrides)

    def google_token(
        self,
        email: str,
        *,
        key: SigningKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A Google ID token for `email`."""
        return self.sign(self.google_claims(email, **overrides), key=key, kid=kid, alg=alg)

    # --- documents served ----------------------------------------------------------------------

    def document(self, path: str) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body) for a GET of `path`."""
        with self._lock:
            self.fetch_counts[path] += 1
            keys = list(self.published)
            max_age = self.certs_max_age
        if path == MS_KEYS_PATH:
            return 200, {}, {"keys": [k.jwk for k in keys]}
        if path == GOOGLE_CERTS_PATH:
            headers = {"Cache-Control": f"public, max-age={max_age}, must-revalidate"}
            return 200, headers, {k.kid: k.certificate_pem for k in keys}
        if path == "/oauth2/v3/certs":
            return (
                200,
                {"Cache-Control": f"public, max-age={max_age}"},
                {"keys": [k.jwk for k in keys]},
            )
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0] if parts[0] != "common" else "{tenantid}"
            return (
                200,
                {},
                {
                    "issuer": f"{self.url}/{tenant}/v2.0",
                    "jwks_uri": self.url + MS_KEYS_PATH,
                    "authorization_endpoint": f"{self.url}/{parts[0]}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{self.url}/{parts[0]}/oauth2/v2.0/token",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": ["code", "id_token", "code id_token"],
                    "subject_types_supported": ["pairwise"],
                },
            )
        return 404, {}, {"error": "not_found"}


def _handler_for(issuer: FakeOIDCIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            status, headers, body = issuer.document(self.path.split("?", 1)[0])
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def reset_identity_caches(app) -> None:
    """Forget the app's cached Microsoft keys and Google certificates."""
    reset_jwks_cache(app)
    reset_certs_cache(app)


@pytest.fixture(scope="session")
def oidc_issuer():
    """The fake issuer's server, started once per test session."""
    issuer = FakeOIDCIssuer().start()
    yield issuer
    issuer.stop()


@pytest.fixture
def oidc(app, oidc_issuer):
    """The fake issuer, reset, with the app pointed at it for the duration of the test."""
    oidc_issuer.reset()
    settings = oidc_issuer.app_config()
    saved = {name: app.config.get(name) for name in settings}
    app.config.update(settings)
    reset_identity_caches(app)
    yield oidc_issuer
    app.config.update(saved)
    reset_identity_caches(app)
