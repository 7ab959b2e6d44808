"""A private PostgreSQL server in a temporary directory, for tests that stop and restart it.

The shared PostgreSQL at 127.0.0.1:5432 must never be disturbed, so a test that restarts the
database runs its own: `initdb` and `pg_ctl` from the installed server, on a free loopback
port, trust authentication, fsync on (a restart must keep every committed write). initdb
refuses to run as root, so as root the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 30.0


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return None if initdb is None else Path(initdb).parent


def available() -> bool:
    if _bin_dir() is None:
        return False
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            pwd.getpwnam("postgres")
            return True
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresInstance:
    """`PostgresInstance().start()`; `url`, `restart()`, `stop()`, `kill()` (immediate mode)."""

    def __init__(self, max_connections: int = 100) -> None:
        bin_dir = _bin_dir()
        self.max_connections = max_connections
        assert bin_dir is not None, "no PostgreSQL server binaries"
        self.bin = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="edgekv-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        argv = list(command)
        if self._user is not None:
            argv = ["runuser", "-u", self._user, "--", *argv]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresInstance:
        if not self.data.exists():
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "--no-sync", "-E", "UTF8",
            )  # fmt: skip
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.directory} -c max_connections={self.max_connections} "
            "-c shared_buffers=32MB"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"),
            "-o", options, "-w", "-t", str(int(START_TIMEOUT)), "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: disconnects clients and shuts down cleanly; `immediate`: as on a crash."""
        with contextlib.suppress(RuntimeError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_for: float = 0.0, mode: str = "immediate") -> None:
        self.stop(mode)
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
