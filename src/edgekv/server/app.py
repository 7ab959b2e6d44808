"""The edgekv server as one ASGI app: `create_app(store_or_url)`.

Mounted pieces: the REST API v4 and the account endpoints under `/client/v4` (behind the auth
middleware), the workerd KV protocol (requests that carry workerd's `CF-KV-FLPROD-405` header or
edgekv's `X-EdgeKV-Namespace`, on any path), `/healthz` and `/openapi.json`. Every error any
piece raises becomes a Cloudflare envelope by its own status, code and message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgekv import errors
from edgekv.api._async.kv import AsyncKV
from edgekv.server.access_log import AccessLogMiddleware
from edgekv.server.accounts import Accounts
from edgekv.server.auth import Authenticator, AuthMiddleware
from edgekv.server.envelope import MethodNotAllowed, NoRoute, failure, ok
from edgekv.server.openapi import openapi_document
from edgekv.server.records import FeedEdge
from edgekv.server.rest.changes import FeedAPI
from edgekv.server.rest.fastpath import FastPath
from edgekv.server.rest.identity import IdentityAPI
from edgekv.server.rest.routes import RestAPI
from edgekv.server.workerd.listener import WorkerdListener
from edgekv.server.workerd.protocol import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    token_authorizer,
    workerd_app,
)
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url

log = logging.getLogger("edgekv.server")

_WORKERD_HEADERS = (b"cf-kv-flprod-405", b"x-edgekv-namespace")


def create_app(
    store: str | AsyncStore,
    *,
    auth: bool = True,
    access_log: bool = False,
    clock: Callable[[], float] = time.time,
    workerd_listen: tuple[str, int] | None = None,
    cache_size: int = 0,
    serve_stale: float = 0.0,
) -> Starlette:
    """The server over a store (or a store URL, which the app then opens and closes).

    `auth=False` lets every request through as if it held every account's token: for a
    server that only loopback can reach (the CLI refuses it on any other address).
    `workerd_listen=(host, port)` also serves the workerd protocol on a port of its own, whose
    errors carry the contract's message in the reason phrase (see workerd_listener.py).
    `cache_size` bytes of memory make the server an edge node: reads answered from memory,
    kept fresh by the central store's change feed (`serve_stale`: seconds past cache_ttl a
    cached read may still be served while the central store is down).
    """
    owned = isinstance(store, str)
    opened: AsyncStore = store_from_url(store, clock=clock) if isinstance(store, str) else store
    edge = None
    local = None
    if cache_size > 0:
        # A store the app opened is written through this edge only (exclusive).
        edge = FeedEdge(
            opened, cache_size=cache_size, serve_stale=serve_stale, exclusive=owned, clock=clock
        )
        opened, local = edge, edge.local
    accounts = Accounts(opened, local)
    rest = RestAPI(opened, clock, local)
    identity = IdentityAPI(accounts)

    async def healthz(request: Request) -> Response:
        await opened.feed_position()  # the store answers
        if edge is None:
            return ok({"status": "ok"})
        return ok({"status": "ok", "edge": edge.health()})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        account = await accounts.default_account()
        app.state.account_id = account.id
        if edge is not None:
            await edge.start_following()
        listener = None
        if workerd_listen is not None:
            kv = AsyncKV(opened, account_id=account.id, clock=clock)
            protocol = workerd_app(kv, token_authorizer(accounts) if auth else None)
            listener = await WorkerdListener(protocol, *workerd_listen).start()
            app.state.workerd_port = listener.port
        try:
            yield
        finally:
            if listener is not None:
                await listener.aclose()
            if owned:
                await opened.aclose()
            elif edge is not None:
                await edge.stop_following()

    app = EdgeKVApp(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *identity.routes(),
            *rest.routes(),
            *FeedAPI(opened).routes(),
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
    app.add_middleware(AuthMiddleware, accounts=accounts, enabled=auth)
    app.add_middleware(WorkerdDispatch, accounts=accounts, auth=auth, clock=clock)
    fast = FastPath(app.full, opened, Authenticator(accounts, enabled=auth), rest, clock)
    app.state.fast_path = fast
    app.entry = AccessLogMiddleware(fast) if access_log else fast
    return app


class EdgeKVApp(Starlette):
    """The Starlette app, entered through `entry` (the fast path, maybe under the access log)."""

    entry: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.entry is None:
            await self.full(scope, receive, send)
        else:
            await self.entry(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole app: middleware, router, routes."""
        await Starlette.__call__(self, scope, receive, send)


async def _kv_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.KVError)
    return failure(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return failure(MethodNotAllowed(), headers=dict(exc.headers or {}))
    if exc.status_code == 404:
        return failure(NoRoute())
    error = errors.BadRequest(str(exc.detail))
    return failure(error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return failure(errors.KVError())


class WorkerdDispatch:
    """Sends workerd's requests to the workerd protocol app, everything else on."""

    def __init__(
        self, app: ASGIApp, accounts: Accounts, auth: bool, clock: Callable[[], float]
    ) -> None:
        self.app = app
        self.accounts = accounts
        self.auth = auth
        self.clock = clock
        self._workerd: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name in _WORKERD_HEADERS for name, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return
        if self._workerd is None:
            # Titles in X-EdgeKV-Namespace are looked up in the default account.
            account = await self.accounts.default_account()
            kv = AsyncKV(self.accounts.store, account_id=account.id, clock=self.clock)
            self._workerd = workerd_app(kv, token_authorizer(self.accounts) if self.auth else None)
        await self._workerd(scope, receive, send)
