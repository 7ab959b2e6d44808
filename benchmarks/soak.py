"""Soak with faults: `make soak` (SOAK_SECONDS, default 600, split evenly over the stores).

For each central store (a SQLite file; a private PostgreSQL; a private Redis with `appendfsync
always`), three `edgekv serve` edges run over it and several client processes send mixed reads,
writes, deletes, bulk writes, bulk reads and list pages through them, each request bounded by a
client deadline. Meanwhile a fault is injected every FAULT_EVERY seconds, in turn: kill -9 of an
edge (restarted 2 s later), a frozen store (SIGSTOP, SIGCONT FREEZE seconds later, longer than
the client deadline; for SQLite, another process holding an exclusive lock as long), a store
restarted (killed, as on a crash, and
started again 2 s later). After each fault a probe writes and reads through every edge until
all three answer: the time from the fault's end to then is its recovery time, and the span from
its start to recovery (+1 s) is its window.

Printed per store, with the issue's goals:
- acknowledged writes lost (goal 0): every key has one writer (its client), which remembers the
  last value the server acknowledged and the values whose outcome it does not know (timed out,
  5xx, connection lost mid-request); at the end each key is read strongly and must hold one of
  them (a value of an earlier, unacknowledged write showing up instead is counted apart);
- 5xx outside the fault windows (goal 0), and connection errors outside them;
- requests unanswered past the client deadline (goal 0), inside windows and out;
- RSS growth of each process (edges, each life of an edge apart, and the store's server) from
  its first sample after warm-up to its last (goal within 10 %);
- recovery time after each fault.

Loopback only; every process it starts is its own (its own PostgreSQL and Redis on free ports)
and stopped at the end. Not a test and not part of `make test` or `make bench`.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.server_procs import EDGEKV, _env
from edgekv.model import DEFAULT_ACCOUNT

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
STORES = [s for s in os.environ.get("SOAK_STORES", "sqlite,postgres,redis").split(",") if s]
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "4"))
DEADLINE = float(os.environ.get("SOAK_DEADLINE", "10"))  # client timeout per request, seconds
FAULT_EVERY = float(os.environ.get("SOAK_FAULT_EVERY", "20"))
# Longer than the client deadline: a server that does not bound a call to a frozen store
# leaves requests unanswered past it (the goal is a 503 within the server's deadline).
FREEZE = float(os.environ.get("SOAK_FREEZE", "12"))
KEEP = os.environ.get("SOAK_KEEP") == "1"  # keep the work directory (the edges' logs)
EDGES = 3
KEYS_PER_CLIENT = 200
WARMUP = 5.0  # seconds before the first fault and the first RSS sample that counts
COOLDOWN = 8.0  # seconds of load after the last fault's recovery
RSS_EVERY = 2.0
BASE = f"/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# central stores


class Central:
    """A central store the soak owns: its URL, and the faults it can suffer."""

    name = ""
    url = ""

    def start(self) -> None: ...

    def freeze(self, seconds: float) -> None: ...

    def restart(self, down: float) -> None: ...

    def pids(self) -> list[int]:
        return []

    def stop(self) -> None: ...


class SQLiteCentral(Central):
    name = "sqlite"

    def __init__(self, work: Path) -> None:
        self.path = work / "kv.db"
        self.url = f"sqlite:///{self.path}"

    def freeze(self, seconds: float) -> None:
        # No server to stop: another process holds the file's write lock instead.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(seconds)
            db.execute("ROLLBACK")
        finally:
            db.close()


class PostgresCentral(Central):
    name = "postgres"

    def __init__(self, work: Path) -> None:
        from tests import pg_instance

        self.instance = pg_instance.PostgresInstance(max_connections=200)
        self.url = f"{self.instance.url}?schema=soak"

    def start(self) -> None:
        self.instance.start()

    def pids(self) -> list[int]:
        pid_file = self.instance.data / "postmaster.pid"
        try:
            main = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [main, *_children(main)]

    def freeze(self, seconds: float) -> None:
        pids = self.pids()
        _signal_all(pids, signal.SIGSTOP)
        time.sleep(seconds)
        _signal_all(pids, signal.SIGCONT)

    def restart(self, down: float) -> None:
        self.instance.restart(down_for=down, mode="immediate")  # as on a crash

    def stop(self) -> None:
        self.instance.destroy()


class RedisCentral(Central):
    name = "redis"

    def __init__(self, work: Path) -> None:
        self.dir = work / "redis"
        self.dir.mkdir()
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.dir / "log"),
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def pids(self) -> list[int]:
        return [] if self.process is None else [self.process.pid]

    def freeze(self, seconds: float) -> None:
        _signal_all(self.pids(), signal.SIGSTOP)
        time.sleep(seconds)
        _signal_all(self.pids(), signal.SIGCONT)

    def restart(self, down: float) -> None:
        self.stop()  # kill -9: only what appendfsync always wrote survives
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


# edges


@dataclass
class Edge:
    port: int
    store_url: str
    work: Path
    process: subprocess.Popen[bytes] | None = None
    lives: list[tuple[int, float]] = field(default_factory=list)  # (pid, started at)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.work / f"edge-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [
                EDGEKV,
                "serve",
                "--store",
                self.store_url,
                "--port",
                str(self.port),
                "--no-auth",
                "--workers",
                "1",
                "--no-dashboard",
            ],
            env=_env(self.work / "home"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        self.lives.append((self.process.pid, time.monotonic()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"edge on port {self.port} exited: see {log.name}")
            time.sleep(0.1)
        raise RuntimeError(f"edge on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# clients


@dataclass
class ClientPlan:
    index: int
    edges: list[str]
    namespace: str
    until: float  # time.time() at which to stop
    out: Path
    seed: int


def client(plan: ClientPlan) -> None:
    """One client process: random calls on its own keys, each the only writer of its keys."""
    rng = random.Random(plan.seed)
    keys = [f"c{plan.index}/k{n:03d}" for n in range(KEYS_PER_CLIENT)]
    # Per key: the last acknowledged value (None: absent), the values whose outcome is
    # unknown since, and every value ever sent.
    acked: dict[str, str | None] = dict.fromkeys(keys)
    unsure: dict[str, set[str | None]] = {k: set() for k in keys}
    sent: dict[str, set[str]] = {k: set() for k in keys}
    records: list[tuple[float, float, str, int, str]] = []
    answers: list[tuple[float, str]] = []  # (start, body) of each 5xx, to show what it said
    ns = f"{BASE}/{plan.namespace}"
    seq = 0
    clients = [httpx.Client(base_url=e, timeout=DEADLINE) for e in plan.edges]

    def call(op: str, edge: int, method: str, path: str, **options: Any) -> str:
        start = time.time()
        try:
            answer = clients[edge].request(method, f"{ns}/{path}", **options)
            outcome = str(answer.status_code)
            if answer.status_code >= 500:
                answers.append((start, answer.text[:200]))
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.ConnectError:
            outcome = "connect"  # never sent
        except httpx.HTTPError:
            outcome = "lost"  # connection dropped mid-request: sent, outcome unknown
        records.append((start, time.time(), op, edge, outcome))
        return outcome

    def wrote(names: list[str], values: list[str | None], outcome: str) -> None:
        for name, value in zip(names, values, strict=True):
            if outcome == "200":
                acked[name], unsure[name] = value, set()
            elif outcome in ("timeout", "lost") or outcome.startswith("5"):
                unsure[name].add(value)

    while time.time() < plan.until:
        edge = rng.randrange(len(clients))
        roll = rng.random()
        if roll < 0.45:
            call("read", edge, "GET", f"values/{rng.choice(keys)}")
        elif roll < 0.65:
            key, seq = rng.choice(keys), seq + 1
            value = f"{plan.index}:{seq}"
            sent[key].add(value)
            wrote([key], [value], call("write", edge, "PUT", f"values/{key}", content=value))
        elif roll < 0.70:
            key = rng.choice(keys)
            wrote([key], [None], call("delete", edge, "DELETE", f"values/{key}"))
        elif roll < 0.78:
            names = rng.sample(keys, 10)
            values: list[str | None] = []
            for name in names:
                seq += 1
                values.append(f"{plan.index}:{seq}")
                sent[name].add(f"{plan.index}:{seq}")
            body = [{"key": k, "value": v} for k, v in zip(names, values, strict=True)]
            wrote(names, values, call("bulk write", edge, "PUT", "bulk", json=body))
        elif roll < 0.90:
            call("bulk read", edge, "POST", "bulk/get", json={"keys": rng.sample(keys, 20)})
        else:
            prefix = f"c{plan.index}/k{rng.randrange(10)}"
            call("list", edge, "GET", "keys", params={"prefix": prefix, "limit": 50})
    for c in clients:
        c.close()
    state = {
        k: {"acked": acked[k], "unsure": sorted(unsure[k], key=str), "sent": sorted(sent[k])}
        for k in keys
    }
    plan.out.write_text(json.dumps({"records": records, "keys": state, "answers": answers}))


# faults


@dataclass
class Fault:
    kind: str
    started: float
    ended: float = 0.0
    recovered: float | None = None

    @property
    def window(self) -> tuple[float, float]:
        end = self.recovered if self.recovered is not None else float("inf")
        return self.started, end + 1.0


def probe(edges: list[Edge], namespace: str, limit: float) -> float | None:
    """Writes and reads back through every edge until all answer; when, or None by `limit`."""
    token = 0
    with httpx.Client(timeout=2.0) as c:
        while time.time() < limit:
            token += 1
            ok = True
            for i, edge in enumerate(edges):
                url = f"{edge.url}{BASE}/{namespace}/values/probe-{i}"
                try:
                    put = c.put(url, content=str(token))
                    got = c.get(url, headers={"Cache-Control": "no-cache"})
                    ok = ok and put.status_code == 200 and got.text == str(token)
                except httpx.HTTPError:
                    ok = False
            if ok:
                return time.time()
            time.sleep(0.1)
    return None


FREEZE_KIND = f"freeze the store {FREEZE:g} s"


def inject(kind: str, central: Central, edges: list[Edge], rng: random.Random) -> None:
    if kind == "kill -9 an edge":
        edge = rng.choice(edges)
        edge.kill()
        time.sleep(2.0)
        edge.start()
    elif kind == FREEZE_KIND:
        central.freeze(FREEZE)
    elif kind == "restart the store":
        central.restart(2.0)


def fault_kinds(store: str) -> list[str]:
    if store == "sqlite":
        return ["kill -9 an edge", FREEZE_KIND]  # the freeze: a lock held elsewhere
    return ["kill -9 an edge", FREEZE_KIND, "restart the store"]


# one store's run


@dataclass
class Report:
    store: str
    seconds: float
    lines: list[str]


def soak_store(store: str, seconds: float) -> Report:
    work = Path(tempfile.mkdtemp(prefix=f"edgekv-soak-{store}-"))
    central: Central = {
        "sqlite": SQLiteCentral,
        "postgres": PostgresCentral,
        "redis": RedisCentral,
    }[store](work)
    edges = [Edge(_free_port(), central.url, work) for _ in range(EDGES)]
    rng = random.Random(store)
    processes: list[Any] = []
    try:
        central.start()
        for edge in edges:
            edge.start()
        created = httpx.post(f"{edges[0].url}{BASE}", json={"title": "soak"}, timeout=DEADLINE)
        created.raise_for_status()
        namespace = created.json()["result"]["id"]
        began = time.time()
        until = began + seconds
        plans = [
            ClientPlan(i, [e.url for e in edges], namespace, until, work / f"client-{i}.json", i)
            for i in range(CLIENTS)
        ]
        ctx = multiprocessing.get_context("spawn")
        processes = [ctx.Process(target=client, args=(plan,)) for plan in plans]
        for p in processes:
            p.start()

        rss: dict[str, list[tuple[float, int]]] = {}
        # Memory is compared from when a process has warmed up (imports, pools, caches).
        rss_warmup = max(WARMUP, 0.1 * seconds)
        next_rss = 0.0

        def sample() -> None:
            nonlocal next_rss
            if time.time() < next_rss:
                return
            next_rss = time.time() + RSS_EVERY
            now = time.monotonic()
            for i, edge in enumerate(edges):
                pid, born = edge.lives[-1]
                if now - born >= rss_warmup:
                    kib = _rss_kib(pid)
                    if kib is not None:
                        rss.setdefault(f"edge {i + 1} (pid {pid})", []).append((now, kib))
            pids = central.pids()
            if pids and time.time() - began >= rss_warmup:
                kib = _rss_kib(pids[0])
                if kib is not None:
                    rss.setdefault(f"{store} server (pid {pids[0]})", []).append((now, kib))

        faults: list[Fault] = []
        kinds = fault_kinds(store)
        next_fault = began + WARMUP
        while time.time() < until - COOLDOWN - FAULT_EVERY / 2:
            sample()
            if time.time() >= next_fault:
                fault = Fault(kinds[len(faults) % len(kinds)], time.time())
                inject(fault.kind, central, edges, rng)
                fault.ended = time.time()
                fault.recovered = probe(edges, namespace, fault.ended + 60)
                faults.append(fault)
                next_fault = max(fault.started + FAULT_EVERY, time.time() + 2)
            time.sleep(0.2)
        while time.time() < until:
            sample()
            time.sleep(0.2)
        for p in processes:
            p.join(DEADLINE + 30)
        sample()
        lines = _summary(store, plans, faults, rss, edges, namespace, began)
        return Report(store, time.time() - began, lines)
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
        for edge in edges:
            edge.stop()
        central.stop()
        if KEEP:
            print(f"  (kept {work}: the edges' logs are edge-<port>.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _summary(
    store: str,
    plans: list[ClientPlan],
    faults: list[Fault],
    rss: dict[str, list[tuple[float, int]]],
    edges: list[Edge],
    namespace: str,
    began: float,
) -> list[str]:
    records: list[tuple[float, float, str, int, str]] = []
    keys: dict[str, dict[str, Any]] = {}
    answers: dict[float, str] = {}
    for plan in plans:
        if not plan.out.exists():
            return [f"client {plan.index} wrote no results (it failed: see above)"]
        data = json.loads(plan.out.read_text())
        records += [(r[0], r[1], r[2], r[3], r[4]) for r in data["records"]]
        keys.update(data["keys"])
        answers.update((start, body) for start, body in data["answers"])

    def in_window(t0: float, t1: float) -> bool:
        return any(a <= t1 and t0 <= b for a, b in (f.window for f in faults))

    counts: dict[str, int] = {}
    for _, _, op, _, _ in records:
        counts[op] = counts.get(op, 0) + 1
    out5 = sum(1 for t0, t1, _, _, o in records if o.startswith("5") and not in_window(t0, t1))
    in5 = sum(1 for t0, t1, _, _, o in records if o.startswith("5") and in_window(t0, t1))
    conn_out = sum(
        1 for t0, t1, _, _, o in records if o in ("connect", "lost") and not in_window(t0, t1)
    )
    late_out = sum(1 for t0, t1, _, _, o in records if o == "timeout" and not in_window(t0, t1))
    late_in = sum(1 for t0, t1, _, _, o in records if o == "timeout" and in_window(t0, t1))
    missing = sum(1 for *_, o in records if o == "404")
    other4 = sum(1 for *_, o in records if o.startswith("4") and o != "404")

    # Every key read strongly through the first edge.
    lost, superseded, checked, acked_writes = 0, 0, 0, 0
    examples: list[str] = []
    with httpx.Client(base_url=edges[0].url, timeout=DEADLINE) as c:
        for key, state in keys.items():
            got = c.get(f"{BASE}/{namespace}/values/{key}", headers={"Cache-Control": "no-cache"})
            value = got.text if got.status_code == 200 else None
            if got.status_code not in (200, 404):
                value = f"<{got.status_code}>"
            checked += 1
            acked_writes += state["acked"] is not None
            allowed = {state["acked"], *state["unsure"]}
            if value in allowed:
                continue
            if value in state["sent"]:
                superseded += 1  # an older, unacknowledged write landed after a newer one
            else:
                lost += 1
            if len(examples) < 5:
                examples.append(f"{key}: read {value!r}, acknowledged {state['acked']!r}")

    total = len(records)
    ops = ", ".join(f"{n:,} {op}s" for op, n in sorted(counts.items()))
    lines = [
        f"soak {store}: {time.time() - began:.0f} s, {CLIENTS} client processes, {EDGES} edges,"
        f" {total:,} requests ({ops}), client deadline {DEADLINE:g} s",
        f"  acknowledged writes lost: {lost} of {checked:,} keys checked ({acked_writes:,} ending"
        f" in an acknowledged value) (goal 0)",
    ]
    if superseded:
        lines.append(f"  keys holding an older unacknowledged write instead: {superseded}")
    lines += [f"    {e}" for e in examples]
    lines += [
        f"  5xx outside fault windows: {out5} (goal 0); inside: {in5}",
        *[
            f"    at {t0 - began:.1f} s, {op} through edge {edge + 1}: {o} {answers.get(t0, '')}"
            for t0, t1, op, edge, o in records
            if o.startswith("5") and not in_window(t0, t1)
        ][:5],
        f"  connection errors outside fault windows: {conn_out}",
        f"  unanswered past the deadline: {late_out} outside fault windows, {late_in} inside"
        " (goal 0)",
        f"  404 (reads of keys deleted or never written): {missing:,}; other 4xx: {other4}",
        "  RSS growth (first sample after warm-up -> last):",
    ]
    for name, samples in rss.items():
        if len(samples) < 2:
            continue
        first, last = samples[0][1], samples[-1][1]
        span = samples[-1][0] - samples[0][0]
        growth = 100.0 * (last - first) / first
        lines.append(
            f"    {name}: {first / 1024:.1f} -> {last / 1024:.1f} MiB over {span:.0f} s"
            f" ({growth:+.1f} %) (goal within 10 %)"
        )
    lines.append("  faults (time from start; recovery = fault end -> every edge writes and reads):")
    for f in faults:
        rec = "not recovered in 60 s" if f.recovered is None else f"{f.recovered - f.ended:.2f} s"
        a, b = f.window
        during = [o for t0, t1, _, _, o in records if a <= t1 and t0 <= b]
        lines.append(
            f"    {f.started - began:6.1f} s  {f.kind:<24} lasted {f.ended - f.started:5.1f} s,"
            f" recovered in {rec}; in its window {sum(o.startswith('5') for o in during)} 5xx,"
            f" {during.count('timeout')} unanswered, {during.count('connect')} refused"
        )
    return lines


def available(store: str) -> str | None:
    """Why a store cannot be soaked here, or None."""
    if store == "redis" and shutil.which("redis-server") is None:
        return "redis-server not installed"
    if store == "postgres":
        from tests import pg_instance

        if not pg_instance.available():
            return "no PostgreSQL server binaries (initdb, pg_ctl)"
    if store not in ("sqlite", "postgres", "redis"):
        return "unknown store (sqlite, postgres, redis)"
    return None


def main() -> bool:
    stores = [s for s in STORES if available(s) is None]
    for s in STORES:
        if s not in stores:
            print(f"(soak {s}: skipped, {available(s)})")
    if not stores:
        return False
    each = SOAK_SECONDS / len(stores)
    print(
        f"soak: {SOAK_SECONDS:.0f} s over {', '.join(stores)} ({each:.0f} s each); a fault every"
        f" {FAULT_EVERY:g} s",
        flush=True,
    )
    for store in stores:
        report = soak_store(store, each)
        print("\n".join(report.lines), flush=True)
    return True


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
