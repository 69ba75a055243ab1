"""Browser fixtures: the session app served over HTTP, and Debian's Chromium through Playwright.

Playwright drives the system Chromium (``apt-get install chromium``); its own browser
downloads (``playwright install``) are never used. A missing Chromium fails the browser
tests instead of skipping them: CI installs it, and a skip would hide a missing feature.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Response, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The session app on 127.0.0.1 with a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium)."
            " Browser tests never download Playwright's own browsers.",
            pytrace=False,
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies) whose relative URLs go to the live server.

    Any 5xx response during the test fails it at teardown, whatever the test asserted.
    """
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    problems: list[str] = []

    def on_response(response: Response) -> None:
        if response.status >= 500:
            problems.append(f"{response.status} {response.url}")

    context.on("response", on_response)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
    assert not problems, f"server errors during the test: {problems}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
