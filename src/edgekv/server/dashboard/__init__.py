"""The web dashboard `edgekv serve` serves at `/dashboard` (docs/dashboard.md).

Server-rendered pages (Jinja2, every value escaped) with one small script for what a page
cannot do alone (the live tail, the typed confirmation, a confirm before deleting). Its
templates, stylesheet and script ship inside the package: nothing is built, nothing is
fetched from anywhere else, and the Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from edgekv.analytics.log import UsageLog
from edgekv.server.accounts import Accounts
from edgekv.server.asgi import ASGIApp
from edgekv.server.auth import Authenticator
from edgekv.server.dashboard.analytics import AnalyticsPage
from edgekv.server.dashboard.editor import KeyPages
from edgekv.server.dashboard.keys import KeyBrowser
from edgekv.server.dashboard.live import LiveTail
from edgekv.server.dashboard.namespaces import NamespacePages
from edgekv.server.dashboard.signin import SignIn
from edgekv.server.dashboard.site import HERE, SecurityHeaders, Site
from edgekv.server.envelope import MethodNotAllowed, NoRoute
from edgekv.server.writes import Writes
from edgekv.stores._async.protocol import AsyncStore

PATH = "/dashboard"


def dashboard(
    store: AsyncStore,
    accounts: Accounts,
    authenticator: Authenticator,
    writes: Writes,
    usage_log: UsageLog,
    clock: Callable[[], float] = time.time,
) -> Mount:
    """The dashboard, to mount among the server's routes; its operations on keys count in
    the usage log's counter as Cloudflare counts its dashboard's (docs/analytics.md), and its
    analytics page reads the log."""
    site = Site(store, accounts, authenticator, writes, clock, usage_log.usage)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = MethodNotAllowed() if exc.status_code == 405 else NoRoute()
        return site.error(request, await site.viewer(request), error)

    app = Starlette(
        routes=[
            *SignIn(site).routes(),
            *NamespacePages(site).routes(),
            *KeyBrowser(site).routes(),
            *KeyPages(site).routes(),
            *LiveTail(site).routes(),
            *AnalyticsPage(site, usage_log).routes(),
            Mount("/static", StaticFiles(directory=HERE / "static")),
        ],
        exception_handlers={HTTPException: not_found},
    )
    secured: ASGIApp = SecurityHeaders(app)
    return Mount(PATH, app=secured)


__all__ = ["PATH", "dashboard"]
