"""The edgekv server as one ASGI app: `create_app(store_or_url)`.

Mounted pieces: the value routes (`.../values/{key}`, raw ASGI, entered before the router:
rest/values.py), the rest of the REST API v4 and the account endpoints under `/client/v4`
(behind the auth middleware), the workerd KV protocol (requests that carry workerd's
`CF-KV-FLPROD-405` header or edgekv's `X-EdgeKV-Namespace`, on any path), `/healthz`,
`/openapi.json` and the web dashboard (`/dashboard`, server/dashboard/). Every error any piece raises becomes a Cloudflare envelope by its own status,
code and message.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from edgekv import errors
from edgekv.analytics.counting import Usage
from edgekv.analytics.log import FLUSH_SECONDS, UsageLog
from edgekv.api._async.kv import AsyncKV
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.server import health
from edgekv.server.access_log import AccessLogMiddleware
from edgekv.server.accounts import Accounts
from edgekv.server.asgi import ASGIApp, Receive, Scope, Send
from edgekv.server.auth import Authenticator, AuthMiddleware
from edgekv.server.cloudflare_limits import CloudflareLimits, Plan
from edgekv.server.dashboard import dashboard as web_dashboard
from edgekv.server.envelope import MethodNotAllowed, NoRoute, failure
from edgekv.server.graphql.route import graphql_route
from edgekv.server.metrics import Metrics, MetricsListener, RequestMetrics
from edgekv.server.metrics.requests import ROUTE
from edgekv.server.openapi import openapi_document
from edgekv.server.paths import NAMESPACES, raw_path, v4_path
from edgekv.server.records import Records
from edgekv.server.relay import RelayAPI
from edgekv.server.relay_log import RelayLog
from edgekv.server.request_id import RequestIds, internal_error, log_unexpected
from edgekv.server.rest.changes import FeedAPI
from edgekv.server.rest.identity import IdentityAPI
from edgekv.server.rest.routes import RestAPI
from edgekv.server.rest.values import ValueRoutes
from edgekv.server.workerd.handler import token_authorizer, workerd_app
from edgekv.server.workerd.listener import WorkerdListener
from edgekv.server.writes import Writes
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url

_WORKERD_HEADERS = (b"cf-kv-flprod-405", b"x-edgekv-namespace")


def create_app(
    store: str | AsyncStore,
    *,
    auth: bool = True,
    access_log: bool = False,
    clock: Callable[[], float] = time.time,
    workerd_listen: tuple[str, int] | socket.socket | None = None,
    cache_size: int = 0,
    serve_stale: float = 0.0,
    values_before_router: bool = True,
    follow_feed: bool = True,
    around: Callable[[ASGIApp], ASGIApp] | None = None,
    relay_secret: str | None = None,
    dashboard: bool = True,
    usage: bool = True,
    usage_flush_seconds: float = FLUSH_SECONDS,
    metrics_listen: tuple[str, int] | None = None,
    limits: Plan | None = None,
    propagation_delay: float = 0.0,
) -> EdgeKVApp:
    """The server over a store (or a store URL, which the app then opens and closes).

    `auth=False` lets every request through as if it held every account's token: for a
    server that only loopback can reach (the CLI refuses it on any other address).
    `workerd_listen=(host, port)` also serves the workerd protocol on a port of its own, whose
    errors carry the contract's message in the reason phrase (see workerd/listener.py).
    `cache_size` bytes of memory make the server an edge node: reads answered from memory,
    kept fresh by the central store's change feed (`serve_stale`: seconds past cache_ttl a
    cached read may still be served while the central store is down).
    `values_before_router=False` reaches the value routes through the router like any other
    route: the same handler, for the benchmark that measures what entering it first gains.
    A worker of a node (server/workers.py) passes a bound socket as `workerd_listen`,
    `follow_feed=False` unless it is the one that reads the change feed, and `around`, which
    wraps every way in (the app's entry and the workerd port's).
    `relay_secret` makes the server a relay that edges take their data from (server/relay.py);
    a relay answers them from its edge's memory, so it needs `cache_size`.
    `dashboard=False` leaves out the web dashboard at /dashboard (server/dashboard/).
    `usage=False` counts no operations for usage analytics; otherwise they are counted in
    memory and written to the store every `usage_flush_seconds` and at shutdown
    (docs/analytics.md); `POST /client/v4/graphql` answers from what every server wrote.
    `metrics_listen=(host, port)` serves Prometheus metrics at /metrics on a port of its own
    (server/metrics/); without it, requests are not counted at all.
    `limits` refuses what that Workers KV plan would (server/cloudflare_limits.py), and
    `propagation_delay` seconds hold other edges' changes before this edge applies them
    (edge/_async/edge_store.py): Cloudflare's limits and consistency, on demand
    (docs/emulation.md).
    """
    owned = isinstance(store, str)
    opened: AsyncStore = store_from_url(store, clock=clock) if isinstance(store, str) else store
    edge = None
    records = None
    if propagation_delay > 0 and cache_size <= 0:
        raise errors.BadRequest(
            "A propagation delay holds changes in an edge's memory: give it a cache_size."
        )
    if cache_size > 0:
        # A store the app opened is written through this edge only (exclusive).
        edge = AsyncEdgeStore(
            opened,
            cache_size=cache_size,
            serve_stale=serve_stale,
            # A relay reads its own writes in the feed: its change log is that feed.
            exclusive=owned and not relay_secret,
            clock=clock,
            follow_feed=follow_feed,
            propagation_delay=propagation_delay,
        )
        records = Records(edge.default_cache_ttl, clock)
        edge.observers.append(records)
        opened = edge
    accounts = Accounts(opened, records)
    authenticator = Authenticator(accounts, enabled=auth)
    writes = Writes(opened, group_commit=opened.capabilities.group_commit)
    counter = Usage(clock) if usage else None
    usage_log = UsageLog(opened, counter, clock=clock)
    # What clients reach: under `limits`, every Workers KV operation passes the plan's limits
    # first, one write at a time (a group commit would fail every write of a batch for one).
    served: AsyncStore = opened
    served_writes = writes
    if limits is not None:
        served = CloudflareLimits(opened, limits, clock)
        served_writes = Writes(served, group_commit=False)
    values = ValueRoutes(served, authenticator, served_writes, clock, counter)
    rest = RestAPI(served, authenticator, clock, counter)
    identity = IdentityAPI(accounts)
    relay_routes = []
    if relay_secret:
        if edge is None:
            raise errors.BadRequest("A relay answers edges from its memory: give it a cache_size.")
        relay_log = RelayLog(read_at=lambda: edge.feed_read_at)
        edge.feed_observers.append(relay_log)
        relay_routes = RelayAPI(opened, writes, relay_log, relay_secret).routes()

    probe = health.CentralProbe(edge.central if edge is not None else opened)

    async def healthz(request: Request) -> Response:
        checks = {"central_store": await probe.check()}
        if edge is None:
            return health.answer(checks, {})
        if edge.follows_feed:
            checks["change_feed"] = health.feed_check(edge.feed_healthy, edge.feed_error)
        return health.answer(checks, {"edge": edge.health()})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        account = await accounts.default_account()
        app.state.account_id = account.id
        if edge is not None:
            await edge.start_following()
        if counter is not None:
            usage_log.start(usage_flush_seconds)
        listener = None
        scraped = None
        if metrics is not None and metrics_listen is not None:
            scraped = await MetricsListener(metrics, *metrics_listen).start()
            app.state.metrics_port = scraped.port
        if workerd_listen is not None:
            protocol_app = await workerd_protocol()
            if counted is not None:
                protocol_app = counted.around(protocol_app, "workerd")
            protocol_app = RequestIds(protocol_app if around is None else around(protocol_app))
            if isinstance(workerd_listen, socket.socket):
                listener = await WorkerdListener(protocol_app, sock=workerd_listen).start()
            else:
                listener = await WorkerdListener(protocol_app, *workerd_listen).start()
            app.state.workerd_port = listener.port
        try:
            yield
        finally:
            if scraped is not None:
                await scraped.aclose()
            probe.close()
            if listener is not None:
                await listener.aclose()
            if counter is not None:
                await usage_log.aclose()  # what was counted since the last flush
            if owned:
                await opened.aclose()
            elif edge is not None:
                await edge.stop_following()

    workerd: list[ASGIApp] = []
    counted = metrics = None
    if metrics_listen is not None:
        counted = RequestMetrics(values)  # its app is set once the entry is known, below
        metrics = Metrics(counted, edge, usage_log)

    async def workerd_protocol() -> ASGIApp:
        """The workerd protocol app, made once the default account is known: titles in
        X-EdgeKV-Namespace are looked up in it."""
        if not workerd:
            account = await accounts.default_account()
            kv = AsyncKV(served, account_id=account.id, clock=clock)
            authorize = token_authorizer(accounts) if auth else None
            workerd.append(workerd_app(kv, authorize, served_writes, clock, counter))
        return workerd[0]

    app = EdgeKVApp(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *identity.routes(),
            *rest.routes(),
            # The same handler the app is entered through (rest/values.py): reached here only
            # under a root_path, or when `values_before_router` is off.
            Route(NAMESPACES + "/{namespace_id}/values/{key:key}", _ValueRoute(values)),
            *FeedAPI(opened).routes(),
            graphql_route(usage_log),
            *relay_routes,
            *(
                [web_dashboard(served, accounts, authenticator, served_writes, usage_log, clock)]
                if dashboard
                else []
            ),
        ],
        exception_handlers={
            errors.KVError: _kv_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.store = opened
    app.state.accounts = accounts
    app.state.writes = writes
    app.state.usage_log = usage_log
    app.state.metrics = metrics
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.add_middleware(WorkerdDispatch, workerd=workerd_protocol)
    values.elsewhere = app.full
    entry: ASGIApp = values if values_before_router else app.full
    if counted is not None:
        # In front of the router only: the value routes, entered first, count themselves.
        counted.app = app.full
        values.elsewhere = counted
        values.count_into(counted)
        entry = values if values_before_router else counted
    # Ids and unexpected errors for whatever the value routes pass on (see RequestIds).
    values.elsewhere = RequestIds(values.elsewhere)
    app.entry = AccessLogMiddleware(entry) if access_log else entry
    if around is not None:
        app.entry = around(app.entry)
    app.entry = RequestIds(app.entry)
    return app


class EdgeKVApp(Starlette):
    """The Starlette app, entered through `entry`: the value routes, which send every other
    request on to the router (`full`)."""

    entry: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.entry is None:
            await self.full(scope, receive, send)
        else:
            await self.entry(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole app: middleware, router, routes."""
        await Starlette.__call__(self, scope, receive, send)


