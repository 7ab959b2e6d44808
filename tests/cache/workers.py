"""Functions that spawned processes run (importable by module name)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import edgekv
from edgekv.cache import AsyncCache


def leased_get_or_set(path: str, barrier: Any, concurrent: int) -> list[str]:
    async def run() -> list[str]:
        kv = edgekv.AsyncKV(f"sqlite:///{path}")
        ns = await kv.namespace("CACHE")
        cache = AsyncCache(ns)

        async def load() -> str:
            await ns.incr("loads")  # counted in the shared store: across processes
            await asyncio.sleep(0.5)
            return f"loaded at {time.time()}"

        barrier.wait()
        try:
            return list(
                await asyncio.gather(
                    *(cache.get_or_set("cold", load, lease=30) for _ in range(concurrent))
                )
            )
        finally:
            await kv.aclose()

    return asyncio.run(run())
