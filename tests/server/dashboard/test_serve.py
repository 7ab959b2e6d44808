"""`edgekv serve` serves the dashboard (and `--no-dashboard` does not); without auth, signing
in needs no token, and a session made so is worth nothing once the server requires tokens."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.server.test_serve import serving


def test_serve_names_the_dashboard_and_no_dashboard_turns_it_off(tmp_path: Path) -> None:
    with serving(tmp_path) as (proc, url, _):
        assert proc.stdout is not None
        shown = proc.stdout.readline()
        assert shown.strip() == f"dashboard: {url}/dashboard"
        answer = httpx.get(f"{url}/dashboard/signin")
        assert answer.status_code == 200 and "Sign in" in answer.text
    with serving(tmp_path, "--no-dashboard") as (_, url, _):
        assert httpx.get(f"{url}/dashboard/signin").status_code == 404


def test_without_auth_signing_in_takes_no_token(page: Page, tmp_path: Path) -> None:
    with serving(tmp_path, "--no-auth") as (_, url, _):
        page.goto(f"{url}/dashboard")
        expect(page.locator("#token")).to_have_count(0)
        page.click("form button[type=submit]")
        expect(page.locator("header .token")).to_have_text("no auth")
        page.fill("#new-title", "local")
        page.click("#create-namespace button")
        expect(page.locator("h1")).to_have_text("local")
    # The same data served with auth: that session no longer opens anything.
    with serving(tmp_path) as (_, url, _):
        page.goto(f"{url}/dashboard/namespaces")
        expect(page.locator("#token")).to_be_visible()
