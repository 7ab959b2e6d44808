"""The CLI fails cleanly, through the real `edgekv` command: an unreachable store is one line
(`✘ [ERROR] central store unavailable: <reason>`, exit 1, no traceback, no driver log) within a
bounded time; a missing extra names its install command; a closed stdout is not an error; a
deletion nobody could confirm is refused."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CLI, EDGEKV, create_namespace

# Every command here must end well inside this (the CLI's connect deadline is 5 s); a hang
# fails the test rather than the suite.
BOUND = 30


def _refusing_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _silent_server() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel) and never answered: a frozen or
    black-holed server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def _fails_as_unavailable(cli: CLI, store: str, reason: str) -> None:
    result = cli.run("kv", "namespace", "list", "--store", store, ok=False)
    assert result.code == 1, result.err
    assert result.err == f"✘ [ERROR] central store unavailable: {reason}\n", result.err
    assert result.out == b""


@pytest.mark.parametrize(
    "scheme", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"]
)
def test_a_refused_store_is_one_line(cli: CLI, scheme: str) -> None:
    _fails_as_unavailable(cli, scheme.format(port=_refusing_port()), "connection refused")


@pytest.mark.parametrize(
    "scheme", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"]
)
def test_a_silent_store_is_given_up_on(cli: CLI, scheme: str) -> None:
    # libpq and redis-py wait forever by default for a server that accepted and says nothing.
    with _silent_server() as port:
        _fails_as_unavailable(cli, scheme.format(port=port), "timed out")


def test_the_account_commands_fail_cleanly_too(cli: CLI) -> None:
    result = cli.run(
        "account", "list", "--store", f"redis://127.0.0.1:{_refusing_port()}/0", ok=False
    )
    assert (result.code, result.err) == (
        1,
        "✘ [ERROR] central store unavailable: connection refused\n",
    )


def test_a_missing_extra_names_its_install_command(tmp_path: Path) -> None:
    # The driver made unimportable, as on an install without the extra.
    code = (
        "import sys; sys.modules['psycopg'] = None; from edgekv.cli import main; "
        "main(['kv', 'namespace', 'list', '--store', 'postgresql://127.0.0.1/x'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=BOUND, cwd=tmp_path
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err.startswith("✘ [ERROR] postgresql:// URLs need the postgres extra"), err
    assert err.rstrip().endswith("pip install 'edgekv[postgres]'"), err
    assert "Traceback" not in err


def test_a_closed_stdout_is_not_an_error(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    pairs = ",".join(f'{{"key": "key-{i:05}", "value": "v"}}' for i in range(5000))
    (tmp_path / "pairs.json").write_text(f"[{pairs}]")
    cli.run("kv", "bulk", "put", str(tmp_path / "pairs.json"), *ns)
    # `edgekv kv key list ... | head -c 1`, its reader gone before the output is written.
    proc = subprocess.Popen(
        [EDGEKV, "kv", "key", "list", *ns],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=cli.environment(),
        cwd=cli.cwd,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=BOUND) == 0, err
    assert err == ""


@pytest.mark.parametrize(
    ("command", "flag"),
    [(["namespace", "delete"], "-y"), (["namespace", "delete"], "--force")],
)
def test_namespace_delete_refuses_without_a_flag_when_it_cannot_ask(
    cli: CLI, data: list[str], command: list[str], flag: str
) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    err = cli.fail("kv", *command, *ns)  # stdin is not a terminal
    assert "Pass --force (or -y) to delete without asking." in err
    assert len(cli.run("kv", "namespace", "list", *data).json()) == 1  # still there
    cli.run("kv", *command, *ns, flag)
    assert cli.run("kv", "namespace", "list", *data).json() == []


@pytest.mark.parametrize("flag", ["--force", "-f", "-y"])
def test_bulk_delete_refuses_without_a_flag_when_it_cannot_ask(
    cli: CLI, data: list[str], flag: str
) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    cli.run("kv", "key", "put", "k", "v", *ns)
    err = cli.fail("kv", "bulk", "delete", "-", *ns, input='["k"]')
    assert "Pass --force to delete without asking." in err
    assert [k["name"] for k in cli.run("kv", "key", "list", *ns).json()] == ["k"]
    cli.run("kv", "bulk", "delete", "-", flag, *ns, input='["k"]')
    assert cli.run("kv", "key", "list", *ns).json() == []
