from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import edgekv
from tests.cache import workers


def test_lease_across_4_processes_loads_once(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    with edgekv.KV(f"sqlite:///{path}") as kv:
        kv.create_namespace("CACHE")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(4)
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        futures = [
            pool.submit(workers.leased_get_or_set, str(path), barrier, 250) for _ in range(4)
        ]
        results = [r for f in futures for r in f.result(timeout=120)]
    assert len(results) == 1000
    assert len(set(results)) == 1  # everyone got the one loaded value
    with edgekv.KV(f"sqlite:///{path}") as kv:
        assert kv.namespace("CACHE").get("loads") == "1"
