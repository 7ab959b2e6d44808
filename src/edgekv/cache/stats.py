"""Cache statistics: plain integer counters per policy pattern, summed per tier on demand.

The hot path does `counters.memory_hits += 1` on a slotted object and nothing else; totals,
hit rates and the Prometheus text are computed only when someone asks.
"""

from __future__ import annotations

from typing import Any

_COUNTERS = (
    "memory_hits",
    "memory_misses",
    "kv_hits",
    "kv_misses",
    "kv_errors",
    "misses",
    "loader_calls",
    "loader_errors",
    "stale_serves",
    "error_serves",
    "refreshes",
    "refresh_errors",
    "bypasses",
    "lease_waits",
)


class PolicyStats:
    """Counters of one policy pattern in one cache."""

    __slots__ = (*_COUNTERS, "loader_seconds", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        for name in _COUNTERS:
            setattr(self, name, 0)
        self.loader_seconds = 0.0

    # Attribute types for mypy: set in __init__ through setattr.
    memory_hits: int
    memory_misses: int
    kv_hits: int
    kv_misses: int
    kv_errors: int
    misses: int
    loader_calls: int
    loader_errors: int
    stale_serves: int
    error_serves: int
    refreshes: int
    refresh_errors: int
    bypasses: int
    lease_waits: int

    @property
    def hits(self) -> int:
        """Requests answered by a tier, fresh or stale, without waiting for the loader."""
        return self.memory_hits + self.kv_hits + self.stale_serves

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _COUNTERS}
        out["loader_seconds"] = self.loader_seconds
        out["hits"] = self.hits
        requests = self.hits + self.misses
        out["hit_rate"] = self.hits / requests if requests else 0.0
        return out


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


class Stats:
    """All counters of one cache; `as_dict()` for code, `prometheus()` for a /metrics page."""

    def __init__(self, name: str = "default") -> None:
        self.name = name
        self.policies: dict[str, PolicyStats] = {}
        self.memory_bytes = 0
        self.memory_entries = 0
        self.memory_evictions = 0

    def of(self, pattern: str) -> PolicyStats:
        try:
            return self.policies[pattern]
        except KeyError:
            stats = self.policies[pattern] = PolicyStats(pattern)
            return stats

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: 0 for name in _COUNTERS}
        out["loader_seconds"] = 0.0
        for p in self.policies.values():
            for name in _COUNTERS:
                out[name] += getattr(p, name)
            out["loader_seconds"] += p.loader_seconds
        out["hits"] = out["memory_hits"] + out["kv_hits"] + out["stale_serves"]
        out["hit_rate"] = _rate(out["hits"], out["hits"] + out["misses"])
        return out

    def as_dict(self) -> dict[str, Any]:
        t = self.totals()
        return {
            "total": t,
            "tiers": {
                "memory": {
                    "hits": t["memory_hits"],
                    "misses": t["memory_misses"],
                    "hit_rate": _rate(t["memory_hits"], t["memory_hits"] + t["memory_misses"]),
                    "bytes": self.memory_bytes,
                    "entries": self.memory_entries,
                    "evictions": self.memory_evictions,
                },
                "kv": {
                    "hits": t["kv_hits"],
                    "misses": t["kv_misses"],
                    "errors": t["kv_errors"],
                    "hit_rate": _rate(t["kv_hits"], t["kv_hits"] + t["kv_misses"]),
                },
                "loader": {
                    "calls": t["loader_calls"],
                    "errors": t["loader_errors"],
                    "seconds": t["loader_seconds"],
                },
            },
            "policies": {pattern: p.as_dict() for pattern, p in self.policies.items()},
        }

    def reset(self) -> None:
        self.policies.clear()
        self.memory_evictions = 0

    def prometheus(self, prefix: str = "edgekv_cache") -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        cache = _label(self.name)
        lines: list[str] = []

        def family(name: str, kind: str, help_: str, rows: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {prefix}_{name} {help_}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")
            for labels, value in rows:
                lines.append(f"{prefix}_{name}{{cache={cache}{labels}}} {value}")

        ps = list(self.policies.values())

        def per_policy(attr: str) -> list[tuple[str, float]]:
            return [(f",policy={_label(p.pattern)}", getattr(p, attr)) for p in ps]

        rows: list[tuple[str, float]] = []
        for p in ps:
            pl = f",policy={_label(p.pattern)}"
            rows += [(f',tier="memory"{pl}', p.memory_hits), (f',tier="kv"{pl}', p.kv_hits)]
        family("hits_total", "counter", "Reads answered by a cache tier.", rows)
        rows = []
        for p in ps:
            pl = f",policy={_label(p.pattern)}"
            rows += [(f',tier="memory"{pl}', p.memory_misses), (f',tier="kv"{pl}', p.kv_misses)]
        family("misses_total", "counter", "Reads a cache tier could not answer.", rows)
        family(
            "stale_serves_total",
            "counter",
            "Expired values served while refreshing.",
            per_policy("stale_serves"),
        )
        family(
            "error_serves_total",
            "counter",
            "Old values served because loader or store failed.",
            per_policy("error_serves"),
        )
        family(
            "refreshes_total", "counter", "Background refreshes started.", per_policy("refreshes")
        )
        rows = []
        for p in ps:
            pl = f",policy={_label(p.pattern)}"
            rows += [
                (f',source="loader"{pl}', p.loader_errors),
                (f',source="kv"{pl}', p.kv_errors),
                (f',source="refresh"{pl}', p.refresh_errors),
            ]
        family("errors_total", "counter", "Failures of the loader or the KV store.", rows)
        family("loader_calls_total", "counter", "Calls of the loader.", per_policy("loader_calls"))
        family(
            "loader_seconds_total",
            "counter",
            "Time spent in the loader.",
            per_policy("loader_seconds"),
        )
        family(
            "bypasses_total",
            "counter",
            "Calls for keys whose policy says never cache.",
            per_policy("bypasses"),
        )
        family(
            "hit_ratio",
            "gauge",
            "Hits over hits and misses, all tiers.",
            [(f",policy={_label(p.pattern)}", round(p.as_dict()["hit_rate"], 6)) for p in ps],
        )
        family("memory_bytes", "gauge", "Bytes held by the memory tier.", [("", self.memory_bytes)])
        family(
            "memory_entries",
            "gauge",
            "Entries held by the memory tier.",
            [("", self.memory_entries)],
        )
        family(
            "memory_evictions_total",
            "counter",
            "Entries evicted to stay within the byte bound.",
            [("", self.memory_evictions)],
        )
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
