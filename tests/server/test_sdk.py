"""The official `cloudflare` Python SDK, pointed at a live edgekv server by base_url."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import cloudflare
import pytest
from cloudflare import Cloudflare

from .conftest import Live


@pytest.fixture
def cf(live: Live, token: str) -> Iterator[Cloudflare]:
    with Cloudflare(base_url=live.api, api_token=token, max_retries=0) as client:
        yield client


def test_namespaces(live: Live, cf: Cloudflare) -> None:
    account = live.account_id
    made = [cf.kv.namespaces.create(account_id=account, title=f"sdk-{i}") for i in range(5)]
    created = [n for n in made if n is not None]
    assert created[0].title == "sdk-0" and created[0].supports_url_encoding is True
    ids = {n.id for n in cf.kv.namespaces.list(account_id=account, per_page=2)}  # every page
    assert {n.id for n in created} <= ids
    one = cf.kv.namespaces.get(created[0].id, account_id=account)
    assert one is not None and one.title == "sdk-0"
    renamed = cf.kv.namespaces.update(created[0].id, account_id=account, title="sdk-renamed")
    assert renamed is not None and renamed.title == "sdk-renamed"
    with pytest.raises(cloudflare.BadRequestError, match="10014"):
        cf.kv.namespaces.create(account_id=account, title="sdk-1")
    for n in created:
        cf.kv.namespaces.delete(n.id, account_id=account)
    with pytest.raises(cloudflare.NotFoundError, match="10013"):
        cf.kv.namespaces.get(created[0].id, account_id=account)


def test_values_metadata_and_keys(live: Live, cf: Cloudflare, ns: str) -> None:
    account = live.account_id
    key = "a/b c?#%+😀"
    cf.kv.namespaces.values.update(
        key,
        value=b"hello",
        metadata={"owner": "ann", "n": 1},
        expiration_ttl=120,
        account_id=account,
        namespace_id=ns,
    )
    assert cf.kv.namespaces.values.get(key, account_id=account, namespace_id=ns).read() == b"hello"
    assert cf.kv.namespaces.metadata.get(key, account_id=account, namespace_id=ns) == {
        "owner": "ann",
        "n": 1,
    }
    cf.kv.namespaces.values.update(
        "s", value=b"\x00\xff", metadata='{"s":1}', account_id=account, namespace_id=ns
    )
    assert (
        cf.kv.namespaces.values.get("s", account_id=account, namespace_id=ns).read() == b"\x00\xff"
    )
    assert cf.kv.namespaces.metadata.get("s", account_id=account, namespace_id=ns) == {"s": 1}
    cf.kv.namespaces.values.update("plain", value=b"p", account_id=account, namespace_id=ns)
    for i in range(23):
        cf.kv.namespaces.values.update(
            f"page{i:02}", value=b"v", account_id=account, namespace_id=ns
        )
    listed = list(cf.kv.namespaces.keys.list(ns, account_id=live.account_id, limit=10))
    names = [k.name for k in listed]
    assert len(names) == 26 and names == sorted(names, key=lambda n: n.encode())
    first = next(k for k in listed if k.name == key)
    assert first.metadata == {"owner": "ann", "n": 1} and first.expiration
    prefixed = cf.kv.namespaces.keys.list(ns, account_id=live.account_id, prefix="a/")
    assert [k.name for k in prefixed] == [key]
    cf.kv.namespaces.values.delete(key, account_id=account, namespace_id=ns)
    cf.kv.namespaces.values.delete("never-there", account_id=account, namespace_id=ns)
    with pytest.raises(cloudflare.NotFoundError, match="10009"):
        cf.kv.namespaces.values.get(key, account_id=account, namespace_id=ns)


def test_bulk(live: Live, cf: Cloudflare, ns: str) -> None:
    account = live.account_id
    written = cf.kv.namespaces.bulk_update(
        ns,
        account_id=account,
        body=[
            {"key": "b1", "value": "v1"},
            {
                "key": "b2",
                "value": base64.b64encode(b"\x00\x01").decode(),
                "base64": True,
                "expiration_ttl": 120,
                "metadata": {"m": 1},
            },
        ],
    )
    assert written is not None and written.successful_key_count == 2
    got = cf.kv.namespaces.bulk_get(ns, account_id=account, keys=["b1", "nope"])
    assert got is not None and got.values == {"b1": "v1", "nope": None}
    meta = cf.kv.namespaces.bulk_get(
        ns, account_id=account, keys=["b2"], type="text", with_metadata=True
    )
    assert meta is not None
    item: Any = (meta.values or {})["b2"]
    assert item.metadata == {"m": 1} and item.expiration
    deleted = cf.kv.namespaces.bulk_delete(ns, account_id=account, body=["b1", "b2"])
    assert deleted is not None and deleted.successful_key_count == 2
    assert list(cf.kv.namespaces.keys.list(ns, account_id=account)) == []


def test_sdk_errors(live: Live, ns: str) -> None:
    with (
        Cloudflare(base_url=live.api, api_token="ekv_wrong", max_retries=0) as anonymous,
        pytest.raises(cloudflare.AuthenticationError),
    ):
        anonymous.kv.namespaces.list(account_id=live.account_id)
    reader = live.token(read_only=True)
    with (
        Cloudflare(base_url=live.api, api_token=reader, max_retries=0) as cf,
        pytest.raises(cloudflare.PermissionDeniedError),
    ):
        cf.kv.namespaces.values.update("k", account_id=live.account_id, namespace_id=ns, value=b"v")
    with Cloudflare(base_url=live.api, api_token=live.token(), max_retries=0) as cf:
        with pytest.raises(cloudflare.BadRequestError):
            cf.kv.namespaces.values.update(
                "k", account_id=live.account_id, namespace_id=ns, value=b"v", expiration_ttl=5
            )
        with pytest.raises(cloudflare.APIStatusError) as caught:
            cf.kv.namespaces.values.update(
                "x" * 513, account_id=live.account_id, namespace_id=ns, value=b"v"
            )
        assert caught.value.status_code == 414
