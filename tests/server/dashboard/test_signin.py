"""Signing in with an API token, the session cookie, CSRF, signing out."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, off_loop, sign_in


def test_sign_in_with_a_token_and_out(page: Page, server: Live, token: str, shoot: Shoot) -> None:
    page.goto(dashboard(server))
    expect(page).to_have_url(re.compile(r"/dashboard/signin\?next="))
    shoot(page, "01-signin")
    page.fill("#token", token)
    page.keyboard.press("Enter")  # the form works from the keyboard
    expect(page.locator("h1")).to_have_text("Namespaces")
    expect(page.locator("header .token")).to_contain_text(token[:8])

    cookie = next(c for c in page.context.cookies() if c["name"] == "edgekv_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"
    assert token not in cookie["value"]  # the browser keeps a session id, never the token
    assert page.evaluate("document.cookie") == ""  # no script can read it

    page.click("text=Sign out")
    expect(page.locator(".notice")).to_have_text("Signed out.")
    # The session is gone on the server, not only in this browser.
    answer = httpx.get(
        f"{dashboard(server)}/namespaces",
        cookies={"edgekv_session": cookie["value"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "/signin" in answer.headers["location"]


def test_a_wrong_token_is_refused(page: Page, server: Live, shoot: Shoot) -> None:
    page.goto(f"{dashboard(server)}/signin")
    page.fill("#token", "ekv_not-a-token")
    page.click("form button[type=submit]")
    expect(page.locator(".failed")).to_contain_text("That token is not valid")
    shoot(page, "02-signin-refused")
    assert not [c for c in page.context.cookies() if c["name"] == "edgekv_session"]


def test_sign_in_returns_to_the_page_asked_for(page: Page, server: Live, token: str) -> None:
    sign_in(page, server, token, then="/live")
    expect(page).to_have_url(f"{dashboard(server)}/live")


def test_a_revoked_token_ends_its_sessions(page: Page, server: Live) -> None:
    secret, record = off_loop(lambda: server.registry(lambda a: a.create_token(name="short")))
    sign_in(page, server, secret)
    off_loop(lambda: server.registry(lambda a: a.revoke_token(record.id)))
    # The server hears of the revocation through the change feed (its edge), within ms.
    for _ in range(100):
        page.goto(f"{dashboard(server)}/namespaces")
        if "/signin" in page.url:
            break
        page.wait_for_timeout(50)
    expect(page).to_have_url(re.compile(r"/signin"))


def test_every_change_needs_the_form_csrf_field(page: Page, server: Live, token: str) -> None:
    sign_in(page, server, token)
    # The browser's own cookie, but a form without the page's CSRF value: refused.
    answer = page.request.post(
        f"{dashboard(server)}/namespaces", form={"title": "csrf-less"}, max_redirects=0
    )
    assert answer.status == 403
    assert "came from another site" in answer.text()
    # From another origin: refused before the form is read.
    answer = page.request.post(
        f"{dashboard(server)}/namespaces",
        form={"title": "cross-site"},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert answer.status == 403
    titles = page.request.get(f"{dashboard(server)}/namespaces").text()
    assert "csrf-less" not in titles and "cross-site" not in titles


def test_sign_in_form_needs_its_own_cookie(server: Live, token: str) -> None:
    # Another site cannot sign a browser in: the form's value must match the form's cookie.
    answer = httpx.post(
        f"{dashboard(server)}/signin",
        data={"token": token, "nonce": "guessed", "next": "/dashboard/"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "edgekv_session" not in answer.cookies
