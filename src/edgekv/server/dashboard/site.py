"""What every dashboard page shares: the server's parts, who is signed in, rendering, the
security headers, and the one wrapper every page goes through (sign-in, CSRF, read-only).

A page handler is `async def handler(call: Call) -> Response`. The wrapper (`Site.page`) finds
the signed-in viewer (or sends the browser to sign in), reads and checks a POST's form (its
Origin, its CSRF field, its size), refuses a change to a read-only token, and turns any
KVError into an HTML page with the error's own status and message.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from edgekv import errors, limits
from edgekv.analytics.counting import Usage
from edgekv.model import NamespaceInfo
from edgekv.server.accounts import Accounts, Token
from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send
from edgekv.server.auth import Authenticator, Principal
from edgekv.server.envelope import Forbidden
from edgekv.server.writes import Writes
from edgekv.stores._async.protocol import AsyncStore

log = logging.getLogger("edgekv.server")

SESSION_COOKIE = "edgekv_session"
HERE = Path(__file__).parent
# A form holds at most one value (25 MiB), its metadata and a few short fields.
MAX_FORM_BYTES = limits.MAX_VALUE_BYTES + (1 << 20)

# No inline script or style anywhere: scripts and styles come from the dashboard's own files,
# images from its own value route (or data: for none), nothing from any other origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is signed in: their principal (the token, or None without auth), the account they
    see, their session id and the CSRF secret their forms carry."""

    principal: Principal
    account_id: str
    sid: str
    csrf: str

    @property
    def token(self) -> Token | None:
        return self.principal.token

    @property
    def read_only(self) -> bool:
        return self.token is not None and self.token.read_only

    @property
    def scoped(self) -> bool:
        """A token for some namespaces only: it sees those, and creates none."""
        return self.token is not None and bool(self.token.namespaces)

    @property
    def may_create_namespaces(self) -> bool:
        return not self.read_only and not self.scoped

    @property
    def label(self) -> str:
        token = self.token
        if token is None:
            return "no auth"
        return token.name or token.hint or token.id


@dataclass(slots=True)
class Call:
    """One request to a page: the request, who makes it, and its form when it is a POST."""

    request: Request
    viewer: Viewer
    form: FormData = field(default_factory=FormData)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value if isinstance(value, str) else default

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


Handler = Callable[[Call], Awaitable[Response]]


