"""wrk (Debian's `wrk` 4.1) as bench_server's load generator: one run, parsed.

Requests are described by a Lua script written per run, which is how wrk sends a method,
a body and headers such as `Authorization`. Latency percentiles come from `--latency`.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
CONNECTIONS = 32

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors:.*")
_TO_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    rate: float  # requests per second
    p99: float  # seconds
    errors: str  # "" when every answer was 2xx and no socket failed

    @staticmethod
    def parse(output: str) -> Load:
        rate, p99 = _RATE.search(output), _P99.search(output)
        if rate is None or p99 is None:
            raise RuntimeError(f"unexpected wrk output:\n{output}")
        problems = [m.group(0) for m in (_NON_2XX.search(output),) if m]
        problems += [m.group(0).strip() for m in (_SOCKET_ERRORS.search(output),) if m]
        return Load(
            float(rate.group(1)),
            float(p99.group(1)) * _TO_SECONDS[p99.group(2)],
            "; ".join(problems),
        )


def available() -> bool:
    return shutil.which("wrk") is not None


def lua_script(
    folder: Path,
    name: str,
    *,
    headers: dict[str, str],
    method: str = "GET",
    key_path: str | None = None,
    keys: int = 10_000,
    body: bytes = b"",
) -> Path:
    """A wrk script: fixed headers; with `key_path`, requests that cycle over `keys` keys."""
    lines = [f"wrk.method = {json.dumps(method)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body:
        lines.append(f"wrk.body = {json.dumps(body.decode('ascii'))}")
    if key_path is not None:
        lines += [
            "local n = 0",
            "function setup(thread) thread:set('offset', math.random(1000000)) end",
            "function request()",
            "  n = n + 1",
            f"  local i = (n + (offset or 0)) % {keys}",
            f"  return wrk.format(nil, {json.dumps(key_path)} .. i)",
            "end",
        ]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(url: str, script: Path, seconds: float) -> Load:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
    command += ["-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return Load.parse(done.stdout)


def median(loads: list[Load]) -> Load:
    """The median rate and p99 of repeated runs (errors: the median run's, or all of them)."""
    rates = sorted(loads, key=lambda load: load.rate)
    middle = rates[len(rates) // 2] if len(rates) % 2 else None
    return Load(
        statistics.median(load.rate for load in loads),
        statistics.median(load.p99 for load in loads),
        middle.errors if middle else "; ".join(filter(None, (load.errors for load in loads))),
    )


def load_rounds(
    runs: dict[str, Callable[[float], Load]], rounds: int, seconds: float
) -> dict[str, Load]:
    """Each load once per round, in turn (anchor, subject, anchor, subject, ...), after a
    warm-up of each; the median of each load's rounds. Interleaved so that a slow phase of
    the machine falls on both sides of a ratio."""
    for load in runs.values():  # warm-up: connections, caches, the JIT of workerd
        load(2.0)
    samples: dict[str, list[Load]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, load in runs.items():
            samples[name].append(load(seconds))
    return {name: median(s) for name, s in samples.items()}
