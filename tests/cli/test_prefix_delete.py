"""`edgekv kv key delete --prefix P [--dry-run] [--force]`, and a key with `*` in it, through
the real command against a store with known keys."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from edgekv import KV
from edgekv.cli.store_choice import sqlite_url
from tests.cli.conftest import CLI, EDGEKV, create_namespace

UNDER = 10_500  # more than a bulk delete (10,000) and than a list page (1,000)
PREFIX = "cache:temp:"


@pytest.fixture
def ns(cli: CLI, data: list[str], tmp_path: Path) -> list[str]:
    """A namespace with UNDER keys under PREFIX and three beside it; its options."""
    namespace_id = create_namespace(cli, data)
    with KV(sqlite_url(tmp_path / "data" / "kv.db")) as kv:
        namespace = kv.namespace(namespace_id)
        for start in range(0, UNDER, 5000):
            namespace.bulk_put(
                {"key": f"{PREFIX}{i:05d}", "value": "x"}
                for i in range(start, min(UNDER, start + 5000))
            )
        for key in ("cache:temp", "cache:keep", "other"):
            namespace.put(key, "kept")
    return ["--namespace-id", namespace_id, *data]


def keys(cli: CLI, ns: list[str], prefix: str = "") -> list[str]:
    listed = cli.run("kv", "key", "list", "--prefix", prefix, *ns).json()
    return [k["name"] for k in listed]


def test_prefix_delete_deletes_every_page_in_bulk(cli: CLI, ns: list[str]) -> None:
    done = cli.run("kv", "key", "delete", "--prefix", PREFIX, "--force", *ns)
    assert done.text.startswith(
        f'Deleted {UNDER} keys under the prefix "{PREFIX}" on namespace id:'
    )
    assert f"Deleting {UNDER} keys" in done.err  # the progress bar's label, on stderr
    assert keys(cli, ns, PREFIX) == []
    assert keys(cli, ns) == ["cache:keep", "cache:temp", "other"]
    again = cli.run("kv", "key", "delete", "--prefix", PREFIX, "-y", *ns)
    assert again.text.startswith(f'No keys under the prefix "{PREFIX}"')


def test_dry_run_counts_and_shows_keys_and_deletes_nothing(cli: CLI, ns: list[str]) -> None:
    done = cli.run("kv", "key", "delete", "--prefix", PREFIX, "--dry-run", *ns)
    lines = done.text.splitlines()
    assert lines[0].startswith(f'Would delete {UNDER} keys under the prefix "{PREFIX}"')
    assert lines[1:4] == [f"  {PREFIX}00000", f"  {PREFIX}00001", f"  {PREFIX}00002"]
    assert lines[-1] == f"  ... and {UNDER - 10} more"
    assert len(keys(cli, ns, PREFIX)) == UNDER


def test_no_terminal_needs_force(cli: CLI, ns: list[str]) -> None:
    error = cli.fail("kv", "key", "delete", "--prefix", PREFIX, *ns)
    assert f"Delete {UNDER} keys under the prefix" in error
    assert "stdin is not a terminal" in error and "Pass --force (-y)" in error
    assert len(keys(cli, ns, PREFIX)) == UNDER


@pytest.mark.parametrize(("answer", "left"), [("n", UNDER), ("y", 0)])
def test_a_terminal_is_asked(cli: CLI, ns: list[str], answer: str, left: int) -> None:
    """On a terminal the question is asked, default no."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKV_")}
    env.update(HOME=str(cli.home), XDG_DATA_HOME=str(cli.home / "xdg"))
    try:
        proc = subprocess.Popen(
            [EDGEKV, "kv", "key", "delete", "--prefix", PREFIX, *ns],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.write(leader, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 0, err
    assert f"Delete {UNDER} keys under the prefix" in err.decode()
    assert (b"Not deleting." in out) == (answer == "n")
    assert len(keys(cli, ns, PREFIX)) == left


def test_a_key_with_a_star_is_literal_and_the_user_is_told(cli: CLI, ns: list[str]) -> None:
    cli.run("kv", "key", "put", "cache:temp:*", "the star", *ns)
    done = cli.run("kv", "key", "delete", "cache:temp:*", *ns)
    assert done.text.startswith('Deleting the key "cache:temp:*" on namespace id:')
    assert '"*" is no wildcard' in done.err
    assert 'use --prefix "cache:temp:"' in done.err
    assert "cache:temp:*" not in keys(cli, ns)
    assert len(keys(cli, ns, PREFIX)) == UNDER  # nothing else went


def test_key_or_prefix(cli: CLI, ns: list[str]) -> None:
    assert "Give a KEY or --prefix" in cli.fail("kv", "key", "delete", *ns)
    assert "not both" in cli.fail("kv", "key", "delete", "k", "--prefix", "p", *ns)
    assert "--dry-run goes with --prefix" in cli.fail("kv", "key", "delete", "k", "--dry-run", *ns)
