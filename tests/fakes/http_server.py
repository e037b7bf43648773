"""A small threaded HTTP/1.1 server on 127.0.0.1 for the fakes of HTTP APIs (Graph, Gmail):
records every request, checks bearer tokens and plays scripted answers before normal ones."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """A response: status, JSON (or raw bytes) body and extra headers."""

    status: int
    body: dict | bytes | None = None
    headers: dict[str, str] | None = None


class FakeHttpService:
    """Subclasses implement `handle(request) -> Answer`; scripted answers take precedence."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        self.tokens = set(tokens or {"good-token"})
        self.requests: list[Request] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set = set()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_next(self, answer: Answer, count: int = 1) -> None:
        """Play `answer` for the next `count` authorized requests that reach the API."""
        with self._lock:
            self._script.extend([answer] * count)

    def bearer_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def scripted(self) -> Answer | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def handle(self, request: Request) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dispatch(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
        return self.handle(request)

    def start(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                service._connections.add(self.connection)

            def finish(self):
                service._connections.discard(self.connection)
                super().finish()

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = service._dispatch(Request(self.command, self.path, headers, body))
                payload = answer.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                payload = payload or b""
                self.send_response(answer.status)
                extra = answer.headers or {}
                if payload and "Content-Type" not in extra:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):  # keep-alive clients are cut off too
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