class _ValueRoute:
    """The value routes as an ASGI endpoint of the router (for Starlette, a class instance is
    an ASGI app, a function a request handler)."""

    def __init__(self, values: ValueRoutes) -> None:
        self.values = values

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = v4_path(raw_path(scope))
        assert path is not None  # the route's path is one
        await self.values.answer(scope, receive, send, path)


async def _kv_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.KVError)
    return failure(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = allowed_methods(request.app.router.routes, request.scope)
        headers = {"Allow": allowed} if allowed else dict(exc.headers or {})
        return failure(MethodNotAllowed(), headers=headers)
    if exc.status_code == 404:
        return failure(NoRoute())
    error = errors.BadRequest(str(exc.detail))
    return failure(error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log_unexpected(request.scope, exc)
    return failure(internal_error(request.scope))


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> str:
    """The `Allow` of a 405: the methods of every route of the path. Starlette names those of
    the first route only, and a path here may be served by several (GET and POST of the
    namespaces, PUT and DELETE of bulk)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return ", ".join(sorted(methods, key=lambda m: (order.index(m) if m in order else 99, m)))


class WorkerdDispatch:
    """Sends workerd's requests to the workerd protocol app, everything else on."""

    def __init__(self, app: ASGIApp, workerd: Callable[[], Awaitable[ASGIApp]]) -> None:
        self.app = app
        self.workerd = workerd

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name in _WORKERD_HEADERS for name, _ in scope["headers"]
        ):
            scope[ROUTE] = "workerd"
            await (await self.workerd())(scope, receive, send)
            return
        await self.app(scope, receive, send)
