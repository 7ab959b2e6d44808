"""Tokens and accounts: every endpoint refuses who may not, and no token is ever kept in clear."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgekv.server.app import create_app

from .conftest import Live, run_server

WRITE = True
READ = False
ENDPOINTS: list[tuple[str, str, Any, bool]] = [
    ("GET", "", None, READ),
    ("POST", "", {"title": "made-here"}, WRITE),
    ("GET", "/{ns}", None, READ),
    ("PUT", "/{ns}", {"title": "renamed-here"}, WRITE),
    ("GET", "/{ns}/keys", None, READ),
    ("GET", "/{ns}/values/k", None, READ),
    ("PUT", "/{ns}/values/k", b"v", WRITE),
    ("DELETE", "/{ns}/values/k", None, WRITE),
    ("GET", "/{ns}/metadata/k", None, READ),
    ("POST", "/{ns}/incr/n", {}, WRITE),
    ("PUT", "/{ns}/bulk", [{"key": "b", "value": "v"}], WRITE),
    ("DELETE", "/{ns}/bulk", ["b"], WRITE),
    ("POST", "/{ns}/bulk/delete", ["b"], WRITE),
    ("POST", "/{ns}/bulk/get", {"keys": ["k"]}, READ),
    ("DELETE", "/{ns}", None, WRITE),
]
IDS = [f"{m} {p}" for m, p, _, _ in ENDPOINTS]


def call(
    client: httpx.Client, live: Live, ns: str, endpoint: tuple[str, str, Any, bool], **kw: Any
) -> httpx.Response:
    method, path, body, _ = endpoint
    url = live.namespaces_url(kw.pop("account", None)) + path.format(ns=ns)
    if isinstance(body, bytes):
        return client.request(method, url, content=body, **kw)
    return client.request(method, url, json=body, **kw)


def refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_no_token_or_a_wrong_one_is_401(live: Live, ns: str, endpoint: Any) -> None:
    with live.client() as client:
        refused(call(client, live, ns, endpoint), 401)
    with live.client("ekv_not-a-token") as client:
        refused(call(client, live, ns, endpoint), 401)
    with live.client() as client:
        answer = call(
            client, live, ns, endpoint, headers={"X-Auth-Key": "ekv_nope", "X-Auth-Email": "a@b"}
        )
        refused(answer, 401)


@pytest.mark.parametrize("path", ["/accounts", "/memberships", "/user/tokens/verify"])
def test_discovery_needs_a_token(live: Live, path: str) -> None:
    with live.client() as client:
        refused(client.get(live.api + path), 401)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_another_accounts_token_sees_nothing(live: Live, ns: str, endpoint: Any) -> None:
    other = live.new_account()
    with live.client(live.token(other)) as client:
        refused(call(client, live, ns, endpoint), 403)
        if endpoint[1].startswith("/{ns}"):
            # Through its own account's path the namespace does not exist.
            answer = call(client, live, ns, endpoint, account=other)
            assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == 10013
        listed = client.get(live.namespaces_url(other)).json()["result"]
        assert ns not in [n["id"] for n in listed]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_read_only_token_only_reads(live: Live, ns: str, endpoint: Any) -> None:
    with live.client(live.token(read_only=True)) as client:
        answer = call(client, live, ns, endpoint)
        if endpoint[3] is WRITE:
            refused(answer, 403)
        else:
            assert answer.status_code in (200, 404), answer.text
            assert answer.status_code == 200 or answer.json()["errors"][0]["code"] == 10009


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_namespace_scoped_token(live: Live, http: httpx.Client, ns: str, endpoint: Any) -> None:
    mine = http.post(live.namespaces_url(), json={"title": f"mine-{ns}"}).json()["result"]["id"]
    with live.client(live.token(namespaces=[mine])) as client:
        answer = call(client, live, ns, endpoint)
        if endpoint[:2] == ("GET", ""):
            assert [n["id"] for n in answer.json()["result"]] == [mine]
            assert answer.json()["result_info"]["total_count"] == 1
        else:
            refused(answer, 403)
        if endpoint[1].startswith("/{ns}"):
            assert call(client, live, mine, endpoint).status_code in (200, 404)


def test_x_auth_key_and_email(live: Live, token: str) -> None:
    with live.client() as client:
        headers = {"X-Auth-Email": "me@example.com", "X-Auth-Key": token}
        assert client.get(live.namespaces_url(), headers=headers).status_code == 200
        # The key alone is not enough, as at Cloudflare.
        refused(client.get(live.namespaces_url(), headers={"X-Auth-Key": token}), 401)


def test_revoked_token_is_refused(live: Live) -> None:
    secret = live.token()
    with live.client(secret) as client:
        assert client.get(live.namespaces_url()).status_code == 200
        token_id = client.get(live.api + "/user/tokens/verify").json()["result"]["id"]
        live.registry(lambda a: a.revoke_token(token_id))
        refused(client.get(live.namespaces_url()), 401)


def test_discovery_answers_like_cloudflare(live: Live, token: str) -> None:
    other = live.new_account("someone-else")
    with live.client(token) as client:
        accounts = client.get(live.api + "/accounts").json()
        assert [a["id"] for a in accounts["result"]] == [live.account_id]
        memberships = client.get(live.api + "/memberships", params={"page": 1}).json()["result"]
        assert memberships[0]["account"]["id"] == live.account_id
        assert other not in str(memberships)
        verify = client.get(live.api + "/user/tokens/verify").json()
        assert verify["success"] is True and verify["result"]["status"] == "active"
        one = client.get(f"{live.api}/accounts/{live.account_id}").json()["result"]
        assert one["id"] == live.account_id
        refused(client.get(f"{live.api}/accounts/{other}"), 403)
        refused(client.get(f"{live.api}/accounts/edgekv-system/storage/kv/namespaces"), 403)


def test_tokens_are_never_logged_nor_stored_in_clear(
    live: Live, ns: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = live.token()
    caplog.set_level(logging.DEBUG)
    with live.client(secret) as client:
        client.put(f"{live.namespaces_url()}/{ns}/values/k", content=b"v")
        client.get(f"{live.namespaces_url()}/{ns}/values/nope")
        client.get(f"{live.namespaces_url('f' * 32)}/{ns}/keys")
        client.get(live.namespaces_url(), headers={"X-Auth-Key": secret, "X-Auth-Email": "a@b"})
    assert any("values/k" in r.getMessage() for r in caplog.records)  # the access log ran
    assert secret not in caplog.text
    for path in Path(live.db).parent.iterdir():
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert secret.removeprefix("ekv_").encode() not in data, path


def test_no_auth_serves_known_accounts_only(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'kv.db'}", auth=False)
    server, thread, port = run_server(app)
    try:
        base = f"http://127.0.0.1:{port}/client/v4/accounts"
        with httpx.Client() as client:
            made = client.post(
                f"{base}/{app.state.account_id}/storage/kv/namespaces", json={"title": "t"}
            )
            assert made.status_code == 200
            unknown = client.get(f"{base}/{'a' * 32}/storage/kv/namespaces")
            assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == 7003
            system = client.get(f"{base}/edgekv-system/storage/kv/namespaces")
            assert system.status_code == 403
            assert [
                a["id"]
                for a in client.get(f"http://127.0.0.1:{port}/client/v4/accounts").json()["result"]
            ] == [app.state.account_id]
    finally:
        server.should_exit = True
        thread.join(30)
