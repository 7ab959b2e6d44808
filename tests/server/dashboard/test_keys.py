"""The key browser and the editor: add a key, find it by prefix, page, edit, conflict, delete."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from tests.server.conftest import Live

from .conftest import Shoot, dashboard, put, sign_in


def _value(api: httpx.Client, server: Live, namespace_id: str, key: str) -> httpx.Response:
    return api.get(f"{server.namespaces_url()}/{namespace_id}/values/{quote(key, safe='')}")


def test_add_a_key_find_it_by_prefix_and_open_it(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    for key in ("session:1", "session:2", "zebra"):
        put(api, server, ns, key, b"other")
    sign_in(page, server, token, then=f"/namespaces/{ns}")
    page.click("text=Add key")
    page.fill("#key", "user:42")
    page.fill("#value", '{"name": "Ada", "roles": ["admin"]}\n')
    page.fill("#metadata", '{"owner": "ops"}')
    page.fill("#ttl", "3600")
    shoot(page, "06-add-key")
    page.click("button:has-text('Add key')")
    expect(page.locator(".notice")).to_have_text("Key added.")
    got = _value(api, server, ns, "user:42")
    assert got.content == b'{"name": "Ada", "roles": ["admin"]}\n'  # LF kept, not CRLF
    assert json.loads(got.headers["cf-kv-metadata"]) == {"owner": "ops"}
    assert int(got.headers["expiration"]) > 0

    page.goto(f"{dashboard(server)}/namespaces/{ns}")
    page.fill("#prefix", "user:")
    page.press("#prefix", "Enter")
    rows = page.locator("table.keys tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("user:42")
    expect(rows.first).to_contain_text('{"owner":"ops"}')
    expect(rows.first).to_contain_text(re.compile(r"in (59 min|1 h)"))
    expect(rows.first.locator("td[data-label=Size]")).to_have_text("36 B")
    expect(rows.first.locator("td[data-label='Last write']")).to_have_text(
        re.compile(r"just now|\d+ s ago")
    )
    # The namespace's totals: four keys, their values' bytes (36 + 3 x 5).
    expect(page.locator("#usage")).to_have_text("4 keys · 51 B stored")
    shoot(page, "07-keys-by-prefix")

    rows.first.locator("a").click()
    expect(page.locator("#key-name")).to_have_text("user:42")
    expect(page.locator("#written-at")).to_contain_text("UTC")
    expect(page.locator("#value")).to_contain_text('"roles": [\n    "admin"\n  ]')  # pretty JSON
    shoot(page, "08-key-json")


def test_page_through_many_keys(
    page: Page, server: Live, token: str, api: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = namespace["id"]
    pairs = [{"key": f"item:{i:04d}", "value": str(i)} for i in range(260)]
    answer = api.put(f"{server.namespaces_url()}/{ns}/bulk", json=pairs)
    assert answer.status_code == 200, answer.text
    sign_in(page, server, token, then=f"/namespaces/{ns}")
    rows = page.locator("table.keys tbody tr")
    seen: list[str] = []
    for expected in (100, 100, 60):
        expect(rows).to_have_count(expected)
        seen += rows.locator("td.key").all_inner_texts()
        if len(seen) < 260:
            page.click("#next-page")
    assert seen == [p["key"] for p in pairs]  # every key once, in order
    expect(page.locator("#next-page")).to_have_count(0)
    expect(page.locator("#range")).to_contain_text("Keys 201–260 (the last)")
    page.click("text=First page")
    expect(rows.first).to_contain_text("item:0000")


def test_edit_a_key_as_a_conditional_write(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "config", "line one\nline two")
    sign_in(page, server, token, then=f"/namespaces/{ns}/key?key=config")
    page.click("#edit")
    expect(page.locator("#value")).to_have_value("line one\nline two")
    shoot(page, "09-edit")
    page.fill("#value", "line one\nline 2")
    page.fill("#metadata", '{"edited": true}')
    page.click("#save")
    expect(page.locator(".notice")).to_have_text("Saved.")
    expect(page.locator("#value")).to_have_text("line one\nline 2")
    got = _value(api, server, ns, "config")
    assert got.content == b"line one\nline 2"
    assert json.loads(got.headers["cf-kv-metadata"]) == {"edited": True}


def test_the_editor_says_when_another_client_wrote_meanwhile(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "price", "10")
    sign_in(page, server, token, then=f"/namespaces/{ns}/edit?key=price")
    page.fill("#value", "12")
    put(api, server, ns, "price", "11")  # another client, while the editor is open
    page.click("#save")
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("This key changed since you opened it")
    expect(conflict).to_contain_text("Nothing was saved")
    expect(conflict.locator("pre")).to_have_text("11")  # what is there now
    expect(page.locator("#value")).to_have_value("12")  # the draft is kept
    shoot(page, "10-edit-conflict")
    assert _value(api, server, ns, "price").content == b"11"  # not overwritten
    page.click("#save")  # saving again, having seen it, writes the draft
    expect(page.locator(".notice")).to_have_text("Saved.")
    assert _value(api, server, ns, "price").content == b"12"


def test_a_key_deleted_meanwhile_is_not_recreated_silently(
    page: Page, server: Live, token: str, api: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "gone", "x")
    sign_in(page, server, token, then=f"/namespaces/{ns}/edit?key=gone")
    api.delete(f"{server.namespaces_url()}/{ns}/values/gone")
    page.fill("#value", "y")
    page.click("#save")
    expect(page.locator("#conflict")).to_contain_text("deleted since you opened it")
    assert _value(api, server, ns, "gone").status_code == 404


def test_bad_metadata_and_ttl_get_the_contracts_messages(
    page: Page, server: Live, token: str, api: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "k", "v")
    sign_in(page, server, token, then=f"/namespaces/{ns}/edit?key=k")
    page.fill("#metadata", "{not json")
    page.click("#save")
    expect(page.locator(".failed")).to_have_text("Metadata must be valid JSON.")
    expect(page.locator("#metadata")).to_have_value("{not json")  # the draft is kept
    page.fill("#metadata", "")
    page.fill("#ttl", "5")
    page.click("#save")
    expect(page.locator(".failed")).to_contain_text(
        "Invalid expiration_ttl of 5. Expiration TTL must be at least 60."
    )
    assert _value(api, server, ns, "k").content == b"v"


def test_delete_a_key(
    page: Page, server: Live, token: str, api: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = namespace["id"]
    put(api, server, ns, "doomed", "x")
    sign_in(page, server, token, then=f"/namespaces/{ns}/key?key=doomed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete')")
    expect(page.locator(".notice")).to_have_text("Key deleted.")
    assert _value(api, server, ns, "doomed").status_code == 404


def test_delete_a_prefix_after_a_dry_run(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    pairs = [{"key": f"cache:temp:{i}", "value": "x"} for i in range(1500)]
    pairs += [{"key": "cache:keep", "value": "y"}]
    assert api.put(f"{server.namespaces_url()}/{ns}/bulk", json=pairs).status_code == 200
    sign_in(page, server, token, then=f"/namespaces/{ns}?prefix=cache:temp:")
    page.click("text=Delete every key with this prefix")
    expect(page.locator("#dry-run")).to_have_text("Dry run: 1,500 keys would be deleted.")
    assert _value(api, server, ns, "cache:temp:1").status_code == 200  # a dry run deletes none
    shoot(page, "11-delete-prefix-dry-run")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete them')")
    expect(page.locator(".notice")).to_have_text("Every key under the prefix was deleted.")
    keys = api.get(f"{server.namespaces_url()}/{ns}/keys").json()["result"]
    assert [k["name"] for k in keys] == ["cache:keep"]


def test_values_as_text_hex_image_and_download(
    page: Page,
    server: Live,
    token: str,
    api: httpx.Client,
    namespace: dict[str, str],
    shoot: Shoot,
) -> None:
    ns = namespace["id"]
    png = _png()
    put(api, server, ns, "logo.png", png)
    put(api, server, ns, "blob", bytes(range(256)))
    sign_in(page, server, token, then=f"/namespaces/{ns}/key?key=logo.png")
    image = page.locator("img.preview")
    expect(image).to_be_visible()
    assert page.evaluate("document.querySelector('img.preview').naturalWidth") == 64
    shoot(page, "12-key-image")
    with page.expect_download() as download:
        page.click("text=Download")
    assert download.value.suggested_filename == "logo.png"
    assert download.value.path().read_bytes() == png

    page.goto(f"{dashboard(server)}/namespaces/{ns}/key?key=blob")  # not text: hex by default
    expect(page.locator(".tabs [aria-current=page]")).to_have_text("Hex")
    expect(page.locator("#value")).to_contain_text("00000000  00 01 02 03")
    shoot(page, "13-key-hex")
    page.click(".tabs >> text=Text")
    expect(page.locator("#value-panel")).to_contain_text("Not UTF-8 text")
    # The edit page keeps a binary value unless a file replaces it.
    page.goto(f"{dashboard(server)}/namespaces/{ns}/edit?key=blob")
    page.fill("#metadata", '{"kind": "bytes"}')
    page.click("#save")
    expect(page.locator(".notice")).to_have_text("Saved.")
    got = _value(api, server, ns, "blob")
    assert got.content == bytes(range(256))
    assert json.loads(got.headers["cf-kv-metadata"]) == {"kind": "bytes"}
    # Only a raster image is served inline: any other value is refused there.
    answer = page.request.get(f"{dashboard(server)}/namespaces/{ns}/raw?key=blob")
    assert answer.status == 400


def _png() -> bytes:
    """A 64x64 PNG, made here (zlib and CRCs) so the test needs no image library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4, y * 4, 160)) for x in range(64)) for y in range(64)
    )
    header = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
