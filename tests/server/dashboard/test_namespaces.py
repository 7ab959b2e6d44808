"""Namespaces: listed, created, renamed, deleted by typing the title; a scoped token's view."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, make_token, sign_in


def test_create_rename_and_delete_a_namespace(
    page: Page, server: Live, token: str, api: httpx.Client, shoot: Shoot
) -> None:
    title = f"orders-{uuid.uuid4().hex[:6]}"
    sign_in(page, server, token)
    page.fill("#new-title", title)
    page.click("#create-namespace button")
    expect(page.locator(".notice")).to_have_text("Namespace created.")
    expect(page.locator("h1")).to_have_text(title)
    namespace_id = page.url.split("/namespaces/")[1].split("?")[0]
    listed = api.get(server.namespaces_url(), params={"per_page": 1000}).json()["result"]
    assert {"id": namespace_id, "title": title} in [
        {"id": n["id"], "title": n["title"]} for n in listed
    ]

    for key in ("a", "b"):
        answer = api.put(
            f"{server.namespaces_url()}/{namespace_id}/values/{key}", content=b"x" * 1500
        )
        assert answer.status_code == 200
    page.goto(f"{dashboard(server)}/namespaces")
    row = page.locator(f"tr:has-text('{title}')")
    expect(row.locator("td[data-label=Keys]")).to_have_text("2")
    expect(row.locator("td[data-label=Stored]")).to_have_text("2.9 KiB")
    shoot(page, "03-namespaces")

    page.click(f"tr:has-text('{title}') >> text=Settings")
    page.fill("#rename-title", title + "-renamed")
    page.click("button:has-text('Rename')")
    expect(page.locator(".notice")).to_have_text("Namespace renamed.")
    expect(page.locator("h1")).to_have_text(title + "-renamed")

    # The delete button stays disabled until the title is typed exactly.
    button = page.locator("button:has-text('Delete namespace')")
    expect(button).to_be_disabled()
    page.fill("#confirm-title", title)
    expect(button).to_be_disabled()
    page.fill("#confirm-title", title + "-renamed")
    expect(button).to_be_enabled()
    shoot(page, "04-namespace-settings")
    button.click()
    expect(page.locator(".notice")).to_have_text("Namespace deleted.")
    gone = api.get(f"{server.namespaces_url()}/{namespace_id}")
    assert gone.status_code == 404


def test_the_server_checks_the_typed_title_too(
    page: Page, server: Live, token: str, namespace: dict[str, str], api: httpx.Client
) -> None:
    sign_in(page, server, token, then=f"/namespaces/{namespace['id']}/settings")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        f"{dashboard(server)}/namespaces/{namespace['id']}/delete",
        form={"csrf": csrf or "", "confirm": "not the title"},
    )
    assert answer.status == 400 and "Nothing was deleted" in answer.text()
    assert api.get(f"{server.namespaces_url()}/{namespace['id']}").status_code == 200


def test_a_duplicate_title_is_refused_in_the_contracts_words(
    page: Page, server: Live, token: str, namespace: dict[str, str]
) -> None:
    sign_in(page, server, token)
    page.fill("#new-title", namespace["title"])
    page.click("#create-namespace button")
    expect(page.locator(".failed")).to_contain_text("already exists")


def test_a_scoped_token_sees_only_its_namespaces(
    page: Page, server: Live, api: httpx.Client, shoot: Shoot
) -> None:
    mine, other = (
        api.post(server.namespaces_url(), json={"title": f"{name}-{uuid.uuid4().hex[:6]}"}).json()[
            "result"
        ]
        for name in ("mine", "other")
    )
    scoped = make_token(server, namespaces=[mine["id"]])
    sign_in(page, server, scoped)
    expect(page.locator("table.rows tbody tr")).to_have_count(1)
    expect(page.locator("table.rows")).to_contain_text(mine["title"])
    expect(page.locator("#create-namespace")).to_have_count(0)  # it may create none
    shoot(page, "05-scoped-token")
    # Another namespace of the same account is answered as one that does not exist.
    page.goto(f"{dashboard(server)}/namespaces/{other['id']}")
    expect(page.locator("h1")).to_have_text("404")
    expect(page.locator(".failed")).to_have_text(re.compile("namespace not found", re.I))
