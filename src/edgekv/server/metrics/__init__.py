"""Prometheus metrics of `edgekv serve` (`--metrics-port`): docs/metrics.md.

requests.py counts requests and their latency on the way in (plain dicts, no locks: the value
GET route is the hot path); collector.py turns those and the counters the server keeps anyway
(the edge's stats and memory, the change feed, store faults) into metric families at scrape
time; listener.py serves them on a loopback port of their own.
"""

from edgekv.server.metrics.collector import Metrics
from edgekv.server.metrics.listener import MetricsListener
from edgekv.server.metrics.requests import RequestMetrics

__all__ = ["Metrics", "MetricsListener", "RequestMetrics"]
