"""AsyncKV and its namespace handles: the Workers KV binding's verbs over any Store.

This file is the source of the sync `KV` too: scripts/unasync.py writes edgekv/api/_sync/kv.py
from it, so the logic exists once. Validation lives in `edgekv.limits`, shared with the server.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Literal, overload

from edgekv import errors, limits
from edgekv.api._async.prefixed import AsyncPrefixedStore
from edgekv.api.decoding import (
    DECODERS,
    Consistency,
    decode,
    read_ttl,
    unknown_type,
    with_metadata,
)
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.limits import bulk_writes, item_check, namespace_title
from edgekv.model import (
    DEFAULT_ACCOUNT,
    BulkResult,
    EntryWrite,
    ListResult,
    NamespaceInfo,
    NamespacePage,
    StoredEntry,
    ValueWithMetadata,
)
from edgekv.stores._async.protocol import AsyncStore, Direction, NamespaceOrder
from edgekv.stores._async.urls import store_from_url

TextOrJson = Literal["text", "json"]
ReadType = Literal["text", "json", "bytes", "arrayBuffer", "stream"]
StreamValue = AsyncIterable[bytes] | IO[bytes]
Value = str | bytes | bytearray | memoryview | StreamValue

_SPOOL_IN_MEMORY = 1 << 20
_FAST_KEY_CHARS = limits.MAX_KEY_BYTES // 4  # so many ASCII characters are always a legal key


class AsyncKV:
    """Workers KV in Python: `AsyncKV("sqlite:///./data/kv.db")`, `AsyncKV("memory://")`."""

    def __init__(
        self,
        store: str | AsyncStore = "memory://",
        *,
        account_id: str | None = None,
        clock: Callable[[], float] = time.time,
        token: str | None = None,
        edge_cache: int | None = None,
        serve_stale: float = 0.0,
    ) -> None:
        """`edge_cache=64 << 20` puts an edge tier of that many bytes in front of the store:
        reads from memory, kept fresh by the store's change feed (see AsyncEdgeStore);
        `serve_stale` seconds past their cache_ttl it answers cached reads (STALE) while the
        central store fails."""
        # `token` and `account_id` also reach a store named by an http(s) URL (AsyncRestStore).
        self.store: AsyncStore = (
            store_from_url(store, clock=clock, token=token, account_id=account_id)
            if isinstance(store, str)
            else store
        )
        if edge_cache:
            # A store opened here is written through this edge only (exclusive).
            self.store = AsyncEdgeStore(
                self.store,
                cache_size=edge_cache,
                serve_stale=serve_stale,
                exclusive=isinstance(store, str),
                clock=clock,
            )
        self.account_id = account_id or DEFAULT_ACCOUNT
        self._clock = clock

    async def create_namespace(self, title: str, *, id: str | None = None) -> AsyncNamespace:
        """A new namespace; `id` chooses its id (32 lowercase hex digits, e.g. the id a
        wrangler.toml already names), else the store makes one."""
        title = namespace_title(title)
        chosen = None if id is None else limits.namespace_id(id)
        info = await self.store.create_namespace(title, self.account_id, chosen)
        return AsyncNamespace(self.store, info, self._clock)

    async def namespace(self, id_or_title: str, *, create: bool = False) -> AsyncNamespace:
        """A namespace by its id, or else by its title in this account; with `create`, one of
        that title is created if there is none (by whichever process asks first)."""
        info = None
        if limits.NAMESPACE_ID.fullmatch(id_or_title):
            with contextlib.suppress(errors.NamespaceNotFound):
                info = await self.store.get_namespace(id_or_title)
        if info is None:
            if create:
                info = await namespace_of(self.store, self.account_id, namespace_title(id_or_title))
            else:
                info = await self.store.find_namespace(self.account_id, id_or_title)
        return AsyncNamespace(self.store, info, self._clock)

    async def list_namespaces(
        self,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        page: int = 1,
        per_page: int = 20,
    ) -> NamespacePage:
        if page < 1 or per_page < 1:
            raise errors.BadRequest("page and per_page must be at least 1")
        return await self.store.list_namespaces(
            self.account_id,
            order=order,
            direction=direction,
            offset=(page - 1) * per_page,
            limit=per_page,
        )

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        return await self.store.rename_namespace(namespace_id, namespace_title(title))

    async def delete_namespace(self, namespace_id: str) -> None:
        await self.store.delete_namespace(namespace_id)

    async def aclose(self) -> None:
        await self.store.aclose()

    async def __aenter__(self) -> AsyncKV:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncNamespace:
    """One namespace, with the binding's verbs: get, get_with_metadata, put, delete, list."""

    __slots__ = ("_clock", "id", "info", "store", "title")

    def __init__(
        self, store: AsyncStore, info: NamespaceInfo, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.info = info
        self.id = info.id
        self.title = info.title
        self._clock = clock

    def __repr__(self) -> str:
        store = self.store
        shown = f" prefix={store.prefix!r}" if isinstance(store, AsyncPrefixedStore) else ""
        return f"<AsyncNamespace {self.title!r} id={self.id}{shown}>"

    def with_prefix(self, prefix: str) -> AsyncNamespace:
        """The keys under `prefix`, as a namespace of their own: `users = ns.with_prefix("user:")`
        reads and writes `users.get("123")` as `user:123`, lists names without the prefix (its
        cursors continue its own listing) and deletes only inside it."""
        return AsyncNamespace(AsyncPrefixedStore(self.store, prefix), self.info, self._clock)

    # reads

    @overload
    async def get(
        self,
        key: str,
        type: Literal["text"] = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> str | None: ...
    @overload
    async def get(
        self,
        key: str,
        type: Literal["json"],
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> Any: ...
    @overload
    async def get(
        self,
        key: str,
        type: Literal["bytes", "arrayBuffer"],
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> bytes | None: ...
    @overload
    async def get(
        self,
        key: str,
        type: Literal["stream"],
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> AsyncIterator[bytes] | None: ...
    @overload
    async def get(
        self,
        key: list[str] | tuple[str, ...],
        type: TextOrJson = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> dict[str, Any]: ...

    async def get(
        self,
        key: str | list[str] | tuple[str, ...],
        type: ReadType = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> Any:
        """The value of a key as text, json, bytes or a stream; None when it is missing.

        Given a list of keys (1..100), a dict of key to value (text or json), None for missing.
        """
        # The hot path (a text read of a short ASCII key with default options) skips the
        # general validation, which it would pass: this read is the product's headline figure.
        if (
            type == "text"
            and cache_ttl is None
            and consistency == "eventual"
            and key.__class__ is str
            and 2 < len(key) <= _FAST_KEY_CHARS
            and key.isascii()
        ):
            value = await self.store.get_value(self.id, key)
            return None if value is None else value.decode("utf-8", "replace")
        ttl = read_ttl(cache_ttl, consistency)
        if not isinstance(key, str):
            entries = await self._get_bulk(key, type, ttl)
            return {k: None if e is None else decode(e.value, type) for k, e in entries.items()}
        key = limits.validate_key(key)
        if type == "stream":
            opened = await self.store.open_value(self.id, key, cache_ttl=ttl)
            return None if opened is None else opened[1]
        if type not in DECODERS:
            raise unknown_type(type)
        value = await self.store.get_value(self.id, key, cache_ttl=ttl)
        return None if value is None else decode(value, type)

    @overload
    async def get_with_metadata(
        self,
        key: str,
        type: ReadType = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> ValueWithMetadata: ...
    @overload
    async def get_with_metadata(
        self,
        key: list[str] | tuple[str, ...],
        type: TextOrJson = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> dict[str, ValueWithMetadata | None]: ...

    async def get_with_metadata(
        self,
        key: str | list[str] | tuple[str, ...],
        type: ReadType = "text",
        *,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> ValueWithMetadata | dict[str, ValueWithMetadata | None]:
        """Value, metadata, version and expiration of a key (or of 1..100 keys), and when it
        was last written (`written_at`, epoch seconds: edgekv's extension)."""
        ttl = read_ttl(cache_ttl, consistency)
        if not isinstance(key, str):
            entries = await self._get_bulk(key, type, ttl)
            return {k: None if e is None else with_metadata(e, type) for k, e in entries.items()}
        key = limits.validate_key(key)
        if type == "stream":
            opened = await self.store.open_value(self.id, key, cache_ttl=ttl)
            if opened is None:
                return ValueWithMetadata(None)
            entry, chunks = opened
            return ValueWithMetadata(
                chunks,
                entry.metadata,
                entry.cache_status,
                entry.version,
                entry.expiration,
                entry.written_at,
            )
        if type not in DECODERS:
            raise unknown_type(type)
        found = await self.store.get(self.id, key, cache_ttl=ttl)
        return ValueWithMetadata(None) if found is None else with_metadata(found, type)

    async def _get_bulk(
        self, keys: Sequence[str], type: str, cache_ttl: int | None
    ) -> dict[str, StoredEntry | None]:
        keys = limits.validate_bulk_get_keys(list(keys))
        limits.validate_bulk_type(type)
        entries = await self.store.get_many(self.id, keys, cache_ttl=cache_ttl)
        total = sum(len(e.value) for e in entries if e is not None)
        if total > limits.MAX_BULK_GET_RESULT_BYTES:
            raise errors.BulkResultTooLarge(
                f"Values of the requested keys total {total} bytes, over the limit of "
                f"{limits.MAX_BULK_GET_RESULT_BYTES}."
            )
        if type == "json":
            for e in entries:
                if e is not None:
                    decode(e.value, "json")  # NotJSON unless it parses
        return dict(zip(keys, entries, strict=True))

    async def list(
        self,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        cache_ttl: int | None = None,
        consistency: Consistency = "eventual",
    ) -> ListResult:
        """A page of keys in UTF-8 byte order; follow `cursor` until `list_complete`."""
        prefix = limits.validate_prefix(prefix)
        count = limits.validate_list_limit(limit)
        after = limits.decode_cursor(cursor)
        page = await self.store.list_keys(
            self.id, prefix, count, after, cache_ttl=read_ttl(cache_ttl, consistency)
        )
        next_cursor = None
        if not page.complete and page.keys:
            next_cursor = limits.encode_cursor(page.keys[-1].name)
        elif not page.complete:
            next_cursor = cursor
        return ListResult(page.keys, page.complete, next_cursor, page.cache_status)

    # writes

    async def put(
        self,
        key: str,
        value: Value,
        *,
        expiration: int | float | str | None = None,
        expiration_ttl: int | float | str | None = None,
        metadata: Any = None,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        """Writes value, metadata and expiry together; returns the entry's new version.

        `only_if_absent` and `if_version` make the write conditional (PreconditionFailed).
        """
        write = EntryWrite(
            limits.validate_key(key),
            b"",
            limits.metadata_json(metadata),
            limits.resolve_expiration(expiration, expiration_ttl, self._clock()),
        )
        if isinstance(value, str | bytes | bytearray | memoryview):
            write.value = limits.value_bytes(value)
            write.size = len(write.value)
            return await self.store.put(
                self.id, write, only_if_absent=only_if_absent, if_version=if_version
            )
        spooled, write.size = await spool(value)
        with spooled:
            write.value = spooled
            return await self.store.put(
                self.id, write, only_if_absent=only_if_absent, if_version=if_version
            )

    async def delete(self, key: str) -> None:
        """Deletes a key; a missing key is no error."""
        await self.store.delete_many(self.id, [limits.validate_key(key)])

    async def incr(
        self,
        key: str,
        by: int = 1,
        *,
        expiration: int | None = None,
        expiration_ttl: int | None = None,
    ) -> int:
        """Adds `by` to the integer at `key` atomically in the central store; returns the sum."""
        if isinstance(by, bool) or not isinstance(by, int) or not -(2**63) <= by < 2**63:
            raise errors.BadRequest("by must be a 64-bit integer")
        return await self.store.incr(
            self.id,
            limits.validate_key(key),
            by,
            limits.resolve_expiration(expiration, expiration_ttl, self._clock()),
        )

    async def bulk_put(self, items: Iterable[Mapping[str, Any]]) -> BulkResult:
        """Writes up to 10,000 pairs `{key, value, expiration?, expiration_ttl?, metadata?, base64?}`.

        Every pair is checked before any is written: one bad pair refuses the whole request,
        naming its index and reason.
        """
        writes = bulk_writes(items, self._clock())
        await self.store.put_many(self.id, writes)
        return BulkResult(len(writes), value_bytes=sum(w.size for w in writes))

    async def bulk_delete(self, keys: Iterable[str]) -> BulkResult:
        """Deletes up to 10,000 keys; missing keys count as deleted."""
        key_list = list(keys)
        limits.check_bulk_delete_count(len(key_list))
        checked = [item_check(i, limits.validate_key, k) for i, k in enumerate(key_list)]
        if checked:
            await self.store.delete_many(self.id, checked)
        return BulkResult(len(checked))


async def namespace_of(store: AsyncStore, account_id: str, title: str) -> NamespaceInfo:
    """The account's namespace of that title, created if there is none: by whichever caller
    (thread, process, server) gets there first; the others find it."""
    try:
        return await store.find_namespace(account_id, title)
    except errors.NamespaceNotFound:
        pass
    try:
        return await store.create_namespace(title, account_id)
    except errors.DuplicateNamespaceTitle:  # created meanwhile
        return await store.find_namespace(account_id, title)


async def spool(stream: StreamValue) -> tuple[IO[bytes], int]:
    """Copies a stream into a file that spills to disk past 1 MiB, refusing it past 25 MiB."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        async for chunk in _chunks_of(stream):
            size += len(chunk)
            limits.check_value_size(size)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, size


async def _chunks_of(stream: StreamValue) -> AsyncIterator[bytes]:
    # A file is read in chunks before asking whether it is iterable: in the sync shell a file
    # is an Iterable of lines, and a file with no newline would arrive whole.
    if isinstance(stream, io.IOBase) or not isinstance(stream, AsyncIterable):
        read = getattr(stream, "read", None)
        if read is not None:
            while chunk := read(1 << 16):
                yield chunk if isinstance(chunk, bytes) else chunk.encode()
            return
        raise errors.BadRequest(
            f"Value must be a string, bytes or a stream of bytes, not {type(stream).__name__}."
        )
    async for chunk in stream:
        if isinstance(chunk, str):
            chunk = chunk.encode()
        elif not isinstance(chunk, bytes | bytearray | memoryview):
            raise errors.BadRequest("A value stream must yield bytes.")
        yield bytes(chunk)
