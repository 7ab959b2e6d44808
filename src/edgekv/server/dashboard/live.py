"""The live tail: the account's writes and deletes as they happen, as server-sent events.

The page opens an EventSource on `/live/events`; the server reads the central store's change
feed (`changes`, and `wait_for_changes` between pages, which is push where the store has it)
and sends each change the viewer may see (the REST feed's own rule: their account, their
namespaces; FeedAPI.visible), with the feed position as the event id. A stream lasts at most
STREAM_SECONDS and the browser reconnects with `Last-Event-ID`, so it resumes where it was,
and no connection outlives a server's graceful shutdown by long.

The feed names a key, not what happened to it, so a change is described by the key's state
when it is read: there (written, with its version) or not (deleted, or expired).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from edgekv import errors
from edgekv.model import Change
from edgekv.server.dashboard.editor import close_chunks
from edgekv.server.dashboard.site import Call, SignedOut, Site, Viewer
from edgekv.server.rest.changes import FeedAPI

STREAM_SECONDS = 20.0
WAIT_SECONDS = 5.0  # between two looks at an idle feed; a comment keeps the stream open
PAGE = 200  # changes read at a time
DESCRIBED = 100  # changes a page describes by a read of their key; the rest say "changed"


class LiveTail:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.feed = FeedAPI(site.store)

    def routes(self) -> list[Route]:
        return [
            Route("/live", self.site.page(self.page), methods=["GET"]),
            Route("/live/events", self.events, methods=["GET"]),
        ]

    async def page(self, call: Call) -> Response:
        namespace = None
        if call.query("namespace"):
            namespace = await self.site.namespace(call.viewer, call.query("namespace"))
        return self.site.render(call.request, "live.html", viewer=call.viewer, namespace=namespace)

    async def events(self, request: Request) -> Response:
        viewer = await self.site.viewer(request)
        if viewer is None:
            return self.site.error(request, None, SignedOut())
        only = request.query_params.get("namespace") or None
        if only is not None:
            try:
                await self.site.namespace(viewer, only)
            except errors.KVError as e:
                return self.site.error(request, viewer, e)
        await self.feed.refresh(viewer.account_id, force=True)
        position = request.headers.get("last-event-id") or await self.site.store.feed_position()
        return StreamingResponse(
            self._stream(viewer, position, only),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, viewer: Viewer, position: str, only: str | None) -> AsyncIterator[str]:
        store = self.site.store
        titles: dict[str, str] = {}
        deadline = time.monotonic() + STREAM_SECONDS
        yield f"retry: 1000\nid: {position}\n\n"
        while time.monotonic() < deadline:
            try:
                page = await store.changes(position, PAGE)
            except errors.BadRequest:  # a position this store never gave: start from now
                position = await store.feed_position()
                continue
            position = page.position
            if page.behind:
                yield _event("behind", {}, position)
            shown = await self.feed.visible(viewer.account_id, viewer.token, page.changes, set())
            if only is not None:
                shown = [c for c in shown if c.namespace_id == only]
            for i, change in enumerate(shown):
                described = await self._describe(change, titles, i < DESCRIBED)
                yield _event("change", described, position if i == len(shown) - 1 else None)
            if not shown and page.changes:
                yield f"id: {position}\n\n"  # others' changes: move on past them
            if len(page.changes) >= PAGE:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not await store.wait_for_changes(position, min(WAIT_SECONDS, left)):
                yield ": idle\n\n"

    async def _describe(self, change: Change, titles: dict[str, str], look: bool) -> dict[str, Any]:
        store = self.site.store
        ns = change.namespace_id
        if ns not in titles:
            try:
                titles[ns] = (await store.get_namespace(ns)).title
            except errors.NamespaceNotFound:
                titles[ns] = ""
        out: dict[str, Any] = {
            "namespace_id": ns,
            "namespace": titles[ns],
            "key": change.key,
            "at": change.at,
            "seq": change.seq,
        }
        if change.key is None:
            out["action"] = "namespace deleted"
        elif not look:
            out["action"] = "changed"
        else:
            opened = await store.open_value(ns, change.key, cache_ttl=0)
            if opened is None:
                out["action"] = "deleted"
            else:
                entry, chunks = opened
                await close_chunks(chunks)
                out["action"] = "written"
                out["version"] = entry.version
        return out


def _event(name: str, data: dict[str, Any], position: str | None) -> str:
    head = f"id: {position}\n" if position is not None else ""
    # JSON never holds a raw newline, so the data is one line of the stream.
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
