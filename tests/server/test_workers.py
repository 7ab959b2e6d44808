"""`edgekv serve --workers N`: one node of N processes on one port, as users run it.

Requests go over fresh connections (one TCP connection each), so they land on whichever worker
accepts first: read-your-writes must hold whichever worker answers. `/healthz` lists the
workers (pid, leader, requests each served), which is how the tests see them spread.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgekv import KV
from edgekv.cli.store_choice import data_dir_store_url
from edgekv.model import DEFAULT_ACCOUNT
from tests.e2e.live import EDGEKV, spawn_serve, stop_process

NAMESPACES = f"/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    url: str
    home: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        port: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request over a connection of its own (so any worker may take it)."""
        host, own = self.address
        conn = http.client.HTTPConnection(host, port or own, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    def health(self) -> dict[str, Any]:
        status, body = self.request("GET", "/healthz")
        assert status == 200, body
        return dict(json.loads(body)["result"])

    def members(self) -> list[dict[str, Any]]:
        return list(self.health()["node"]["members"])

    def namespace(self, title: str) -> str:
        status, body = self.request("POST", NAMESPACES, json.dumps({"title": title}).encode())
        assert status == 200, body
        return str(json.loads(body)["result"]["id"])

    def log(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")


@contextmanager
def node(home: Path, *args: str, store: str | None = None) -> Iterator[Node]:
    home.mkdir(parents=True, exist_ok=True)
    command = [EDGEKV, "serve", "--no-auth", "--port", "0"]
    command += ["--store", store] if store else ["--data-dir", str(home / "data")]
    process, url, _ = spawn_serve([*command, *args], home, home / "serve.log")
    try:
        yield Node(process, url, home)
    finally:
        stop_process(process)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_read_your_writes_across_workers(tmp_path: Path) -> None:
    with node(tmp_path, "--workers", "2") as served:
        ns = served.namespace("ryw")
        before = {m["worker"]: m["requests"] for m in served.members()}
        stale: list[str] = []

        def client(n: int) -> None:
            path = f"{NAMESPACES}/{ns}/values/k{n}"
            for i in range(40):
                for _ in range(3):  # each worker that takes one of these caches the old value
                    served.request("GET", path)
                if i % 10 == 9:
                    assert served.request("DELETE", path)[0] == 200
                    want: tuple[int, bytes | None] = (404, None)
                else:
                    assert served.request("PUT", path, f"v{i}".encode())[0] == 200
                    want = (200, f"v{i}".encode())
                for _ in range(3):
                    status, body = served.request("GET", path)
                    if (status, body if status == 200 else None) != want:
                        stale.append(f"k{n} after v{i}: {status} {body!r}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert stale == [], stale[:5]
        after = served.members()
        assert len(after) == 2 and sum(m["leader"] for m in after) == 1
        served_by = [m["requests"] - before[m["worker"]] for m in after]
        # 8 clients x 40 rounds x 7 requests over fresh connections: both workers took many.
        assert min(served_by) > 100, served_by


def test_healthz_speaks_for_the_node(tmp_path: Path) -> None:
    with node(tmp_path, "--workers", "2", "--cache-size", "16MB") as served:
        health = served.health()
        assert health["status"] == "ok"
        assert health["node"]["workers"] == health["node"]["alive"] == 2
        assert health["edge"]["cache_max_bytes"] == 2 * (16 << 20)  # each worker's, summed
        assert health["edge"]["feed_healthy"] is True  # the leader's


def test_sigterm_drains_every_worker(tmp_path: Path) -> None:
    acknowledged: list[str] = []
    with node(tmp_path, "--workers", "2") as served:
        ns = served.namespace("drain")
        pids = [m["pid"] for m in served.members()]
        stop = threading.Event()

        def writer(n: int) -> None:
            i = 0
            while not stop.is_set():
                key = f"w{n}-{i}"
                try:
                    status, _ = served.request(
                        "PUT", f"{NAMESPACES}/{ns}/values/{key}", b"x" * 200_000
                    )
                except OSError:
                    return  # the node has stopped listening: not acknowledged
                if status == 200:
                    acknowledged.append(key)
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acknowledged) >= 60, 60, "writes to be acknowledged")
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(60) == -signal.SIGTERM  # as a single server ends
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not any(running(pid) for pid in pids)
        assert "Traceback" not in served.log()
    with KV(data_dir_store_url(tmp_path / "data")) as kv:
        namespace = kv.namespace(ns)
        for key in acknowledged:
            assert namespace.get(key, "bytes") == b"x" * 200_000, key


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    with node(tmp_path, "--workers", "2") as served:
        ns = served.namespace("replaced")
        path = f"{NAMESPACES}/{ns}/values/k"
        assert served.request("PUT", path, b"v1")[0] == 200
        for _ in range(10):  # both workers cache v1
            assert served.request("GET", path) == (200, b"v1")
        for index in (1, 0):  # a worker, then the leader (the one reading the feed)
            old = {m["worker"]: m["pid"] for m in served.members()}
            os.kill(old[index], signal.SIGKILL)

            def replaced(index: int = index, old: dict[int, int] = old) -> bool:
                members = {m["worker"]: m for m in served.members()}
                return index in members and members[index]["pid"] != old[index]

            wait_until(replaced, 30, f"worker {index} to be replaced")
            assert served.health()["node"]["alive"] == 2
        # A write made elsewhere reaches every worker through the new leader's feed.
        with KV(data_dir_store_url(tmp_path / "data")) as kv:
            kv.namespace(ns).put("k", "v2")
        wait_until(
            lambda: all(served.request("GET", path) == (200, b"v2") for _ in range(10)),
            10,
            "the write made elsewhere to reach both workers",
        )
        assert "replacing it" in served.log()


def test_workers_end_when_the_supervisor_is_gone(tmp_path: Path) -> None:
    with node(tmp_path, "--workers", "2") as served:
        pids = [m["pid"] for m in served.members()]
        served.process.kill()
        served.process.wait(10)
        wait_until(lambda: not any(running(pid) for pid in pids), 15, "the workers to end")


def test_workers_share_the_workerd_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with node(tmp_path, "--workers", "2", "--workerd-port", str(port)) as served:
        ns = served.namespace("workerd")
        binding = {"X-EdgeKV-Namespace": ns}
        for i in range(20):  # each over a connection of its own: both workers take some
            value = f"v{i}".encode()
            assert served.request("PUT", "/k", value, port=port, headers=binding)[0] == 200
            assert served.request("GET", "/k", port=port, headers=binding) == (200, value)
            assert served.request("GET", f"{NAMESPACES}/{ns}/values/k") == (200, value)


def test_a_node_that_cannot_start_exits(tmp_path: Path) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/none?schema=x"
    done = subprocess.run(
        [EDGEKV, "serve", "--port", "0", "--workers", "2", "--store", unreachable],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "could not start" in done.stderr


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("--store", "memory://"), "memory:// lives in one process"),
        (("--relay-secret", "s"), "a relay's change log lives in one process"),
    ],
)
def test_what_one_process_must_serve(tmp_path: Path, args: tuple[str, ...], why: str) -> None:
    done = subprocess.run(
        [EDGEKV, "serve", "--no-auth", "--port", "0", "--workers", "2", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EDGEKV_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert f"--workers must be 1 here: {why}" in done.stderr


@pytest.mark.parametrize("args", [(), ("--workers", "1")])
def test_one_worker_is_a_single_process(tmp_path: Path, args: tuple[str, ...]) -> None:
    with node(tmp_path, *args, store="memory://") as served:
        assert "node" not in served.health()  # today's single server
