"""`POST .../namespaces` with edgekv's `id` field, as raw HTTP (the RestStore side runs in the
conformance suite, tests/conformance/test_namespace_ids.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.stores.http.server import RestServer, rest_server


@pytest.fixture
def server() -> RestServer:
    shared = rest_server()
    shared.clock.target = time.time
    return shared


def create(server: RestServer, account_id: str, token: str, body: Any) -> httpx.Response:
    url = f"{server.url}/client/v4/accounts/{account_id}/storage/kv/namespaces"
    return httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_the_server_honours_a_chosen_id(server: RestServer) -> None:
    account_id, token = server.new_account()
    chosen = uuid.uuid4().hex
    answer = create(server, account_id, token, {"title": "CACHE", "id": chosen})
    assert answer.status_code == 200
    assert answer.json()["result"] == {
        "id": chosen,
        "title": "CACHE",
        "supports_url_encoding": True,
    }
    again = create(server, account_id, token, {"title": "other", "id": chosen})
    assert again.status_code == 400
    assert again.json()["errors"] == [
        {"code": 10039, "message": f"A namespace with the id {chosen} already exists."}
    ]


@pytest.mark.parametrize("bad", ["ABC", "A" * 32, 7, ["x"], {"id": "y"}, ""])
def test_a_bad_id_is_a_400_with_code_10038(server: RestServer, bad: Any) -> None:
    account_id, token = server.new_account()
    answer = create(server, account_id, token, {"title": "t", "id": bad})
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["code"] == 10038
    assert "A namespace id is 32 lowercase hexadecimal digits" in error["message"]
