"""The dashboard's pages and forms, given what no form of theirs sends: numbers of any size or
in other scripts, huge Content-Lengths, versions past 64 bits, and a stored value too deep to
pretty-print. Each is a page (4xx or a fallback), never a 500. Plain HTTP with the session a
browser would hold: no page is rendered in Chromium here."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from ..conftest import Live
from .conftest import dashboard


@pytest.fixture
def browser_session(server: Live, token: str) -> Iterator[httpx.Client]:
    """A client signed in as a browser is: the session cookie, and the page's CSRF token."""
    with httpx.Client(base_url=dashboard(server), timeout=30) as client:
        form = client.get("/signin")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        assert nonce, form.text
        signed_in = client.post("/signin", data={"nonce": nonce[1], "token": token})
        assert signed_in.status_code == 303, signed_in.text
        yield client


def test_numbers_of_any_size_or_script_in_page_queries(
    browser_session: httpx.Client, namespace: dict[str, str]
) -> None:
    ns = f"/namespaces/{namespace['id']}"
    for query in ("limit=²", "limit=" + "9" * 5000, "n=" + "9" * 5000, "n=-1", "limit=1_000"):
        answer = browser_session.get(f"{ns}?{query}")
        assert answer.status_code == 200, (query, answer.status_code)
    for query in ("page=²", "page=" + "9" * 5000, "page=1_0"):
        answer = browser_session.get(f"/namespaces?{query}")
        assert answer.status_code == 200, (query, answer.status_code)


def test_a_version_past_64_bits_is_refused(
    browser_session: httpx.Client, api: httpx.Client, server: Live, namespace: dict[str, str]
) -> None:
    ns = f"/namespaces/{namespace['id']}"
    api.put(f"{server.namespaces_url()}/{namespace['id']}/values/k", content=b"v")
    page = browser_session.get(f"{ns}/edit", params={"key": "k"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    for version in ("9" * 30, "²", str(2**63)):
        answer = browser_session.post(
            f"{ns}/edit",
            data={"csrf": csrf[1], "key": "k", "version": version, "value": "new"},
        )
        assert answer.status_code == 400, (version, answer.status_code)
        assert "The form&#39;s version is not a number" in answer.text or (
            "The form's version is not a number" in answer.text
        )
    assert api.get(f"{server.namespaces_url()}/{namespace['id']}/values/k").content == b"v"


def test_a_form_with_a_content_length_of_any_size(
    server: Live, browser_session: httpx.Client, namespace: dict[str, str]
) -> None:
    """Sent over a socket of its own: HTTP clients refuse to send such a header."""
    host, port = server.url.removeprefix("http://").split(":")
    cookies = "; ".join(f"{k}={v}" for k, v in browser_session.cookies.items())
    for length in ("9" * 5000, "9" * 30, "²", "-1"):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                f"POST /dashboard/namespaces/{namespace['id']}/rename HTTP/1.1\r\n"
                f"Host: {host}\r\nCookie: {cookies}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n\r\ntitle=x".encode()
            )
            status_line = sock.makefile("rb").readline()
        status = int(status_line.split()[1])
        assert 400 <= status < 500, (length, status_line)


def test_a_value_too_deep_to_pretty_print_is_shown_as_text(
    browser_session: httpx.Client, api: httpx.Client, server: Live, namespace: dict[str, str]
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    api.put(f"{server.namespaces_url()}/{namespace['id']}/values/deep", content=deep.encode())
    answer = browser_session.get(f"/namespaces/{namespace['id']}/key", params={"key": "deep"})
    assert answer.status_code == 200, answer.status_code


def test_metadata_holding_a_lone_surrogate_is_shown(
    browser_session: httpx.Client, api: httpx.Client, server: Live, namespace: dict[str, str]
) -> None:
    pair = b'[{"key": "s", "value": "\\"\\ud800\\"", "metadata": {"m": "\\ud800"}}]'
    assert (
        api.put(f"{server.namespaces_url()}/{namespace['id']}/bulk", content=pair).status_code
        == 200
    )
    for page in ("key", "edit"):
        answer = browser_session.get(f"/namespaces/{namespace['id']}/{page}", params={"key": "s"})
        assert answer.status_code == 200, (page, answer.status_code)
        assert "\\ud800" in answer.text
