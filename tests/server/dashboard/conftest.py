"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real
server (`create_app` with an edge, as `edgekv serve` runs it, under uvicorn in a thread).

One server serves the whole session and one browser each module; each test gets a fresh browser context
(its own cookies), its own namespaces, and the tokens it asks for. `shoot(page, name)` saves
a screenshot under the session's tmp dir, and copies it to $EDGEKV_SCREENSHOTS when that is
set, for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from edgekv.server.app import create_app
from tests.server.conftest import Live, run_server
from tests.services import require

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright's own download is not used
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
ASSETS = frozenset({"stylesheet", "script", "image", "font", "eventsource"})

Shoot = Callable[[Page, str], Path]
T = TypeVar("T")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("dashboard") / "kv.db"
    app = create_app(f"sqlite:///{db}", cache_size=8 << 20)
    uvicorn_server, thread, port = run_server(app)
    try:
        yield Live(f"http://127.0.0.1:{port}", db, app.state.account_id)
    finally:
        uvicorn_server.should_exit = True
        thread.join(30)


# Per module, not per session: while Playwright's sync API is open it keeps an event loop
# running in this thread, and tests elsewhere (asyncio.run, pytest-asyncio) need it free.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require(CHROMIUM.exists(), "chromium (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """What went wrong in the test's page (script errors, refused scripts, missing assets)."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = page_errors
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Pages answered 4xx on purpose log "Failed to load resource"; assets are checked below.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type in ASSETS
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    # A script error, a refused inline script or style (CSP), a missing asset: a failure.
    assert not errors, errors


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(screenshots: Path) -> Shoot:
    def take(page: Page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        copy_to = os.environ.get("EDGEKV_SCREENSHOTS")
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)
        return path

    return take


def off_loop(call: Callable[[], T]) -> T:
    """Runs `call` in a thread of its own: Playwright's sync API keeps an event loop running in
    this one, and the server's registry (Live.registry) runs one of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(60)


def make_token(
    server: Live, *, namespaces: list[str] | None = None, read_only: bool = False
) -> str:
    return off_loop(lambda: server.token(namespaces=namespaces, read_only=read_only))


@pytest.fixture
def token(server: Live) -> str:
    return make_token(server)


@pytest.fixture
def api(server: Live, token: str) -> Iterator[httpx.Client]:
    """The REST API with the test's token: the other client, or the test's own hands."""
    with server.client(token) as client:
        yield client


@pytest.fixture
def namespace(server: Live, api: httpx.Client, request: pytest.FixtureRequest) -> dict[str, str]:
    """A fresh namespace: {"id", "title"}."""
    title = f"{request.node.name[:40]}-{uuid.uuid4().hex[:6]}"
    answer = api.post(server.namespaces_url(), json={"title": title})
    assert answer.status_code == 200, answer.text
    return {"id": answer.json()["result"]["id"], "title": title}


def dashboard(server: Live) -> str:
    return f"{server.url}/dashboard"


def sign_in(page: Page, server: Live, token: str, then: str = "") -> None:
    page.goto(dashboard(server) + then)
    page.fill("#token", token)
    page.click("form button[type=submit]")
    page.wait_for_selector("header .who")


def put(
    api: httpx.Client, server: Live, namespace_id: str, key: str, value: bytes | str, **query: Any
) -> None:
    url = f"{server.namespaces_url()}/{namespace_id}/values/{_quote(key)}"
    answer = api.put(url, content=value, params=query)
    assert answer.status_code == 200, answer.text


def _quote(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="")


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
