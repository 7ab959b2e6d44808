"""The store URL registry (edgekv.stores._async.urls): a PostgreSQL or Redis URL without its
extra installed says how to install it, in the Python API and in the CLI. Each case runs in a
Python of its own in which the extra's driver cannot be imported (None in sys.modules, as if it
were not installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_BLOCK = "import sys\nfor name in sys.argv[2].split(','):\n    sys.modules[name] = None\n"
_OPEN = """
import edgekv
for opened in (edgekv.AsyncKV, edgekv.KV):
    try:
        opened(sys.argv[1])
    except edgekv.KVError as e:
        print(type(e).__name__, e.status, e.message)
"""
_CLI = """
from edgekv.cli import main
sys.argv = ["edgekv", "kv", "namespace", "list", "--store", sys.argv[1]]
main()
"""


def _run(script: str, url: str, blocked: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", _BLOCK + script, url, blocked]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("url", "blocked", "install"),
    [
        ("postgresql://db.internal/app", "psycopg", "pip install 'edgekv[postgres]'"),
        ("postgres://db.internal/app", "psycopg_pool", "pip install 'edgekv[postgres]'"),
        ("redis://cache.internal:6379/0", "redis", "pip install 'edgekv[redis]'"),
        ("redis+cluster://a:7000,b:7001", "redis,hiredis", "pip install 'edgekv[redis]'"),
        ("rediss://cache.internal:6380/0", "msgpack", "pip install 'edgekv[redis]'"),
    ],
)
def test_a_url_without_its_extra_names_the_install_command(
    url: str, blocked: str, install: str
) -> None:
    api = _run(_OPEN, url, blocked)
    lines = api.stdout.splitlines()
    assert len(lines) == 2, api.stdout + api.stderr  # the async and the sync API alike
    for line in lines:
        assert line.startswith("KVError 500 ") and line.endswith(install), line
    cli = _run(_CLI, url, blocked)
    assert cli.returncode == 1
    assert cli.stderr.startswith("✘ [ERROR] ") and cli.stderr.rstrip().endswith(install)
    assert "Traceback" not in api.stderr + cli.stderr