class Site:
    """The server's parts the pages use, and the templates they render."""

    def __init__(
        self,
        store: AsyncStore,
        accounts: Accounts,
        authenticator: Authenticator,
        writes: Writes,
        clock: Callable[[], float] = time.time,
        usage: Usage | None = None,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.authenticator = authenticator
        self.writes = writes
        self.clock = clock
        self.usage = usage
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every value a template shows is escaped unless marked safe
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(size=show_size, when=show_when, ago=show_ago)
        self._default_account: str | None = None

    @property
    def auth(self) -> bool:
        return self.authenticator.enabled

    async def account_without_auth(self) -> str:
        """The account a server without auth shows: the default one."""
        if self._default_account is None:
            self._default_account = (await self.accounts.default_account()).id
        return self._default_account

    # who is signed in

    async def viewer(self, request: Request) -> Viewer | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        found = await self.accounts.session(sid, self.clock())
        if found is None:
            return None
        session, token = found
        if token is None:
            if self.auth:  # made while the server ran without auth: worth nothing now
                return None
            account_id = await self.account_without_auth()
        else:
            account_id = token.account_id
        return Viewer(Principal(token), account_id, sid, session.csrf)

    async def namespace(self, viewer: Viewer, namespace_id: str) -> NamespaceInfo:
        """A namespace the viewer may see (its title read fresh); NamespaceNotFound otherwise,
        so a page never tells whether a namespace it may not see exists."""
        if not limits.NAMESPACE_ID.fullmatch(namespace_id):
            raise errors.NamespaceNotFound()
        info = await self.store.get_namespace(namespace_id)
        if not viewer.principal.sees_namespace(info) or (
            viewer.token is None and info.account_id != viewer.account_id
        ):
            raise errors.NamespaceNotFound()
        return info

    def count(self, info: NamespaceInfo, action: str, requests: int = 1, size: int = 0) -> None:
        """Counts an operation on keys for usage analytics: Cloudflare bills its dashboard's."""
        if self.usage is not None:
            self.usage.add(info, action, requests, size)

    async def namespace_of(self, call: Call) -> NamespaceInfo:
        """The namespace a `/namespaces/{namespace_id}/...` page is about (see `namespace`)."""
        return await self.namespace(call.viewer, call.request.path_params["namespace_id"])

    # pages

    def page(
        self, handler: Handler, *, change: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of a page: `change=True` for a page that changes data, or whose form
        does (refused to a read-only token, whatever it sends)."""

        async def endpoint(request: Request) -> Response:
            viewer = None
            try:
                viewer = await self.viewer(request)
                if viewer is None:
                    return self.to_signin(request)
                if change and viewer.read_only:
                    raise Forbidden("This token is read-only: it may not change anything.")
                call = Call(request, viewer)
                if request.method == "POST":
                    call.form = await read_form(request)
                    check_csrf(viewer, call.form)
                return await handler(call)
            except errors.KVError as e:
                return self.error(request, viewer, e)
            except Exception as e:
                log.error("%s %s failed", request.method, request.url.path, exc_info=e)
                return self.error(request, viewer, errors.KVError())

        return endpoint

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("viewer", None)
        context.setdefault("notice", NOTICES.get(request.query_params.get("notice", ""), ""))
        body = self.templates.get_template(name).render(base=base(request), **context)
        return HTMLResponse(body, status, headers={"Cache-Control": "no-store"})

    def render_in(
        self, call: Call, ns: NamespaceInfo, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page about one namespace: the viewer, the namespace and its links come along."""
        links = Links(base(call.request), ns.id)
        return self.render(
            call.request, name, status, viewer=call.viewer, ns=ns, links=links, **context
        )

    def error(self, request: Request, viewer: Viewer | None, error: errors.KVError) -> Response:
        return self.render(request, "error.html", error.status, viewer=viewer, error=error)

    def to_signin(self, request: Request) -> Response:
        if request.method != "GET":
            return self.error(request, None, SignedOut())
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{base(request)}/signin?{urlencode({'next': target})}", 303)


class SignedOut(errors.KVError):
    """A change sent without a live session (it ended, expired, or its token was revoked)."""

    status = 401
    code = 10000
    default_message = "You are signed out: sign in again, then repeat what you did."


# What a page says after a change it redirected from (`?notice=`): fixed texts, so a link
# cannot put words of its own on a page.
NOTICES = {
    "created": "Namespace created.",
    "renamed": "Namespace renamed.",
    "ns-deleted": "Namespace deleted.",
    "saved": "Saved.",
    "added": "Key added.",
    "key-deleted": "Key deleted.",
    "prefix-deleted": "Every key under the prefix was deleted.",
    "signed-out": "Signed out.",
}


class Links:
    """The dashboard's URLs within one namespace; keys and prefixes go in the query string,
    percent-encoded, so any key (slashes, newlines, `?`, `#`) round-trips."""

    def __init__(self, base: str, namespace_id: str) -> None:
        self.ns = f"{base}/namespaces/{namespace_id}"

    def _to(self, path: str, **query: str | int) -> str:
        shown = {k: v for k, v in query.items() if v != "" and v is not None}
        return f"{self.ns}{path}" + (f"?{urlencode(shown)}" if shown else "")

    def browse(self, prefix: str = "", cursor: str = "", n: int | str = "") -> str:
        return self._to("", prefix=prefix, cursor=cursor, n=n)

    def key(self, key: str, view: str = "") -> str:
        return self._to("/key", key=key, view=view)

    def raw(self, key: str, download: bool = False) -> str:
        return self._to("/raw", key=key, download=1 if download else "")

    def edit(self, key: str) -> str:
        return self._to("/edit", key=key)

    def delete_prefix(self, prefix: str) -> str:
        return self._to("/delete-prefix", prefix=prefix)

    def page(self, name: str) -> str:
        return f"{self.ns}/{name}"


def with_notice(url: str, notice: str) -> str:
    """A URL to redirect to after a change, with the notice its page then shows."""
    return url + ("&" if "?" in url else "?") + urlencode({"notice": notice})


def base(request: Request) -> str:
    """Where the dashboard is mounted (`/dashboard`, under any root path of the server)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


async def read_form(request: Request) -> FormData:
    """A POST's form (urlencoded or multipart), refused past MAX_FORM_BYTES before it is read."""
    length = request.headers.get("content-length")
    size = None if length is None else limits.plain_integer(length.strip())
    if size is None:
        raise errors.BadRequest("A form must be sent with its Content-Length.")
    if size > MAX_FORM_BYTES:
        raise errors.ValueTooLarge(
            f"Value length of {size} exceeds limit of {limits.MAX_VALUE_BYTES}."
        )
    return await request.form(max_part_size=MAX_FORM_BYTES)


def check_csrf(viewer: Viewer, form: FormData) -> None:
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, viewer.csrf):
        raise Forbidden("This form is out of date or came from another site: reload the page.")


def same_origin(request: Request) -> bool:
    """A browser's POST names its origin: it must be this server's (a missing Origin passes,
    the CSRF field still guards)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


class SecurityHeaders:
    """Adds the CSP and its companions to every answer of the dashboard, and refuses a POST
    whose Origin is another site's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and not same_origin(Request(scope)):
            answer = Response("Cross-site request refused.", 403, media_type="text/plain")
            await answer(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        return sending


# how numbers and times are shown


def show_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


def show_when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def show_ago(epoch: float | None, now: float | None = None) -> str:
    """`in 5 min`, `3 h ago`: how far a time is from now."""
    if epoch is None:
        return ""
    delta = epoch - (time.time() if now is None else now)
    span = abs(delta)
    if span < 5:
        return "just now"
    if span < 60:
        text = f"{int(span)} s"
    elif span < 3600:
        text = f"{int(span // 60)} min"
    elif span < 86400 * 2:
        text = f"{int(span // 3600)} h"
    else:
        text = f"{int(span // 86400)} days"
    return f"in {text}" if delta >= 0 else f"{text} ago"
