"""The dashboard's operations on keys count in usage analytics, as Cloudflare bills its own
dashboard's (docs/analytics.md): browsing a namespace lists, opening a key reads, saving
writes, deleting deletes."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import put, sign_in

_OPERATIONS = """query($a: string!, $ns: string!) { viewer { accounts(filter: {accountTag: $a}) {
  kvOperationsAdaptiveGroups(limit: 10, filter: {namespaceId: $ns}) {
    sum { requests } dimensions { actionType } } } } }"""


def _counts(api: httpx.Client, server: Live, namespace_id: str) -> dict[str, int]:
    answer = api.post(
        f"{server.api}/graphql",
        json={"query": _OPERATIONS, "variables": {"a": server.account_id, "ns": namespace_id}},
    )
    body: dict[str, Any] = answer.json()
    groups = body["data"]["viewer"]["accounts"][0]["kvOperationsAdaptiveGroups"]
    return {g["dimensions"]["actionType"]: g["sum"]["requests"] for g in groups}


def test_the_dashboards_operations_are_counted(
    page: Page, server: Live, token: str, api: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "k", "v")  # a write through the REST API
    sign_in(page, server, token, then=f"/namespaces/{ns}")  # browsing: a list
    page.goto(f"{server.url}/dashboard/namespaces/{ns}/edit?key=k")  # opening: a read
    page.fill("#value", "w")
    page.click("#save")  # a write
    expect(page.locator(".notice")).to_be_visible()
    page.goto(f"{server.url}/dashboard/namespaces/{ns}/key?key=k")  # a read
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[action$='delete-key'] button")  # a delete
    expect(page.locator(".notice")).to_be_visible()
    counts = _counts(api, server, ns)
    assert counts["write"] == 2 and counts["delete"] == 1
    assert counts["read"] >= 2 and counts["list"] >= 1  # pages after a change list again
