"""Requests by route template, method and status, and their latency, counted in plain dicts.

Prometheus' own Counter and Histogram take a lock and look a label set up per call; on the
value GET route, the server's hottest path, that cost shows. Here a request costs a closure, a
bisect and a few integer additions; collector.py turns the dicts into metric families at scrape
time. The route is the template the request matched (`/client/v4/accounts/{account_id}/...`),
never the raw path, so the number of series stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from bisect import bisect_left

from starlette.routing import Mount

from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send

# Upper bounds of the latency buckets, in seconds: a hit answers in tens of microseconds, a
# write through a central store in milliseconds, a large value in seconds.
BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
FIRST = BUCKETS[0]
# The scope key where a handler that is not a Starlette route names its route template.
ROUTE = "edgekv.route"
UNMATCHED = "unmatched"  # a path no route matched (404)
# The value routes' template. They are the app's entry, before this wrapper (which sits in
# front of the router), and count their requests themselves (rest/values.py): a wrapper's
# closure and extra await per send would cost their hot GET about a tenth.
VALUES = "/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key}"
COUNTED = "\0counted"  # route() of a request counted already
# Methods counted by name; any other a client makes up is counted as OTHER (bounded series).
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"})


class RequestMetrics:
    """An ASGI wrapper counting every HTTP request it passes on."""

    def __init__(self, app: ASGIApp, default_route: str = UNMATCHED) -> None:
        self.app = app
        self.default_route = default_route
        # (route, method, status) -> [requests per latency bucket (the last: above every
        # bound)..., the sum of their seconds]: one list per series, so a request costs one
        # lookup (none where a handler keeps its slot) and two additions.
        self.series: dict[tuple[str, str, int], list[float]] = {}

    def around(self, app: ASGIApp, default_route: str) -> RequestMetrics:
        """Another way in (the workerd port), counted in the same series."""
        other = RequestMetrics(app, default_route)
        other.series = self.series
        return other

    def slot(self, route: str, method: str, status: int) -> list[float]:
        """The series' counts, for a handler to add to with `add` without a lookup."""
        series = (route, method, status)
        counts = self.series.get(series)
        if counts is None:
            counts = self.series[series] = [0.0] * (len(BUCKETS) + 2)
        return counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.route(scope)
            if route is not COUNTED:
                self.observe_method(route, scope["method"], status, time.perf_counter() - started)

    def route(self, scope: Scope) -> str:
        """The template of the route that answered: a raw handler's, or the router's;
        COUNTED if the value routes counted the request themselves."""
        named = scope.get(ROUTE)
        if named is not None:
            return COUNTED if named == VALUES else str(named)
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            return self.default_route
        root = str(scope.get("root_path", ""))
        if isinstance(route, Mount):
            # A mount that answered itself (static files): root_path already ends in its
            # prefix; what follows is the file, one series for all of them.
            return root + "/{path}"
        # A route under a mount (the dashboard) has the mount's prefix in root_path.
        return root + str(path)

    def observe_method(self, route: str, method: str, status: int, seconds: float) -> None:
        """`observe`, with a method no client can make a new series of."""
        self.observe(route, method if method in METHODS else "OTHER", status, seconds)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        counts = self.series.get((route, method, status))
        if counts is None:
            counts = self.slot(route, method, status)
        counts[bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds


def add(counts: list[float], seconds: float) -> None:
    """One request of `seconds` into a series' counts (a slot)."""
    # A hit is answered within the first bucket: no search for it.
    counts[0 if seconds <= FIRST else bisect_left(BUCKETS, seconds)] += 1
    counts[-1] += seconds
