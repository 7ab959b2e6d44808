"""The analytics page: a known workload shows up as the month's figures, in charts and tables."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, make_token, put, sign_in, wait_until


def test_a_namespaces_usage_is_shown_with_its_cost(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns_url = f"{server.namespaces_url()}/{namespace['id']}"
    for key in ("a", "b", "c"):
        put(api, server, namespace["id"], key, "x" * 100)
    for _ in range(4):
        assert api.get(f"{ns_url}/values/a").status_code == 200
    assert api.delete(f"{ns_url}/values/c").status_code == 200
    assert api.get(f"{ns_url}/keys").status_code == 200

    sign_in(page, server, token, f"/analytics?namespace={namespace['id']}")
    expect(page.locator("h1")).to_have_text(f"Analytics: {namespace['title']}")

    def counted() -> bool:  # the server writes its counts every 2 s
        page.reload()
        return page.locator("#writes").inner_text() == "3"

    wait_until(counted, seconds=20)
    expect(page.locator("#reads")).to_have_text("4")
    expect(page.locator("#deletes")).to_have_text("1")
    expect(page.locator("#lists")).to_have_text("1")
    expect(page.locator("#cost")).to_have_text("$0.00 / month")  # well inside the allowances
    expect(page.locator("#free-plan")).to_contain_text("not exceeded")
    # Three charts drawn in the page (SVG, no script), the writes as a bar of the day.
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("svg.chart rect title").first).to_contain_text("Reads: 4")
    expect(page.locator("#days tbody tr")).to_have_count(1)
    expect(page.locator("#allowances tbody tr").first).to_contain_text("10,000,000")
    shoot(page, "21-analytics")

    # The account's view holds at least this namespace's figures, and lists it to choose.
    page.goto(f"{dashboard(server)}/analytics")
    expect(page.locator("h1")).to_have_text("Analytics")
    assert int(page.locator("#writes").inner_text().replace(",", "")) >= 3
    expect(page.locator(f"#namespace option[value='{namespace['id']}']")).to_have_count(1)


def test_a_scoped_token_sees_only_its_namespaces_usage(
    page: Page, server: Live, api: httpx.Client, namespace: dict[str, str]
) -> None:
    other = api.post(server.namespaces_url(), json={"title": f"{namespace['title']}-other"})
    other_id = other.json()["result"]["id"]
    put(api, server, namespace["id"], "mine", "v")
    put(api, server, other_id, "theirs", "v")

    def flushed() -> bool:  # both namespaces' writes are in the usage log
        page.goto(f"{dashboard(server)}/analytics")
        return page.locator(f"#namespace option[value='{other_id}']").count() == 1

    sign_in(page, server, make_token(server), "/analytics")
    wait_until(flushed, seconds=20)
    page.context.clear_cookies()

    sign_in(page, server, make_token(server, namespaces=[namespace["id"]]), "/analytics")
    expect(page.locator(f"#namespace option[value='{namespace['id']}']")).to_have_count(1)
    expect(page.locator(f"#namespace option[value='{other_id}']")).to_have_count(0)
    page.goto(f"{dashboard(server)}/analytics?namespace={other_id}")
    expect(page.locator("h1")).to_have_text("404")
