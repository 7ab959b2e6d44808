"""The live tail: another client's writes and deletes appear as they happen."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, make_token, put, sign_in


def test_writes_and_deletes_appear_as_they_happen(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    sign_in(page, server, token, then=f"/live?namespace={ns}")
    expect(page.locator("#live-status")).to_contain_text("Listening")
    rows = page.locator("#live tbody tr")
    put(api, server, ns, "orders:1", "{}")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("written")
    expect(rows.first).to_contain_text("orders:1")
    put(api, server, ns, "<b>bold</b>", "x")
    api.delete(f"{server.namespaces_url()}/{ns}/values/orders:1")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("deleted")
    expect(rows.nth(1)).to_contain_text("<b>bold</b>")  # a key is text, never markup
    assert page.locator("#live b").count() == 0
    shoot(page, "20-live")
    # A written key links to its page.
    rows.nth(1).locator("a").click()
    expect(page.locator("#key-name")).to_have_text("<b>bold</b>")


def test_the_tail_shows_only_the_viewers_namespaces(
    page: Page, server: Live, api: httpx.Client, namespace: dict[str, str]
) -> None:
    other = api.post(server.namespaces_url(), json={"title": namespace["title"] + "-other"})
    other_id = other.json()["result"]["id"]
    scoped = make_token(server, namespaces=[namespace["id"]])
    sign_in(page, server, scoped, then="/live")
    expect(page.locator("#live-status")).to_contain_text("Listening")
    put(api, server, other_id, "secret", "x")
    put(api, server, namespace["id"], "mine", "x")
    rows = page.locator("#live tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("mine")


def test_the_stream_needs_a_session(server: Live) -> None:
    answer = httpx.get(f"{dashboard(server)}/live/events")
    assert answer.status_code == 401
