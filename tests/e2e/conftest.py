"""Browser tests: the seeded demo app served on 127.0.0.1 in a thread, and Debian's chromium
driven by Playwright. Any request that would leave this machine is blocked and reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from server.extensions import db
from server.surfaces.web.demo import build_demo_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# a ceiling for waits, not a speed test: this machine is shared, and the first /api/openapi.json
# builds the whole document
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


class LiveServer:
    """The demo app on a free loopback port, and what was seeded into it."""

    def __init__(self, app, seeded: dict) -> None:
        self.app, self.seeded = app, seeded
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    app, seeded = build_demo_app(instance=tmp_path_factory.mktemp("demo-instance"))
    with LiveServer(app, seeded) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose failed requests, error responses and off-machine requests are collected."""

    def __init__(self, page: Page) -> None:
        self.page, self.problems = page, []
        page.route("**/*", self._only_loopback)
        page.on("requestfailed", self._failed)
        page.on("response", self._check_status)
        page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))

    def _failed(self, request) -> None:
        # the header bell's EventSource is cut when the page navigates away: that is no failure
        aborted_stream = "/api/notifications/stream" in request.url and "ABORTED" in str(
            request.failure
        )
        if not aborted_stream:
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _only_loopback(self, route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.problems.append(f"left the machine: {route.request.url}")
            route.abort()

    def _check_status(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def shot(self, name: str, full_page: bool = True) -> Path:
        """A screenshot (of the whole page by default) under test-output/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        path = SCREENSHOTS / f"{name}-{width}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture(params=sorted(VIEWPORTS))
def watched(request, browser: Browser) -> Iterator[Watched]:
    """A fresh browser context (no cookies) at a desktop or a phone width."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    context.set_default_timeout(WAIT_MS)
    try:
        yield Watched(context.new_page())
    finally:
        context.close()
