"""The server's metric families, read at scrape time from what the server counts anyway.

Nothing here runs per request: requests and latency come from RequestMetrics' dicts, edge
results (HIT, MISS, EXPIRED, STALE, BYPASS) from the edge's own stats, memory from its tier,
the change feed's lag and reconnects from its follower, store faults from the count
stores/faults.py keeps of StoreUnavailable by reason.

Usage counters (reads, writes, deletes and lists per namespace, as Cloudflare bills them)
are the usage log's (analytics/log.py): what this server counted since it started, as of its
last flush (every 2 s), so they lag the requests by up to a flush.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from edgekv.analytics.log import UsageLog
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.server.metrics.requests import BUCKETS, RequestMetrics
from edgekv.stores.faults import UNAVAILABLE

# The edge's stats by result, as CF-Cache-Status names them.
RESULTS = {"hit": "HIT", "miss": "MISS", "expired": "EXPIRED", "stale": "STALE", "bypass": "BYPASS"}
BEHIND_PAGE = 1000  # changes behind are counted up to one feed page
BEHIND_TIMEOUT = 1.0  # seconds a scrape waits for the central store to count them


class Metrics:
    """The registry a server's /metrics renders: `await metrics.render()`."""

    def __init__(
        self,
        requests: RequestMetrics,
        edge: AsyncEdgeStore | None,
        usage_log: UsageLog | None = None,
    ) -> None:
        self.requests = requests
        self.edge = edge
        self.usage_log = usage_log
        self.behind: int | None = None  # counted by render(), read by collect()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    async def render(self) -> bytes:
        """The text exposition format (0.0.4), with the changes behind counted just now."""
        self.behind = await self._changes_behind()
        return generate_latest(self.registry)

    async def _changes_behind(self) -> int | None:
        """Changes in the central store's feed after the position this edge applied (up to
        BEHIND_PAGE); None where this process does not follow the feed or cannot ask."""
        edge = self.edge
        if edge is None or edge.feed_applied is None:
            return None
        try:
            async with asyncio.timeout(BEHIND_TIMEOUT):
                page = await edge.central.changes(edge.feed_applied, BEHIND_PAGE)
        except Exception:  # the store is down: the feed's health says so
            return None
        return len(page.changes) + page.left_out


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        edge = self.metrics.edge
        if edge is not None:
            yield from self._edge(edge)
        faults = CounterMetricFamily(
            "edgekv_store_unavailable",
            "Calls that failed with StoreUnavailable (503), by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(UNAVAILABLE.items()):
            faults.add_metric([reason], count)
        yield faults
        usage_log = self.metrics.usage_log
        if usage_log is not None and usage_log.usage is not None:
            yield from self._usage(usage_log)

    @staticmethod
    def _usage(usage_log: UsageLog) -> Iterator[Metric]:
        labels = ["account_id", "namespace_id", "action"]
        operations = CounterMetricFamily(
            "edgekv_usage_operations",
            "Operations as Cloudflare bills them (read, write, delete, list), by namespace.",
            labels=labels,
        )
        size = CounterMetricFamily(
            "edgekv_usage_bytes", "Bytes read and written, by namespace and action.", labels=labels
        )
        hits = CounterMetricFamily(
            "edgekv_usage_edge_hits",
            "Reads the edge answered from memory, by namespace.",
            labels=labels,
        )
        for (account, namespace, action), (requests, count_bytes, hit) in sorted(
            usage_log.counted.items()
        ):
            operations.add_metric([account, namespace, action], requests)
            size.add_metric([account, namespace, action], count_bytes)
            if action == "read":
                hits.add_metric([account, namespace, action], hit)
        yield operations
        yield size
        yield hits

    def _requests(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "edgekv_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        by_route: dict[tuple[str, str], list[float]] = {}
        for (route, method, status), counts in sorted(self.metrics.requests.series.items()):
            requests.add_metric([route, method, str(status)], sum(counts[:-1]))
            summed = by_route.setdefault((route, method), [0.0] * len(counts))
            for i, count in enumerate(counts):
                summed[i] += count
        yield requests
        latency = HistogramMetricFamily(
            "edgekv_http_request_duration_seconds",
            "Time from a request's arrival to its answer's end, by route template and method.",
            labels=["route", "method"],
        )
        bounds = [*(repr(b) for b in BUCKETS), "+Inf"]
        for (route, method), counts in by_route.items():
            cumulative = []
            total = 0.0
            for bound, count in zip(bounds, counts[:-1], strict=True):
                total += count
                cumulative.append((bound, total))
            latency.add_metric([route, method], cumulative, counts[-1])
        yield latency

    def _edge(self, edge: AsyncEdgeStore) -> Iterator[Metric]:
        reads = CounterMetricFamily(
            "edgekv_edge_reads",
            "Reads of a key at this edge, by result (as CF-Cache-Status names it).",
            labels=["result"],
        )
        for name, result in RESULTS.items():
            reads.add_metric([result], edge.stats[name])
        yield reads
        yield CounterMetricFamily(
            "edgekv_edge_refreshes",
            "Hot keys refreshed in the background after the feed said they changed.",
            value=edge.stats["refresh"],
        )
        memory = edge.memory
        yield GaugeMetricFamily(
            "edgekv_cache_bytes", "Bytes of the edge's memory tier in use.", value=memory.bytes
        )
        yield GaugeMetricFamily(
            "edgekv_cache_max_bytes", "Bytes the memory tier may hold.", value=memory.max_bytes
        )
        yield GaugeMetricFamily(
            "edgekv_cache_items", "Items in the memory tier.", value=len(memory.items)
        )
        yield CounterMetricFamily(
            "edgekv_cache_evictions",
            "Items the memory tier dropped to make room.",
            value=memory.evictions,
        )
        if edge.follows_feed:
            yield from self._feed(edge)

    def _feed(self, edge: AsyncEdgeStore) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "edgekv_feed_healthy",
            "1 while the change feed is read, 0 while it is cut (cache_ttl bounds staleness).",
            value=1 if edge.feed_healthy else 0,
        )
        yield CounterMetricFamily(
            "edgekv_feed_reconnects",
            "Times the change feed came back after a cut.",
            value=edge.feed_reconnects,
        )
        yield CounterMetricFamily(
            "edgekv_feed_flushes",
            "Times the memory tier was flushed: the feed fell behind its retention.",
            value=edge.feed_flushes,
        )
        if edge.feed_read_at:
            # Every change committed before the last feed read is applied: this is how old
            # the edge's view of the central store may be.
            yield GaugeMetricFamily(
                "edgekv_feed_lag_seconds",
                "Seconds since the last change-feed read this edge applied.",
                value=max(0.0, time.monotonic() - edge.feed_read_at),
            )
        behind = self.metrics.behind
        if behind is not None:
            yield GaugeMetricFamily(
                "edgekv_feed_changes_behind",
                f"Changes in the central store's feed not yet applied here (up to {BEHIND_PAGE}).",
                value=behind,
            )
