"""A namespace's keys: browsed by prefix a page at a time (each with its size, last write,
expiration and metadata), a key added, a prefix deleted.

Paging is the API's cursor: one `list` of the page's keys, never a count or an offset (the
namespace's keys and bytes are the store's running totals, `namespace_usage`), so the
first page of a namespace of 1,000,000 keys costs what the REST API's list of it costs
(benchmarks/bench_dashboard.py). Deleting a prefix first shows how many keys it would delete
(a dry run); the deletion itself goes in bulk deletes of 1,000 keys, and a request stops after
a few seconds with what is left to do, so no request runs unbounded.
"""

from __future__ import annotations

import time

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edgekv import errors, limits
from edgekv.api._async.kv import AsyncNamespace
from edgekv.model import KeyInfo, NamespaceInfo
from edgekv.server.dashboard.editor import entry_from_form, put_written
from edgekv.server.dashboard.site import Call, Links, Site, base, with_notice

PAGE_SIZES = (25, 100, 250, 1000)
DEFAULT_PAGE = 100
BATCH = 1000  # keys listed and deleted at a time (a bulk delete's worth of them)
COUNT_SECONDS = 5.0  # a dry run counts for this long, then says "at least"
DELETE_SECONDS = 10.0  # a deletion request works this long, then offers to continue
SAMPLE = 20  # keys a dry run names


class KeyBrowser:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        page = self.site.page
        ns = "/namespaces/{namespace_id}"
        return [
            Route(ns, page(self.browse), methods=["GET"]),
            Route(ns + "/add", page(self.add_form, change=True), methods=["GET"]),
            Route(ns + "/add", page(self.add, change=True), methods=["POST"]),
            Route(ns + "/delete-prefix", page(self.dry_run, change=True), methods=["GET"]),
            Route(ns + "/delete-prefix", page(self.delete_prefix, change=True), methods=["POST"]),
        ]

    async def browse(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        prefix = call.query("prefix")
        cursor = call.query("cursor")
        size = limits.plain_integer(call.query("limit")) or DEFAULT_PAGE
        size = size if size in PAGE_SIZES else DEFAULT_PAGE
        number = limits.plain_integer(call.query("n"), 1 << 31) or 1
        ns = AsyncNamespace(self.site.store, info, self.site.clock)
        page = await ns.list(prefix=prefix or None, limit=size, cursor=cursor or None)
        # A page of expired keys only can be empty without being the last: read on.
        while not page.keys and not page.list_complete and page.cursor:
            page = await ns.list(prefix=prefix or None, limit=size, cursor=page.cursor)
        self.site.count(info, "list")
        return self.site.render_in(
            call,
            info,
            "keys.html",
            usage=await self.site.store.namespace_usage(info.id),
            prefix=prefix,
            keys=page.keys,
            next_cursor=page.cursor if not page.list_complete else "",
            number=number,
            size=size,
            sizes=PAGE_SIZES,
            metadata=_metadata_shown,
            now=self.site.clock(),
        )

    # adding a key

    async def add_form(
        self, call: Call, *, failed: str = "", exists: str = "", status: int = 200
    ) -> Response:
        info = await self.site.namespace_of(call)
        draft = {name: call.field(name) for name in ("key", "value", "metadata", "ttl")}
        if not draft["key"]:
            draft["key"] = call.query("prefix")
        return self.site.render_in(
            call,
            info,
            "add.html",
            status,
            draft=draft,
            failed=failed,
            exists=exists,
        )

    async def add(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        links = Links(base(call.request), info.id)
        try:
            key = limits.validate_key(call.field("key"))
            write = await entry_from_form(call, key, None, self.site, info.id)
            await put_written(self.site, info.id, write, version=None)
            self.site.count(info, "write", 1, write.size)
        except errors.PreconditionFailed:
            return await self.add_form(
                call,
                failed="A key of that name already exists: nothing was written.",
                exists=links.key(key),
                status=409,
            )
        except errors.BadRequest as e:
            return await self.add_form(call, failed=e.message, status=e.status)
        return RedirectResponse(with_notice(links.key(key), "added"), 303)

    # deleting a prefix

    async def dry_run(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        return await self._prefix_page(call, info, _prefix(call.query("prefix")), None)

    async def delete_prefix(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        prefix = _prefix(call.field("prefix"))
        deleted, done = await self._delete(info, prefix)
        if done:
            links = Links(base(call.request), info.id)
            return RedirectResponse(with_notice(links.browse(), "prefix-deleted"), 303)
        return await self._prefix_page(call, info, prefix, deleted)

    async def _prefix_page(
        self, call: Call, info: NamespaceInfo, prefix: str, deleted: int | None
    ) -> Response:
        """What deleting the prefix would delete (and, part way, how many are gone)."""
        counted, sample, complete = await self._count(info, prefix)
        return self.site.render_in(
            call,
            info,
            "delete_prefix.html",
            prefix=prefix,
            counted=counted,
            complete=complete,
            sample=sample,
            deleted=deleted,
        )

    async def _count(self, info: NamespaceInfo, prefix: str) -> tuple[int, list[KeyInfo], bool]:
        """How many keys the prefix holds (counted for COUNT_SECONDS at most), the first few,
        and whether the count is all of them."""
        store = self.site.store
        deadline = time.monotonic() + COUNT_SECONDS
        counted, after = 0, None
        sample: list[KeyInfo] = []
        while True:
            page = await store.list_keys(info.id, prefix, BATCH, after, cache_ttl=0)
            self.site.count(info, "list")
            counted += len(page.keys)
            sample += page.keys[: SAMPLE - len(sample)]
            if page.complete or not page.keys:
                return counted, sample, True
            if time.monotonic() > deadline:
                return counted, sample, False
            after = page.keys[-1].name

    async def _delete(self, info: NamespaceInfo, prefix: str) -> tuple[int, bool]:
        """Deletes the prefix's keys a batch at a time for DELETE_SECONDS at most: how many,
        and whether none is left."""
        store = self.site.store
        deadline = time.monotonic() + DELETE_SECONDS
        deleted = 0
        while True:
            page = await store.list_keys(info.id, prefix, BATCH, None, cache_ttl=0)
            self.site.count(info, "list")
            if page.keys:
                await store.delete_many(info.id, [k.name for k in page.keys])
                self.site.count(info, "delete", len(page.keys))
                deleted += len(page.keys)
            if page.complete or not page.keys:
                return deleted, True
            if time.monotonic() > deadline:
                return deleted, False


def _prefix(text: str) -> str:
    prefix = limits.validate_prefix(text)
    if not prefix:
        raise errors.BadRequest(
            "Name a prefix to delete: to delete every key, delete the namespace."
        )
    return prefix


def _metadata_shown(key: KeyInfo, width: int = 120) -> str:
    """A key's metadata as compact JSON, cut to `width` characters for the list."""
    text = key.metadata_json or ""
    return text if len(text) <= width else text[: width - 1] + "…"
