"""edgekv's extension to the REST API: an account's change feed over HTTP (docs/server.md).

- `GET  /client/v4/accounts/{A}/storage/kv/changes?position=P&limit=N`
  -> `{"changes": [{seq, namespace_id, key, at}], "position", "behind", "more"}`
- `GET  .../storage/kv/changes/position` -> `{"position"}`
- `GET  .../storage/kv/changes/wait?position=P&seconds=S` -> `{"changed"}` (a long poll, S <= 30)

Positions are the store's own (opaque, docs/stores.md), passed through unchanged. The store's
feed is store-wide; a request sees only changes of namespaces that belong to the account in the
path (and, for a namespace-scoped token, only of its namespaces). The auth middleware has
already checked that the token belongs to that account; any token of it may read its feed.

Ownership is looked up per namespace (`get_namespace`) and remembered. A deleted namespace can
no longer be looked up, so the owners of an account's namespaces are also remembered whenever
its feed is asked for (all of them at `changes/position`, the consumer's starting point, and at
most once a second at `changes` and `changes/wait`). A change of a namespace that no lookup can
attribute is shown to nobody (but to a token scoped to that very namespace): showing it to every
account would tell them of other accounts' namespaces. The cost is that a namespace created and
deleted between two looks, by a consumer that never saw its keys change, loses its deletion
notice; a cache fed by this feed then keeps that namespace's entries until their cache_ttl.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgekv import errors
from edgekv.model import Change
from edgekv.server.accounts import Token
from edgekv.server.auth import principal_of
from edgekv.server.envelope import ok
from edgekv.stores._async.protocol import AsyncStore

FEED = "/client/v4/accounts/{account_id}/storage/kv/changes"
MAX_LIMIT = 1000
MAX_WAIT = 30.0
# Store pages one request reads while none of them holds a change of the account: bounds the
# work of a request on a busy shared store; the answer then says `more` and the client asks on.
SCAN_PAGES = 20
OWNERS_KEPT = 1 << 16
ACCOUNT_NAMESPACES = 10_000  # how many of an account's namespaces a refresh remembers
REFRESH = 1.0  # seconds between two refreshes of an account's namespaces


class FeedAPI:
    """The change-feed routes over one store."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self._owners: OrderedDict[str, str] = OrderedDict()  # namespace id -> account id
        self._refreshed: OrderedDict[str, float] = OrderedDict()  # account id -> monotonic

    def routes(self) -> list[Route]:
        return [
            Route(FEED, self.changes, methods=["GET"]),
            Route(FEED + "/position", self.position, methods=["GET"]),
            Route(FEED + "/wait", self.wait, methods=["GET"]),
        ]

    # who owns a namespace

    def _remember(self, namespace_id: str, account_id: str) -> None:
        self._owners[namespace_id] = account_id
        self._owners.move_to_end(namespace_id)
        while len(self._owners) > OWNERS_KEPT:
            self._owners.popitem(last=False)

    async def refresh(self, account_id: str, *, force: bool) -> None:
        """Remembers the owner of each of the account's namespaces, while they still exist."""
        now = time.monotonic()
        last = self._refreshed.get(account_id)
        if not force and last is not None and now - last < REFRESH:
            return
        self._refreshed[account_id] = now
        self._refreshed.move_to_end(account_id)
        while len(self._refreshed) > OWNERS_KEPT:
            self._refreshed.popitem(last=False)
        offset = 0
        while offset < ACCOUNT_NAMESPACES:
            page = await self.store.list_namespaces(account_id, offset=offset, limit=1000)
            for info in page.namespaces:
                self._remember(info.id, info.account_id)
            offset += len(page.namespaces)
            if len(page.namespaces) < 1000:
                break

    async def _owner(self, namespace_id: str, unknown: set[str]) -> str | None:
        owner = self._owners.get(namespace_id)
        if owner is not None or namespace_id in unknown:
            return owner
        try:
            info = await self.store.get_namespace(namespace_id)
        except errors.NamespaceNotFound:
            unknown.add(namespace_id)  # asked once per request, not once per change
            return None
        self._remember(info.id, info.account_id)
        return info.account_id

    async def _visible(
        self, request: Request, changes: list[Change], unknown: set[str]
    ) -> list[Change]:
        token = principal_of(request.scope).token
        return await self.visible(request.path_params["account_id"], token, changes, unknown)

    async def visible(
        self, account_id: str, token: Token | None, changes: list[Change], unknown: set[str]
    ) -> list[Change]:
        """The changes a token of the account may see (the dashboard's live tail too)."""
        scope = set(token.namespaces) if token is not None and token.namespaces else None
        out = []
        for change in changes:
            if scope is not None and change.namespace_id not in scope:
                continue
            owner = await self._owner(change.namespace_id, unknown)
            # A token scoped to a namespace knows its id: it may learn of its deletion.
            if owner == account_id or (owner is None and scope is not None):
                out.append(change)
        return out

    # routes

    async def changes(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        q = request.query_params
        position = q.get("position")
        limit = int(_number(q.get("limit"), "limit", MAX_LIMIT, maximum=MAX_LIMIT, minimum=1))
        await self.refresh(account_id, force=False)
        unknown: set[str] = set()
        shown: list[Change] = []
        behind = more = False
        for scanned in range(1, SCAN_PAGES + 1):
            page = await self.store.changes(position, limit)
            behind = behind or page.behind
            position = page.position
            shown = await self._visible(request, page.changes, unknown)
            if shown or behind or not page.changes:
                break
            more = scanned == SCAN_PAGES
        return ok(
            {
                "changes": [_change_json(c) for c in shown],
                "position": position,
                "behind": behind,
                "more": more,
            }
        )

    async def position(self, request: Request) -> Response:
        # Refresh first: a namespace deleted before the end is read needs no notice from here on.
        await self.refresh(request.path_params["account_id"], force=True)
        return ok({"position": await self.store.feed_position()})

    async def wait(self, request: Request) -> Response:
        q = request.query_params
        seconds = min(_number(q.get("seconds"), "seconds", MAX_WAIT, maximum=None), MAX_WAIT)
        await self.refresh(request.path_params["account_id"], force=False)
        changed = await self.store.wait_for_changes(q.get("position"), seconds)
        return ok({"changed": changed})


def _change_json(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "namespace_id": change.namespace_id,
        "key": change.key,
        "at": change.at,
    }


def _number(
    text: str | None, name: str, default: float, *, maximum: float | None, minimum: float = 0
) -> float:
    if text is None or text == "":
        return default
    try:
        value = float(text) if name == "seconds" else int(text)
    except ValueError:
        value = float("nan")
    if not (value >= minimum and (maximum is None or value <= maximum)) or value != value:
        shown = (
            f"from {minimum:g} to {maximum:g}" if maximum is not None else f"of {minimum:g} or more"
        )
        raise errors.BadRequest(f"Invalid {name} of {text}. Please specify a number {shown}.")
    return value
