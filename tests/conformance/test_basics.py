"""The binding's verbs round-trip on every store."""

from __future__ import annotations

import edgekv


async def test_put_get_round_trip(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("acme:tenant:config", '{"plan": "pro"}', expiration_ttl=900, metadata={"v": 1})
    assert await ns.get("acme:tenant:config") == '{"plan": "pro"}'
    assert await ns.get("acme:tenant:config", "json") == {"plan": "pro"}
    got = await ns.get_with_metadata("acme:tenant:config")
    assert got.metadata == {"v": 1}
    assert got.version is not None


async def test_missing_key_is_none(ns: edgekv.AsyncNamespace) -> None:
    assert await ns.get("nope") is None
