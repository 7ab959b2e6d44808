"""The processes bench_server loads: `edgekv serve`, the bare ASGI app, and Miniflare.

Each is started as users start it, on port 0, and tells its address on stdout
(`... listening on http://HOST:PORT`); each is stopped with SIGTERM, as a supervisor would.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tests" / "e2e" / "node" / "node_modules"
EDGEKV = str(Path(sys.executable).with_name("edgekv"))
_LISTENING = re.compile(r"listening on (http://[^\s]+)")


class Served:
    """A server process and the base URL it reported."""

    def __init__(
        self, name: str, command: list[str], cwd: Path, env: dict[str, str], *, wait: bool = True
    ) -> None:
        """`wait=False` returns at once: call `wait_for_url()` (processes started together)."""
        self.name = name
        self.log = cwd / f"{name.replace(' ', '_')}.log"
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
        )
        self.url = self.wait_for_url() if wait else ""

    def wait_for_url(self, timeout: float = 60.0) -> str:
        assert self.process.stdout is not None
        fd, text = self.process.stdout.fileno(), ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.25)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                text += chunk.decode()
                found = _LISTENING.search(text)
                if found:
                    self.url = found.group(1)
                    return self.url
            elif self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {text}{self.log.read_text()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKV_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "xdg"))
    return env


def edgekv_admin(data_dir: Path, *args: str) -> str:
    """`edgekv <args> --data-dir DIR`, as an operator runs it; returns stdout."""
    done = subprocess.run(
        [EDGEKV, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=_env(data_dir),
        check=True,
        timeout=60,
    )
    return done.stdout.decode().strip()


def start_edgekv(data_dir: Path, *flags: str, name: str = "edgekv serve") -> Served:
    """`edgekv serve` on the embedded SQLite store in `data_dir`, with auth, as users run it
    (and `flags`)."""
    command = [EDGEKV, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
    return Served(name, [*command, *flags], data_dir, _env(data_dir))


def start_routed(data_dir: Path) -> Served:
    """`edgekv serve`'s app with its value routes reached through the router (server_routed)."""
    command = [sys.executable, "-m", "benchmarks.server_routed", str(data_dir)]
    env = _env(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return Served("value routes through the router", command, data_dir, env)


def start_bare(work: Path, *, starlette: bool = False) -> Served:
    """The bare ASGI app (or, with `starlette`, one Starlette route) on edgekv's server stack."""
    command = [sys.executable, "-m", "benchmarks.server_bare", "0"]
    command += ["starlette"] if starlette else []
    env = _env(work)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return Served("Starlette route" if starlette else "bare ASGI app", command, work, env)


def miniflare_available() -> bool:
    return (NODE_MODULES / "miniflare").is_dir()


def start_miniflare(work: Path, key: str, length: int) -> Served:
    script = Path(__file__).with_name("server_miniflare.cjs")
    command = ["node", str(script), str(NODE_MODULES), key, str(length)]
    return Served("Miniflare", command, work, _env(work))
