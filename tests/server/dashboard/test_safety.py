"""Safe and usable: hostile keys, values and metadata shown as text, the CSP, a read-only
token's view (and the server refusing its writes anyway), keyboard use, a narrow screen."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, make_token, put, sign_in

HOSTILE = '<img src=x onerror="window.pwned=1">'
SCRIPT = "</script><script>window.pwned=1</script>"


def test_hostile_keys_values_metadata_and_titles_are_shown_as_text(
    page: Page, server: Live, token: str, api: httpx.Client, shoot: Shoot
) -> None:
    title = f"{SCRIPT}<b>ns</b>"
    ns = api.post(server.namespaces_url(), json={"title": title}).json()["result"]["id"]
    url = f"{server.namespaces_url()}/{ns}/values/{httpx.URL(path=HOSTILE).raw_path.decode()}"
    meta = {"note": HOSTILE, "x": SCRIPT}
    answer = api.put(url, content=SCRIPT.encode(), headers={"CF-KV-Metadata": json.dumps(meta)})
    assert answer.status_code == 200, answer.text
    put(api, server, ns, "a\"b'c&d\nnewline/slash?q=1#frag", HOSTILE)
    dialogs: list[str] = []

    def dialog(opened: Dialog) -> None:  # an alert() would mean a handler of theirs ran
        dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)

    sign_in(page, server, token, then=f"/namespaces/{ns}")
    expect(page.locator("h1")).to_have_text(title)
    keys = page.locator("table.keys td.key")
    expect(keys).to_have_count(2)
    expect(keys.nth(0)).to_have_text(HOSTILE)
    expect(page.locator("table.keys")).to_contain_text(json.dumps(meta, separators=(",", ":")))
    shoot(page, "14-hostile-keys")

    keys.nth(0).locator("a").click()
    expect(page.locator("#key-name")).to_have_text(HOSTILE)
    expect(page.locator("#value")).to_have_text(SCRIPT)
    expect(page.locator("#metadata")).to_contain_text('"note": "<img src=x onerror=')
    shoot(page, "15-hostile-key-opened")
    page.click("#edit")
    expect(page.locator("#value")).to_have_value(SCRIPT)

    # The key with quotes, a newline, a slash, `?` and `#` round-trips through the links.
    page.goto(f"{dashboard(server)}/namespaces/{ns}")
    keys.nth(1).locator("a").click()
    expect(page.locator("#value")).to_have_text(HOSTILE)

    # No markup of theirs became an element, no handler ran.
    assert page.evaluate("window.pwned") is None
    assert page.locator("img:not(.preview)").count() == 0
    assert not dialogs


def test_every_page_carries_a_content_security_policy(
    page: Page, page_errors: list[str], server: Live, token: str, namespace: dict[str, str]
) -> None:
    sign_in(page, server, token)
    for path in ("/namespaces", f"/namespaces/{namespace['id']}", "/live", "/signin"):
        answer = page.request.get(f"{dashboard(server)}{path}")
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    # An inline script cannot run even if one got in: the browser itself refuses it.
    page.goto(f"{dashboard(server)}/namespaces")
    refused: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        refused.append(message.text)

    page.on("console", heard)
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.inline = 1'; document.body.appendChild(s); }"
    )
    assert page.evaluate("window.inline") is None
    assert any("Content Security Policy" in m for m in refused)
    page_errors.clear()  # the refusal, logged as an error, is what this test wanted


def test_a_read_only_token_sees_no_write_controls_and_cannot_write(
    page: Page,
    server: Live,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "k", "v")
    reader = make_token(server, read_only=True)
    sign_in(page, server, reader, then=f"/namespaces/{ns}")
    expect(page.locator("#read-only-badge")).to_be_visible()
    expect(page.locator("text=Add key")).to_have_count(0)
    page.goto(f"{dashboard(server)}/namespaces")
    expect(page.locator("#create-namespace")).to_have_count(0)
    shoot(page, "16-read-only-namespaces")
    page.goto(f"{dashboard(server)}/namespaces/{ns}/key?key=k")
    expect(page.locator("#value")).to_have_text("v")
    expect(page.locator("#edit")).to_have_count(0)
    expect(page.locator("button:has-text('Delete')")).to_have_count(0)
    shoot(page, "17-read-only-key")

    # The server refuses its writes anyway, with a valid session and CSRF value.
    csrf = page.locator("header input[name=csrf]").get_attribute("value") or ""
    base = f"{dashboard(server)}/namespaces/{ns}"
    for path, form in (
        ("/edit", {"key": "k", "version": "1", "value": "x"}),
        ("/delete-key", {"key": "k"}),
        ("/add", {"key": "new", "value": "x"}),
        ("/delete-prefix", {"prefix": "k"}),
        ("/rename", {"title": "renamed"}),
        ("/delete", {"confirm": namespace["title"]}),
    ):
        answer = page.request.post(base + path, multipart={"csrf": csrf, **form})
        assert answer.status == 403, path
        assert "read-only" in answer.text()
    answer = page.request.post(
        f"{dashboard(server)}/namespaces", form={"csrf": csrf, "title": "from-reader"}
    )
    assert answer.status == 403
    assert page.request.get(f"{base}/edit?key=k").status == 403
    got = api.get(f"{server.namespaces_url()}/{ns}/values/k")
    assert got.content == b"v"


def test_usable_by_keyboard(
    page: Page, server: Live, token: str, namespace: dict[str, str]
) -> None:
    page.goto(f"{dashboard(server)}/signin")
    expect(page.locator("#token")).to_be_focused()  # the token field has the focus
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Namespaces")
    # The first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Tab on to the namespace's link and open it, as a person without a mouse would.
    # (The session's server holds every dashboard test's namespaces: two links a row.)
    for _ in range(page.locator("a, button, input, select").count()):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == namespace["title"]:
            break
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(namespace["title"])
    # Focus is visible: the focused element has an outline.
    page.focus("#prefix")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_readable_on_a_narrow_screen(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "a-rather-long-key:" + "segment/" * 20, "v", expiration_ttl=600)
    put(api, server, ns, "short", "v")
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, server, token, then=f"/namespaces/{ns}")
    expect(page.locator("table.keys td.key")).to_have_count(2)
    # Nothing is wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "18-narrow-keys")
    page.locator("table.keys td.key a").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "19-narrow-key")
