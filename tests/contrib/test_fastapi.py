from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI, Response
from fastapi.testclient import TestClient

import edgekv
from edgekv.cache import AsyncCache
from edgekv.contrib.fastapi import ResponseCache, namespace_dependency


@pytest.fixture
def app_and_counts(tmp_path: object) -> Iterator[tuple[FastAPI, dict[str, int]]]:
    kv = edgekv.AsyncKV("memory://")
    config_ns = namespace_dependency(kv, "CONFIG")
    cache = AsyncCache(None, ttl="30s")
    counts = {"products": 0, "private": 0}
    app = FastAPI()

    @app.put("/config/{key}")
    async def write(
        key: str,
        value: str,
        ns: edgekv.AsyncNamespace = Depends(config_ns),  # noqa: B008
    ) -> dict[str, str]:
        await ns.put(key, value)
        return {"ok": key}

    @app.get("/config/{key}")
    async def read(
        key: str,
        ns: edgekv.AsyncNamespace = Depends(config_ns),  # noqa: B008
    ) -> dict[str, str | None]:
        return {"value": await ns.get(key)}

    @app.get("/products")
    async def products(page: int = 1) -> dict[str, int]:
        counts["products"] += 1
        return {"page": page, "served": counts["products"]}

    @app.get("/products/private")
    async def private(response: Response) -> dict[str, int]:
        counts["private"] += 1
        response.headers["cache-control"] = "private"
        return {"served": counts["private"]}

    app.add_middleware(ResponseCache, cache=cache, paths=("/products",))
    yield app, counts


def test_namespace_dependency(app_and_counts: tuple[FastAPI, dict[str, int]]) -> None:
    app, _ = app_and_counts
    with TestClient(app) as client:
        assert client.put("/config/theme", params={"value": "dark"}).json() == {"ok": "theme"}
        assert client.get("/config/theme").json() == {"value": "dark"}
        assert client.get("/config/none").json() == {"value": None}


def test_response_cache(app_and_counts: tuple[FastAPI, dict[str, int]]) -> None:
    app, counts = app_and_counts
    with TestClient(app) as client:
        first = client.get("/products", params={"page": 2})
        second = client.get("/products", params={"page": 2})
        assert first.headers["x-edgekv-cache"] == "MISS"
        assert second.headers["x-edgekv-cache"] == "HIT"
        assert first.json() == second.json() == {"page": 2, "served": 1}
        assert second.headers["content-type"] == "application/json"
        assert client.get("/products", params={"page": 3}).json()["served"] == 2
        bypass = client.get("/products", params={"page": 2}, headers={"cache-control": "no-cache"})
        assert bypass.json()["served"] == 3 and "x-edgekv-cache" not in bypass.headers
        client.get("/products/private")
        client.get("/products/private")
        assert counts["private"] == 2  # Cache-Control: private is never stored
