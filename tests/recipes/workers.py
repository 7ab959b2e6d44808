"""Functions that spawned processes run (importable by module name)."""

from __future__ import annotations

import asyncio
from typing import Any

import edgekv
from edgekv.recipes import AsyncIdempotency


def claim_many(path: str, barrier: Any, concurrent: int) -> list[tuple[bool, str]]:
    async def run() -> list[tuple[bool, str]]:
        kv = edgekv.AsyncKV(f"sqlite:///{path}")
        idem = AsyncIdempotency(await kv.namespace("HOOKS"))
        barrier.wait()
        try:
            claims = await asyncio.gather(*(idem.claim("evt_1") for _ in range(concurrent)))
            seen = [(c.claimed, c.state) for c in claims]
            for c in claims:
                if c.claimed:
                    await asyncio.sleep(0.3)  # process it while the others keep claiming
                    await idem.complete(c, {"charged": True})
            late = await idem.claim("evt_1")
            for _ in range(200):  # the losers wait until the winner's completion shows
                if late.state == "done":
                    break
                await asyncio.sleep(0.05)
                late = await idem.claim("evt_1")
            return [*seen, (late.claimed, late.state)]
        finally:
            await kv.aclose()

    return asyncio.run(run())
