"""Timing helpers: interleaved rounds, medians, and one line per figure with its ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Timed:
    name: str
    seconds: float  # per operation, median of rounds

    @property
    def us(self) -> float:
        return self.seconds * 1e6


def per_op(fn: Callable[[], object], ops: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / ops


def interleaved(
    runs: dict[str, Callable[[], object]], ops: int, rounds: int = 7
) -> dict[str, Timed]:
    """Runs each callable (which performs `ops` operations) once per round, alternating."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in runs.items():
            samples[name].append(per_op(fn, ops))
    return {name: Timed(name, statistics.median(s)) for name, s in samples.items()}


def report(
    figure: str,
    subject: Timed,
    anchors: Sequence[tuple[Timed, float]],
    unit: str = "us",
) -> bool:
    """Prints `figure: X us | r x anchor (goal <= g) ...` and returns whether every goal holds."""
    scale = 1e6 if unit == "us" else 1e3 if unit == "ms" else 1.0
    parts = [f"{figure}: {subject.seconds * scale:.2f} {unit}"]
    ok = True
    for anchor, goal in anchors:
        ratio = subject.seconds / anchor.seconds
        passed = ratio <= goal
        ok &= passed
        parts.append(
            f"{ratio:.2f} x {anchor.name} ({anchor.seconds * scale:.2f} {unit}; goal <= {goal})"
            f" {'PASS' if passed else 'MISS'}"
        )
    print(" | ".join(parts), flush=True)
    return ok


def report_absolute(figure: str, subject: Timed, goal: float, unit: str = "ms") -> bool:
    scale = 1e3 if unit == "ms" else 1.0
    value = subject.seconds * scale
    passed = value <= goal
    print(
        f"{figure}: {value:.2f} {unit} (goal <= {goal} {unit}) {'PASS' if passed else 'MISS'}",
        flush=True,
    )
    return passed
