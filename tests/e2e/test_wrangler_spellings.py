"""wrangler's spellings: `namespace create --preview` prints what wrangler 4.86.0 prints (the
real CLI, against a live `edgekv serve`), and wrangler 3's `kv:` commands are aliases."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.live import EDGEKV, LiveServer, Wrangler, _clean_env

_ID = re.compile(r"[0-9a-f]{32}")


def edgekv(cwd: Path, data: Path, *args: str) -> str:
    done = subprocess.run(
        [EDGEKV, *args, "--data-dir", str(data)],
        capture_output=True,
        cwd=cwd,
        env=_clean_env(cwd / "home"),
        timeout=60,
        check=True,
    )
    return done.stdout.decode()


def _from_creating(text: str) -> list[str]:
    """The lines from "Creating namespace" on, ids masked (each side makes its own)."""
    lines = text[text.index("🌀 Creating") :].strip().splitlines()
    return [_ID.sub("<id>", line) for line in lines]


@pytest.mark.parametrize(
    ("config", "args"),
    [
        (None, ["SESSIONS", "--preview"]),  # as seed 002 runs it
        ("wrangler.toml", ["USERS", "--preview"]),
        ("wrangler.json", ["my-cache", "--preview", "--env", "production"]),
        ("wrangler.toml", ["CACHE", "--env", "production"]),  # as seed 001 runs it
    ],
)
def test_create_prints_what_wrangler_prints(
    wrangler: Wrangler, tmp_path: Path, config: str | None, args: list[str]
) -> None:
    if config == "wrangler.toml":
        (wrangler.cwd / config).write_text('name = "app"\n[env.production]\nname = "app-prod"\n')
    elif config == "wrangler.json":
        (wrangler.cwd / config).write_text('{"name": "app", "env": {"production": {}}}\n')
    theirs = wrangler.run("kv", "namespace", "create", *args).text
    ours = edgekv(wrangler.cwd, tmp_path / "data", "kv", "namespace", "create", *args)
    assert _from_creating(ours) == _from_creating(theirs)


def test_wrangler3_spellings_are_aliases(server: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = edgekv(tmp_path, data, "kv:namespace", "create", "CONFIG")
    namespace_id = _ID.search(created)
    assert namespace_id is not None
    ns = ["--namespace-id", namespace_id.group(0)]
    edgekv(tmp_path, data, "kv:key", "put", "flag:beta", '{"enabled":true}', *ns)
    (tmp_path / "data.json").write_text('[{"key": "flag:new", "value": "{}"}]')
    edgekv(tmp_path, data, "kv:bulk", "put", str(tmp_path / "data.json"), *ns)
    assert edgekv(tmp_path, data, "kv:key", "get", "flag:beta", *ns) == '{"enabled":true}'
    listed = edgekv(tmp_path, data, "kv:key", "list", *ns)
    assert '"flag:beta"' in listed and '"flag:new"' in listed
    assert "CONFIG" in edgekv(tmp_path, data, "kv:namespace", "list")
