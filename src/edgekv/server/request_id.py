"""Every request's id, and the one answer to an error nobody expected.

Each HTTP request gets an id, carried by its answer as `X-Request-Id` (and in the access log);
a value route's successful answer, the hot path, carries none (its failures do).
An error the server did not expect is logged once, on `edgekv.server`, with that id and its
traceback, and answered as a 500 envelope whose message names the id and nothing else: no
driver text, address or path reaches a client. Whoever sees a 500 can quote the id, and the
operator finds the traceback by it.

The answer ends the request like any other, so the keep-alive connection stays usable: an
exception that escaped to the ASGI server would make it drop the connection, failing a pooled
client's next request too. Only an answer cut off halfway (its status already sent) still
drops it, because nothing else can tell the client that the body is incomplete.
"""

from __future__ import annotations

import itertools
import logging
import os

from edgekv import errors
from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send
from edgekv.server.envelope import failure
from edgekv.server.paths import ACCOUNTS

log = logging.getLogger("edgekv.server")

REQUEST_ID = "edgekv.request_id"  # the scope key of the request's id
_LOGGED = "edgekv.unexpected_logged"
_TAKEN = "edgekv.request_id_taken"  # a RequestIds further out answers for the request
HEADER = b"x-request-id"

# A process prefix and a counter: unique across the workers of a node and their restarts,
# cheaper than a random id per request.
_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}-{next(_COUNTER):x}"


def request_id(scope: Scope) -> str:
    """The id of the request (one is given if the request came in some other way)."""
    found = scope.get(REQUEST_ID)
    if found is None:
        found = scope[REQUEST_ID] = new_request_id()
    return str(found)


def internal_error(scope: Scope) -> errors.KVError:
    """The error a client is shown for a failure of the server: the id, no details."""
    return errors.KVError(f"Internal error (request id {request_id(scope)})")


def log_unexpected(scope: Scope, exc: BaseException) -> None:
    """Logs an unexpected error once per request, with its id and traceback."""
    if scope.get(_LOGGED):
        return
    scope[_LOGGED] = True
    log.error(
        "%s %s failed (request id %s)",
        scope.get("method"),
        scope.get("path"),
        request_id(scope),
        exc_info=exc,
    )


class RequestIds:
    """Gives each HTTP request its id, puts it on the answer, and answers any exception that
    escapes `app` with a 500 envelope instead of letting the ASGI server drop the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_TAKEN):
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path")
        if raw is not None and raw.startswith(ACCOUNTS) and b"/values/" in raw:
            # A value route's: most of a server's traffic, answered by a handler that catches
            # its own errors and names the id on its failures (rest/values.py); wrapping
            # `send` would cost a hot GET about a fifth. Should the request prove to be
            # another route's, the RequestIds in front of the router takes it.
            await self.app(scope, receive, send)
            return
        scope[_TAKEN] = True
        rid = request_id(scope)
        header = (HEADER, rid.encode())
        started = ended = False

        async def send_with_id(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
                # A new list: handlers may send header lists they keep and reuse.
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as e:
            log_unexpected(scope, e)
            if not started:
                await failure(internal_error(scope))(scope, receive, send_with_id)
            elif not ended:
                raise  # half an answer: only dropping the connection tells the client
