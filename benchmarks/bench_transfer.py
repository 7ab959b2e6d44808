"""Export and import of many small keys (1,000,000 by default) against the REST API's way.

Subjects, each a child process as a user runs it: `edgekv kv export` (JSON Lines, from the
SQLite store) and `edgekv kv import` (checked first, then atomic batches of 10,000). Anchors,
in the same run against a running `edgekv serve` over the same store: what Cloudflare's API
offers to take a namespace out (list pages of 1,000 keys, bulk reads of 100) and to bring one
in (bulk writes of 10,000 pairs), by a plain HTTP client writing and reading the same JSON
Lines. Each figure is one run (a million keys take long enough to average out noise). Memory
is the commands' anonymous memory at all the keys against at half of them, in the same run: it
must stay flat (the SQLite store's own page cache grows to its 64 MiB as the file does, so with
few keys the half may still be filling it).

EDGEKV_BENCH_TRANSFER_KEYS=100000 for a quick run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import edgekv
from benchmarks.harness import Timed, report
from edgekv.cli.store_choice import sqlite_url
from edgekv.testing import EdgeKVServer

KEYS = int(os.environ.get("EDGEKV_BENCH_TRANSFER_KEYS", "1000000"))
VALUE = '{"id":%d,"name":"item","v":1}'
ANON_GROWTH_GOAL = 1.15  # anonymous memory at all the keys against at half of them
EDGEKV = [sys.executable, "-c", "import sys; from edgekv.cli import main; sys.exit(main())"]

# The anchors: a plain httpx client doing what the REST API allows, in a child process.
LIST_AND_BULK_GET = r"""
import json, sys, httpx
base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
cursor, written = None, 0
with open(out, "w", encoding="utf-8") as f:
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/keys", params=params).json()
        keys = page["result"]
        for start in range(0, len(keys), 100):
            names = [k["name"] for k in keys[start:start + 100]]
            values = client.post(
                "/bulk/get", json={"keys": names, "type": "text", "withMetadata": True}
            ).json()["result"]["values"]
            for k in keys[start:start + 100]:
                got = values[k["name"]]
                line = {"key": k["name"], "value": got["value"]}
                if got.get("metadata") is not None:
                    line["metadata"] = got["metadata"]
                if "expiration" in k:
                    line["expiration"] = k["expiration"]
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                written += 1
        cursor = (page.get("result_info") or {}).get("cursor")
        if not cursor:
            break
print(written)
"""

BULK_PUT = r"""
import json, sys, httpx
base, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
batch, written = [], 0
with open(path, encoding="utf-8") as f:
    for line in f:
        batch.append(json.loads(line))
        if len(batch) == 10000:
            client.put("/bulk", json=batch).raise_for_status()
            written, batch = written + len(batch), []
if batch:
    client.put("/bulk", json=batch).raise_for_status()
    written += len(batch)
print(written)
"""


# A small process runs each measured command and reports its memory: the peak resident set
# (a child's maximum would count the memory of what it was forked from, which Linux keeps
# across exec, so the command is not forked from this process, which holds the fill's memory),
# and the peak of its anonymous memory (polled every 5 ms): what the program holds, without the
# pages of the SQLite file the store maps (up to 256 MiB, the kernel's to drop), which grow with
# the file read.
MEASURE = r"""
import re, resource, subprocess, sys, time
process = subprocess.Popen(sys.argv[1:])
anon = 0
while process.poll() is None:
    try:
        with open(f"/proc/{process.pid}/status") as status:
            found = re.search(r"RssAnon:\s+(\d+) kB", status.read())
        anon = max(anon, int(found.group(1)) if found else 0)
    except OSError:
        pass
    time.sleep(0.005)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"memory-kb {peak} {anon}", file=sys.stderr)
sys.exit(process.returncode)
"""


@dataclass
class Ran:
    seconds: float
    peak_mb: float  # resident set, the store's mapped file included
    anon_mb: float  # anonymous memory: what the program itself holds
    out: str


def child(command: list[str]) -> Ran:
    """Runs a command under MEASURE."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - start
    err = done.stderr.decode()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {err[-2000:]}")
    _, peak_kb, anon_kb = err.strip().splitlines()[-1].split()
    return Ran(elapsed, int(peak_kb) / 1024, int(anon_kb) / 1024, done.stdout.decode())


