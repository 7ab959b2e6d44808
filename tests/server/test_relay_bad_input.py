"""A relay's protocol (server/relay.py), given what no edge sends: integers past 64 bits, calls
with missing or mistyped arguments, deep JSON. The caller holds the relay's secret, and still
gets a 400, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgekv.server.app import create_app

from .conftest import run_server

SECRET = "relay-secret-for-tests"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db: Path = tmp_path_factory.mktemp("relay") / "kv.db"
    app = create_app(f"sqlite:///{db}", cache_size=1 << 20, relay_secret=SECRET)
    server, thread, port = run_server(app)
    headers = {"Authorization": f"Bearer {SECRET}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/relay/v1", headers=headers) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("incr", {"namespace_id": "n", "key": "k", "by": 2**64, "expiration": None}),
        ("incr", {"namespace_id": "n", "key": "k", "by": 1, "expiration": 10**30}),
        ("incr", {"namespace_id": "n"}),
        ("list_keys", {"namespace_id": "n", "prefix": "", "limit": "x"}),
        ("purge_expired", {"limit": 10**30}),
        ("get_many", {"namespace_id": "n", "keys": 7}),
    ],
)
def test_relay_calls_with_bad_arguments_are_400(
    relay: httpx.Client, method: str, args: dict[str, object]
) -> None:
    answer = relay.post(f"/call/{method}", json=args)
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    "query", [f"key=k&expiration={'9' * 30}", "key=k&if_version=²", f"key=k&if_version={2**64}"]
)
def test_relay_value_writes_with_bad_integers_are_400(relay: httpx.Client, query: str) -> None:
    answer = relay.put(f"/values/{'0' * 32}?{query}", content=b"v")
    assert answer.status_code == 400, answer.text


def test_relay_bad_input_elsewhere(relay: httpx.Client) -> None:
    assert relay.get(f"/values/{'0' * 32}?key=k&cache_ttl=-1").status_code == 400
    assert relay.get("/changes?limit=²").status_code == 400
    assert relay.post("/call/incr", content="[" * 100_000).status_code == 400
