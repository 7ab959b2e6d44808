"""The CLI tests run the installed `edgekv` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

EDGEKV = str(Path(sys.executable).with_name("edgekv"))


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class CLI:
    """Runs `edgekv` with a private HOME and data dir, so no test touches a real one."""

    home: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, input: bytes | str | None = None, cwd: Path | None = None, ok: bool = True
    ) -> Result:
        env = self.environment()
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [EDGEKV, *args],
            input=data if data is not None else b"",
            capture_output=True,
            cwd=cwd or self.cwd,
            env=env,
            timeout=120,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr.decode())
        if ok and result.code != 0:
            raise AssertionError(f"edgekv {' '.join(args)} failed ({result.code}): {result.err}")
        return result

    def environment(self) -> dict[str, str]:
        """The environment `edgekv` runs in: no EDGEKV_* of the caller's, a private HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKV_")}
        env.update(HOME=str(self.home), XDG_DATA_HOME=str(self.home / "xdg"))
        env.update(self.env)
        return env

    def fail(self, *args: str, input: bytes | str | None = None, cwd: Path | None = None) -> str:
        """Runs a command that must fail as wrangler fails: exit 1, `✘ [ERROR] ...` on stderr;
        returns the error."""
        result = self.run(*args, input=input, cwd=cwd, ok=False)
        assert result.code == 1, (result.code, result.err)
        # Anything before the error (a progress bar's label) is not part of it.
        assert "✘ [ERROR] " in result.err, result.err
        return result.err[result.err.index("✘ [ERROR] ") :]


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    work = tmp_path / "work"
    work.mkdir()
    return CLI(home=tmp_path / "home", cwd=work)


@pytest.fixture
def data(tmp_path: Path) -> list[str]:
    """The store options most tests pass: a data dir of their own."""
    return ["--data-dir", str(tmp_path / "data")]


def create_namespace(cli: CLI, data: list[str], title: str = "TEST") -> str:
    cli.run("kv", "namespace", "create", title, *data)
    found = [ns for ns in cli.run("kv", "namespace", "list", *data).json() if ns["title"] == title]
    return str(found[0]["id"])