def fill(url: str, title: str, count: int) -> str:
    with edgekv.KV(url) as kv:
        ns = kv.create_namespace(title)
        for first in range(0, count, 10_000):
            last = min(first + 10_000, count)
            ns.bulk_put([{"key": f"item:{i:07}", "value": VALUE % i} for i in range(first, last)])
        return ns.id


def export_import(url: str, namespace_id: str, into: str, file: Path) -> tuple[Ran, Ran]:
    """`edgekv kv export` of a namespace, then `edgekv kv import` of the file into another."""
    store = ["--store", url]
    exported = child(
        [*EDGEKV, "kv", "export", "--namespace-id", namespace_id, *store, "-o", str(file)]
    )
    imported = child([*EDGEKV, "kv", "import", str(file), "--namespace-id", into, *store])
    return exported, imported


def main() -> bool:
    half = max(1, KEYS // 2)
    with tempfile.TemporaryDirectory(prefix="edgekv-bench-transfer-") as folder:
        root = Path(folder)
        url = sqlite_url(root / "kv.db")
        started = time.perf_counter()
        namespace_id = fill(url, "TRANSFER", KEYS)
        half_id = fill(url, "HALF", half)
        print(
            f"transfer: {KEYS} keys of ~{len(VALUE % KEYS)} bytes in SQLite "
            f"(and {half} for the memory check; filled in {time.perf_counter() - started:.1f} s)"
        )
        with edgekv.KV(url) as kv:
            into, half_into, anchor_into = (
                kv.create_namespace(title).id for title in ("IN", "HALF-IN", "ANCHOR-IN")
            )
        small = export_import(url, half_id, half_into, root / "half.jsonl")
        exported = root / "export.jsonl"
        ex, im = export_import(url, namespace_id, into, exported)
        assert sum(1 for _ in exported.open("rb")) == KEYS
        with EdgeKVServer(root / "serve", store=url, workerd=False) as server:
            api = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces"
            anchor = [server.token]
            out = str(root / "anchor.jsonl")
            got = child(
                [sys.executable, "-c", LIST_AND_BULK_GET, f"{api}/{namespace_id}", *anchor, out]
            )
            assert int(got.out) == KEYS, got.out
            put = child(
                [sys.executable, "-c", BULK_PUT, f"{api}/{anchor_into}", *anchor, str(exported)]
            )
            assert int(put.out) == KEYS, put.out
        ok = report(
            f"export {KEYS} keys (edgekv kv export)",
            Timed("export", ex.seconds),
            [(Timed("REST list + bulk get", got.seconds), 1.0)],
            unit="s",
        )
        ok &= report(
            f"import {KEYS} keys (edgekv kv import, checked first)",
            Timed("import", im.seconds),
            [
                (Timed("REST bulk put of 10,000", put.seconds), 1.5),
                (Timed("REST list + bulk get", got.seconds), 1.0),
            ],
            unit="s",
        )
        for what, big, less in (("export", ex, small[0]), ("import", im, small[1])):
            ratio = big.anon_mb / less.anon_mb
            passed = ratio <= ANON_GROWTH_GOAL
            ok &= passed
            print(
                f"{what} memory for {KEYS} keys: {big.anon_mb:.0f} MB anonymous (resident "
                f"{big.peak_mb:.0f} MB with the mapped file) | {ratio:.2f} x {less.anon_mb:.0f} MB "
                f"for {half} keys (goal <= {ANON_GROWTH_GOAL}: flat) {'PASS' if passed else 'MISS'}",
                flush=True,
            )
        print(
            f"anchors' memory: list + bulk get {got.anon_mb:.0f} MB anonymous, bulk put "
            f"{put.anon_mb:.0f} MB (clients of a server, which holds the store)",
            flush=True,
        )
        return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
