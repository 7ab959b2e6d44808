"""Runs the benchmarks: `python -m benchmarks [name ...]`: every bench_<name>.py here is one
(core, server, edge, toolkit, transfer), found by its file name."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = [
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    ]
    chosen = [n for n in names if not argv or n in argv]
    unknown = set(argv) - set(names)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(names)}")
        return 2
    failed = 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}")
        failed += 0 if module.main() else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
