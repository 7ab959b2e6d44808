"""Several processes on one SQLite file: durability under SIGKILL, concurrent writers, and
reads of what another process wrote."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import edgekv
from edgekv.model import Change

from .child import value_for

CHILD = Path(__file__).with_name("child.py")
pytestmark = pytest.mark.slow


def spawn(*args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def new_namespace(path: Path, title: str) -> str:
    with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
        return kv.create_namespace(title).id


def acknowledged(lines: list[str]) -> dict[str, int]:
    """key -> version, for every complete `put` line (a line cut by the kill is no ack)."""
    acks = {}
    for line in lines:
        if not line.endswith("\n"):
            continue
        parts = line.split()
        if len(parts) == 3 and parts[0] == "put":
            acks[parts[1]] = int(parts[2])
    return acks


def assert_present(ns: edgekv.Namespace, acks: dict[str, int], large_every: int) -> None:
    for key, version in acks.items():
        got = ns.get_with_metadata(key, "bytes")
        i = int(key[-6:])
        large = bool(large_every) and i % large_every == 0
        assert got.value == value_for(key, large), key
        assert got.metadata == {"i": i}
        assert got.version == version, key


def integrity_ok(path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    namespace_id = new_namespace(path, "crash")
    all_acks: dict[str, int] = {}
    for round_, stop_after in enumerate((150, 400)):
        child = spawn("write", str(path), namespace_id, f"r{round_}-", "-1", "--large-every", "25")
        assert child.stdout is not None
        lines: list[str] = []
        try:
            while len(lines) < stop_after:
                line = child.stdout.readline()
                assert line, child.stderr.read() if child.stderr else "child ended"
                lines.append(line)
            # Mid-stream: the child is writing its next value as it dies.
            os.kill(child.pid, signal.SIGKILL)
            lines += child.stdout.readlines()  # acknowledged before the kill, still in the pipe
        finally:
            child.kill()
            child.wait(timeout=30)
            child.stdout.close()
            if child.stderr:
                child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        acks = acknowledged(lines)
        assert len(acks) >= stop_after
        all_acks.update(acks)

        integrity_ok(path)
        with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
            ns = kv.namespace(namespace_id)
            assert_present(ns, all_acks, 25)
            # The file takes writes again after the crash.
            ns.put(f"after-{round_}", "ok")
            assert ns.get(f"after-{round_}") == "ok"


def _feed(store: edgekv.Store, position: str, namespace_id: str) -> list[Change]:
    out: list[Change] = []
    while True:
        page = store.changes(position, 1000)
        if not page.changes:
            return out
        out += [c for c in page.changes if c.namespace_id == namespace_id]
        position = page.position


def test_two_processes_write_one_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    namespace_id = new_namespace(path, "shared")
    with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
        start = kv.store.feed_position()
    count = 1200
    # Output to files, not pipes: a full pipe would stall one writer and spoil the race.
    logs = [tmp_path / f"{name}.out" for name in ("left", "right")]
    children = []
    for log in logs:
        with log.open("w") as out:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(CHILD),
                        "write",
                        str(path),
                        namespace_id,
                        f"{log.stem}-",
                        str(count),
                        "--incr",
                        "counter",
                        "--large-every",
                        "300",
                        "--wait",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
    outputs = []
    for child, log in zip(children, logs, strict=True):
        assert child.wait(timeout=300) == 0, child.stderr.read() if child.stderr else ""
        if child.stderr:
            child.stderr.close()
        outputs.append(log.read_text().splitlines(keepends=True))

    acks = [acknowledged(lines) for lines in outputs]
    assert [len(a) for a in acks] == [count, count]
    versions = [v for a in acks for v in a.values()]
    assert len(set(versions)) == 2 * count  # no two writes share a version
    counters = sorted(
        int(line.split()[1]) for lines in outputs for line in lines if line.startswith("incr")
    )
    assert counters == list(range(1, 2 * count + 1))  # every increment counted once

    integrity_ok(path)
    with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
        ns = kv.namespace(namespace_id)
        for a in acks:
            assert_present(ns, a, 300)
        assert ns.get("counter") == str(2 * count)
        listed: list[str] = []
        cursor = None
        while True:
            page = ns.list(cursor=cursor)
            listed += [k.name for k in page.keys]
            if page.list_complete:
                break
            cursor = page.cursor
        assert listed == sorted([*acks[0], *acks[1], "counter"])

        # The feed has every write, in the order the writes were acknowledged.
        changes = _feed(kv.store, start, namespace_id)
        seqs = [c.seq for c in changes]
        assert seqs == sorted(set(seqs))
        puts = [c for c in changes if c.key != "counter"]
        assert len(puts) == 2 * count
        assert len(changes) - len(puts) == 2 * count
        for a, prefix in zip(acks, ("left-", "right-"), strict=True):
            mine = [c for c in puts if c.key is not None and c.key.startswith(prefix)]
            assert [c.key for c in mine] == list(a)  # this process's order
            assert [c.seq for c in mine] == list(a.values())  # each at its version


def test_a_value_written_by_one_process_is_read_by_another(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    namespace_id = new_namespace(path, "handoff")
    with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
        ns = kv.namespace(namespace_id)
        version = ns.put("from-parent", "written by the parent ✓")
        out, err = spawn("read", str(path), namespace_id, "from-parent").communicate(timeout=60)
        assert json.loads(out) == {"value": "written by the parent ✓", "version": version}, err

        # The parent keeps its store open while the child writes: it must see the writes.
        assert ns.get("child-000000") is None
        child = spawn("write", str(path), namespace_id, "child-", "2", "--large-every", "2")
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        acks = acknowledged(out.splitlines(keepends=True))
        assert_present(ns, acks, 2)
        stream = ns.get("child-000000", "stream")
        assert stream is not None
        assert b"".join(stream) == value_for("child-000000", True)
        assert [k.name for k in ns.list(prefix="child-").keys] == ["child-000000", "child-000001"]
        ns.delete("child-000001")
        out, _ = spawn("read", str(path), namespace_id, "child-000001").communicate(timeout=60)
        assert json.loads(out) == {"value": None, "version": None}


def test_a_namespace_deleted_by_another_process_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    namespace_id = new_namespace(path, "deleted elsewhere")
    with edgekv.KV(edgekv.SQLiteStore(path)) as kv:
        ns = kv.namespace(namespace_id)
        ns.put("before", "v")  # this process now knows the namespace
        with edgekv.KV(edgekv.SQLiteStore(path)) as other:  # stands for another process
            other.delete_namespace(namespace_id)
        with pytest.raises(edgekv.NamespaceNotFound):
            ns.put("after", "v")
