"""The Redis central store: `redis://host:6379/0`, `rediss://...`, `redis+cluster://h:p,h:p`.

A namespace's keys are spread over buckets (hash tags), so a Redis Cluster puts them on
different masters; each write is one Lua script on its bucket that updates value, key index and
change feed together. The layout and the reasons are in `edgekv.stores.redis.scripts`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis.asyncio
import redis.exceptions
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError

from edgekv import errors
from edgekv.concurrency import AsyncAll, AsyncBatch, AsyncLock
from edgekv.limits import prefix_upper_bound
from edgekv.model import (
    Change,
    EntryWrite,
    FeedPage,
    KeyInfo,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import Direction, NamespaceOrder, chunks_of
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.deadlines import DEADLINE_OPTIONS, Deadlines
from edgekv.stores.positions import parse_stream_position, stream_id_key, stream_position
from edgekv.stores.redis import scripts as lua
from edgekv.stores.redis.faults import RedisFaults
from edgekv.stores.redis.nodes import AsyncNodeClient

LARGE_VALUE = 1 << 20  # values this large are kept in a blob key, moved in chunks
CHUNK = 1 << 20
SCRIPT_ARGS = 8000  # most fields one script call takes: bounds how long it holds Redis
NOT_AN_INTEGER = "value is not an integer, or the sum exceeds 64 bits"
_OURS = ("prefix", "buckets", "feed_retention", "expiry_grace", *DEADLINE_OPTIONS)
_ENTRY_FIELDS = ["v", "b", "x", "m", "n", "t"]  # what a read takes of an entry's hash


def split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _OURS:
            ours[name] = value
        else:
            theirs.append((name, value))
    return urlunsplit((*parts[:3], urlencode(theirs), "")), ours


# The slots a multi-bucket script meant for one node are no longer all there (a resharding or
# a failover): Redis refuses such a script before running it, so it can be run again.
_MOVED = (MovedError, AskError, TryAgainError, ClusterDownError)
log = logging.getLogger("edgekv.redis")


# A retry of redis-py's own is one more connection attempt after a connection error only: a
# call that timed out is not sent again (that would double its deadline, and redis-py's default,
# 3 retries with backoff up to 10 s, made a frozen server's calls wait a minute).
def _retry() -> Retry:
    return Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))


Id = tuple[int, int]  # a stream id's (ms, seq)


class _Unit:
    """One bucket's part of a script that runs over several buckets of one node."""

    __slots__ = ("args", "bucket", "keys", "size")

    def __init__(self, bucket: int, keys: list[str], args: list[Any]) -> None:
        self.bucket, self.keys, self.args = bucket, keys, args
        self.size = len(keys) + len(args) + 2


class _Put:
    """A put waiting for its script: namespace, bucket, entry key, and its WRITE fields."""

    __slots__ = ("bucket", "entry", "fields", "namespace_id")

    def __init__(self, namespace_id: str, bucket: int, entry: str, fields: list[Any]) -> None:
        self.namespace_id, self.bucket = namespace_id, bucket
        self.entry, self.fields = entry, fields


def _framed(units: list[_Unit]) -> bytes:
    """The units of a MULTI_BUCKET script as its one framed argument."""
    fields: list[Any] = []
    for unit in units:
        fields += (len(unit.keys), *unit.keys, len(unit.args), *unit.args)
    return lua.frame(fields)


class AsyncRedisStore:
    """A central store in Redis 7 or a Redis Cluster; see docs/stores.md for the settings."""

    capabilities = Capabilities(
        group_commit=False,  # concurrent puts are batched per master by put itself
        change_feed=True,
        ordered_feed=False,  # a stream per bucket: each key's changes in order
        exclude_own=True,  # a feed entry carries its writer's origin
        conditional_writes=True,
        incr=True,
        versions=True,
    )

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        buckets: int | None = None,
        clock: Callable[[], float] = time.time,
        feed_retention: float | None = None,
        expiry_grace: int | None = None,
    ) -> None:
        self._faults = RedisFaults(log)
        self.feed_reads = 0  # feed pages and looks at its end, made here (docs/scaling.md)
        base, options = split_url(url)
        scheme = base.split(":", 1)[0].lower()
        self.keys = lua.Keys(prefix or options.get("prefix") or "edgekv")
        self._want_buckets = buckets or int(options.get("buckets", 16))
        if not 1 <= self._want_buckets <= lua.MAX_BUCKETS:
            raise errors.BadRequest(f"buckets must be 1..{lua.MAX_BUCKETS}")
        self.buckets = 0  # read from the store on first use: every client must agree
        self._clock = clock
        retention = feed_retention or float(options.get("feed_retention", 24 * 3600))
        self._retention_us = int(retention * 1_000_000)
        self._grace = (
            expiry_grace if expiry_grace is not None else int(options.get("expiry_grace", 60))
        )
        # `timeout`/`connect_timeout` (edgekv's, as on every store URL), or redis-py's own
        # `socket_timeout`/`socket_connect_timeout`: each call, each new connection.
        self.deadlines = Deadlines.of(
            {
                "timeout": options.get("timeout") or options.get("socket_timeout", ""),
                "connect_timeout": options.get("connect_timeout")
                or options.get("socket_connect_timeout", ""),
            }
        )
        bounded: dict[str, Any] = {
            "socket_timeout": self.deadlines.timeout,
            "socket_connect_timeout": self.deadlines.connect_timeout,
            "retry": _retry(),
        }
        self.client: Any
        if scheme in ("redis+cluster", "rediss+cluster"):
            nodes = []
            userinfo, _, hostports = urlsplit(base).netloc.rpartition("@")
            for hostport in hostports.split(","):
                host, _, port = hostport.rpartition(":")
                nodes.append((host or "127.0.0.1", int(port or 6379)))
            user, _, password = userinfo.partition(":")
            username, secret = unquote(user) or None, unquote(password) or None
            # The sync client asks the startup nodes for the cluster's map here: a cluster
            # that cannot be reached is StoreUnavailable from the constructor too.
            with self._faults:
                self.client = RedisCluster(
                    startup_nodes=[ClusterNode(h, p) for h, p in nodes],  # type: ignore[no-untyped-call,unused-ignore]
                    ssl=scheme.startswith("rediss"),
                    username=username,
                    password=secret,
                    **{**bounded, "retry": _retry()},
                )
            # Pub/sub messages published on any master reach every node of a cluster.
            self._signals: Any = redis.asyncio.Redis(
                host=nodes[0][0],
                port=nodes[0][1],
                ssl=scheme.startswith("rediss"),
                username=username,
                password=secret,
                **bounded,
            )
        else:
            self.client = redis.asyncio.Redis.from_url(base, **bounded)
            self._signals = self.client
        self._pubsub: Any = None
        self._waiting = AsyncLock()
        self._signal_due = False  # a write script found a waiter to signal (_signal_waiters)
        register = self.client.register_script
        self._write_script = register(lua.WRITE)
        self._delete_many = register(lua.DELETE_MANY)
        self._incr = register(lua.INCR)
        self._list = register(lua.LIST)
        self._drop = register(lua.DROP_NAMESPACE)
        self._feed_namespace = register(lua.FEED_NAMESPACE)
        self._feed_read = register(lua.FEED_READ)
        self._fold = register(lua.FOLD)
        self._count_old = register(lua.COUNT_OLD)
        self._create = register(lua.CREATE_NAMESPACE)
        self._rename = register(lua.RENAME_NAMESPACE)
        self._remove = register(lua.DELETE_NAMESPACE)
        self._known: set[str] = set()
        # Carried by the feed entries of this client's writes, so that its edge can leave
        # them out of what it reads (changes(exclude_own=True)).
        self._origin = uuid.uuid4().hex[:16]
        self._cluster = isinstance(self.client, RedisCluster)
        self._nodes = AsyncNodeClient(self.client)
        # Puts that arrive together are written by one script per node (see put), each node's
        # batch on its own: a put waits for its master only.
        self._batches: dict[str, AsyncBatch[_Put, int | None]] = {}
        self._bucket_batches: dict[int, AsyncBatch[_Put, int | None]] = {}
        # The node of each bucket, and each (bucket, namespace)'s keys: looked up per put.
        self._bucket_nodes: dict[int, Any] = {}
        self._unit_keys: dict[tuple[int, str], list[str]] = {}
        # Feed reads: each bucket's feed and stamp keys, and the position last returned.
        self._feed_keys: list[list[str]] = []
        self._last_position: tuple[str, list[str], list[Id]] | None = None

    async def _ready(self) -> int:
        if not self.buckets:
            await self.client.hsetnx(self.keys.meta, "buckets", self._want_buckets)
            buckets = int(await self.client.hget(self.keys.meta, "buckets"))
            if await self.client.hget(self.keys.meta, "totals") is None:
                await self._count_old_entries(buckets)
            self.buckets = buckets
        return self.buckets

    async def _count_old_entries(self, buckets: int) -> None:
        """Gives every entry written before sizes were kept its size, and counts it in its
        namespace's totals (once: an entry that has a size is skipped, so clients that
        upgrade at once count nothing twice). Then marks the store upgraded."""
        for raw_id in await self.client.hkeys(self.keys.namespaces):
            nsid = raw_id.decode()
            for b in range(buckets):
                keys = [
                    self.keys.index(b, nsid),
                    self.keys.usage(b, nsid),
                    self.keys.expiring(b, nsid),
                ]
                start = b"-"
                while True:
                    seen, last = await self._count_old(
                        keys=keys, args=[self.keys.entry_prefix(b, nsid), start, self._grace]
                    )
                    if seen < 500:
                        break
                    start = b"(" + last
        await self.client.hset(self.keys.meta, "totals", 1)

    def _head(self) -> list[object]:
        """ARGV[1..5] of every write script (the _PRELUDE of scripts.py)."""
        return [
            repr(self._clock()),
            self._retention_us,
            self._grace,
            self.keys.channel,
            self._origin,
        ]

    def _args(self, nsid: str) -> list[object]:
        return [*self._head(), nsid]

    async def _open(self, namespace_id: str) -> None:
        """Reads the bucket count and checks the namespace exists, once per store: the
        callers test `namespace_id in self._known and self.buckets` before calling (every
        read and write does, and most need nothing more)."""
        await self._ready()
        if namespace_id not in self._known:
            if not await self.client.hexists(self.keys.namespaces, namespace_id):
                raise errors.NamespaceNotFound()
            self._known.add(namespace_id)

    async def _run(self, script: Any, keys: list[str], args: list[object], nsid: str) -> Any:
        try:
            return await script(keys=keys, args=args)
        except redis.exceptions.ResponseError as e:
            if "EDGEKV_NAMESPACE_GONE" in str(e):
                self._known.discard(nsid)
                raise errors.NamespaceNotFound() from e
            if "EDGEKV_NOT_AN_INTEGER" in str(e):
                raise errors.BadRequest(NOT_AN_INTEGER) from e
            raise

    # namespaces

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with self._faults:
            await self._ready()
            chosen = namespace_id or uuid.uuid4().hex
            # Deleted before `gone` was kept: such an id is still in the buckets' deleted sets.
            if namespace_id is not None and await self.client.sismember(
                self.keys.deleted(0), chosen
            ):
                raise errors.NamespaceIdTaken.of(chosen, deleted=True)
            record = json.dumps({"title": title, "account_id": account_id})
            keys = [self.keys.namespaces, self.keys.titles, self.keys.gone]
            done = await self._create(keys=keys, args=[chosen, f"{account_id}\n{title}", record])
            if done in (-1, -2):
                raise errors.NamespaceIdTaken.of(chosen, deleted=done == -2)
            if not done:
                raise errors.DuplicateNamespaceTitle()
            self._known.add(chosen)
            return NamespaceInfo(chosen, title, account_id)

    async def _all_namespaces(self) -> list[NamespaceInfo]:
        found = await self.client.hgetall(self.keys.namespaces)
        out = []
        for raw_id, raw in found.items():
            record = json.loads(raw)
            out.append(NamespaceInfo(raw_id.decode(), record["title"], record["account_id"]))
        return out

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        with self._faults:
            found = [
                n
                for n in await self._all_namespaces()
                if account_id is None or n.account_id == account_id
            ]
            if order == "title":
                found.sort(key=lambda n: (n.title.encode(), n.id), reverse=direction == "desc")
            else:
                found.sort(key=lambda n: n.id, reverse=direction == "desc")
            return NamespacePage(found[offset : offset + limit], len(found))

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with self._faults:
            raw = await self.client.hget(self.keys.namespaces, namespace_id)
            if raw is None:
                raise errors.NamespaceNotFound()
            record = json.loads(raw)
            return NamespaceInfo(namespace_id, record["title"], record["account_id"])

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            raw = await self.client.hget(self.keys.titles, f"{account_id}\n{title}")
            if raw is None:
                raise errors.NamespaceNotFound()
            return await self.get_namespace(raw.decode())

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            info = await self.get_namespace(namespace_id)
            record = json.dumps({"title": title, "account_id": info.account_id})
            done = await self._rename(
                keys=[self.keys.namespaces, self.keys.titles],
                args=[
                    namespace_id,
                    f"{info.account_id}\n{info.title}",
                    f"{info.account_id}\n{title}",
                    record,
                ],
            )
            if done == 0:
                raise errors.NamespaceNotFound()
            if done == -1:
                raise errors.DuplicateNamespaceTitle()
            return NamespaceInfo(namespace_id, title, info.account_id)

    async def delete_namespace(self, namespace_id: str) -> None:
        with self._faults:
            buckets = await self._ready()
            info = await self.get_namespace(namespace_id)
            keys = [self.keys.namespaces, self.keys.titles, self.keys.gone]
            if not await self._remove(
                keys=keys, args=[namespace_id, f"{info.account_id}\n{info.title}"]
            ):
                raise errors.NamespaceNotFound()
            self._known.discard(namespace_id)
            # Each bucket first marks the namespace deleted (no write lands there after), then
            # drops its entries a slice at a time; one feed entry with no key says "all of it".
            for b in range(buckets):
                prefix = self.keys.entry_prefix(b, namespace_id)
                while await self._drop(
                    keys=[
                        self.keys.index(b, namespace_id),
                        self.keys.deleted(b),
                        self.keys.usage(b, namespace_id),
                        self.keys.expiring(b, namespace_id),
                    ],
                    args=[namespace_id, prefix],
                ):
                    pass
            await self._feed_namespace(
                keys=self.keys.bucket_keys(0, namespace_id), args=self._args(namespace_id)
            )

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            now = repr(self._clock())
            totals = await AsyncAll.of(
                *(self._bucket_usage(b, namespace_id, now) for b in range(self.buckets))
            )
            return NamespaceUsage(sum(t[0] for t in totals), sum(t[1] for t in totals))

    async def _bucket_usage(self, b: int, namespace_id: str, now: str) -> tuple[int, int]:
        keys = [self.keys.usage(b, namespace_id), self.keys.expiring(b, namespace_id)]
        while True:
            found_keys, found_bytes, more = await self._fold(keys=keys, args=[now, 1000])
            if not more:
                return int(found_keys), int(found_bytes)

    # entries

    def _where(self, namespace_id: str, key: str) -> tuple[int, str]:
        b = lua.bucket_of(key, self.buckets)
        return b, self.keys.entry(b, namespace_id, key)

    def _entry(self, b: int, fields: list[Any], now: float) -> StoredEntry | None:
        value, _, exp, meta, stamp, written = fields
        if stamp is None or (exp is not None and int(exp) <= now):
            return None
        return StoredEntry(
            value if value is not None else b"",
            None if meta is None else meta.decode(),
            None if exp is None else int(exp),
            lua.version_of(int(stamp), b),
            None,
            None if written is None else int(written),
        )

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            b, name = self._where(namespace_id, key)
            fields = await self.client.hmget(name, _ENTRY_FIELDS)
            entry = self._entry(b, fields, self._clock())
            if entry is not None and fields[1] is not None:
                entry.value = await self._blob(fields[1])
            return entry

    async def _blob(self, name: bytes) -> bytes:
        value = await self.client.get(name)
        if value is None:
            raise errors.StoreUnavailable("a large value vanished while it was read; retry")
        return value  # type: ignore[no-any-return]

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        with self._faults:
            entry = await self.get(namespace_id, key)
            return None if entry is None else entry.value

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            pipe = self.client.pipeline(transaction=False)
            places = [self._where(namespace_id, k) for k in keys]
            for _, name in places:
                pipe.hmget(name, _ENTRY_FIELDS)
            now = self._clock()
            out: list[StoredEntry | None] = []
            for (b, _), fields in zip(places, await pipe.execute(), strict=True):
                entry = self._entry(b, fields, now)
                if entry is not None and fields[1] is not None:
                    entry.value = await self._blob(fields[1])
                out.append(entry)
            return out

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = CHUNK
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            b, name = self._where(namespace_id, key)
            fields = await self.client.hmget(name, _ENTRY_FIELDS)
            entry = self._entry(b, fields, self._clock())
            if entry is None:
                return None
            if fields[1] is None:
                value, entry.value = entry.value, b""
                return entry, chunks_of(value, chunk_size)
            size = await self.client.strlen(fields[1])
            return entry, self._blob_chunks(fields[1], size, chunk_size)

    async def _blob_chunks(self, name: bytes, size: int, chunk_size: int) -> AsyncIterator[bytes]:
        with self._faults:
            # An overwritten blob lives on for a minute (see scripts.py), long enough to finish.
            start = 0
            while start < size:
                part = await self.client.getrange(name, start, min(start + CHUNK, size) - 1)
                if not part:
                    raise errors.StoreUnavailable("a large value vanished while it was read; retry")
                view = memoryview(part)
                for at in range(0, len(view), chunk_size):
                    yield bytes(view[at : at + chunk_size])
                start += len(part)

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            b, name = self._where(namespace_id, write.key)
            mode, expected = "", ""
            if only_if_absent:
                mode = "absent"
            elif if_version is not None:
                stamp, bucket = lua.stamp_of(if_version)
                if bucket != b:
                    raise errors.PreconditionFailed("version does not match")
                mode, expected = "version", str(stamp)
            if write.size < LARGE_VALUE and isinstance(write.value, bytes):
                value: bytes | str = write.value
                is_blob = "0"
            else:
                value, is_blob = await self._write_blob(b, write), "1"
            exp = "" if write.expiration is None else write.expiration
            fields = [write.key, mode, expected, value, is_blob, write.metadata_json or "", exp]
            # Concurrent puts to one master share a script: one round trip for all the puts that
            # came while its previous script ran, instead of one each (the client's cost per call
            # dominates a put's).
            version = await self._batch_of(b).submit(_Put(namespace_id, b, name, fields))
            if version is None:
                raise errors.PreconditionFailed(
                    "key already exists" if only_if_absent else "version does not match"
                )
            return version

    def _batch_of(self, b: int) -> AsyncBatch[_Put, int | None]:
        """The batch of the node that holds bucket b, as the client's map of the cluster
        said when first asked: if the map changed since, `_per_node` still sends each put
        where its bucket is now."""
        batch = self._bucket_batches.get(b)
        if batch is None:
            node = self._node_of(b)
            name = "" if node is None else node.name
            batch = self._batches.get(name)
            if batch is None:
                batch = self._batches[name] = AsyncBatch(
                    self._write_batch, in_flight=1, deadline=self.deadlines.timeout
                )
            self._bucket_batches[b] = batch
        return batch

    def _node_of(self, b: int) -> Any:
        """The cluster node that holds bucket b, as the client's map says (None: not a
        cluster); kept until `_forget_nodes`."""
        if not self._cluster:
            return None
        node = self._bucket_nodes.get(b)
        if node is None:
            node = self._bucket_nodes[b] = self.client.get_node_from_key(self.keys.feed(b))
        return node

    def _forget_nodes(self) -> None:
        """The cluster's map changed: buckets are looked up, and puts batched, anew."""
        self._bucket_nodes.clear()
        self._bucket_batches.clear()

    def _bucket_keys(self, b: int, nsid: str) -> list[str]:
        found = self._unit_keys.get((b, nsid))
        if found is None:
            if len(self._unit_keys) >= 1 << 16:
                self._unit_keys.clear()
            found = self._unit_keys[(b, nsid)] = self.keys.bucket_keys(b, nsid)
        return found

    async def _write_blob(self, b: int, write: EntryWrite) -> str:
        name = self.keys.blob(b, uuid.uuid4().hex)
        # An upload that never reaches its put script vanishes after an hour.
        await self.client.set(name, b"", ex=3600)
        if isinstance(write.value, bytes):
            view = memoryview(write.value)
            for start in range(0, len(view), CHUNK):
                await self.client.append(name, bytes(view[start : start + CHUNK]))
        else:
            while chunk := write.value.read(CHUNK):
                await self.client.append(name, chunk)
        return name

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            puts = []
            for w in writes:
                b, name = self._where(namespace_id, w.key)
                value = w.value if isinstance(w.value, bytes) else w.value.read()
                exp = "" if w.expiration is None else w.expiration
                puts.append(
                    _Put(
                        namespace_id,
                        b,
                        name,
                        [w.key, "", "", value, "0", w.metadata_json or "", exp],
                    )
                )
            versions = []
            # Node after node, in order of first key: the feed lists a bulk write in its order.
            for result in await self._write(puts, in_order=True):
                if isinstance(result, Exception):
                    raise result
                assert result is not None  # unconditional
                versions.append(result)
            return versions

    async def _write_batch(self, puts: list[_Put]) -> list[int | Exception | None]:
        """A batch's puts: one node's, as `_batch_of` grouped them."""
        return await self._write(puts, one_node=True)

    async def _write(
        self, puts: list[_Put], in_order: bool = False, one_node: bool = False
    ) -> list[int | Exception | None]:
        """Each put's version (None: its condition failed), or the error that is its own.

        One WRITE script per node holds every put for it, grouped by namespace and bucket, so
        a node applies its puts atomically; nodes are written side by side, or `in_order`.
        Puts meant for `one_node` that fit one script are sent without sorting by node (if
        the cluster's map changed, `_call_units` finds out before anything is written).
        """
        groups: dict[tuple[str, int], list[int]] = {}
        for i, put in enumerate(puts):
            groups.setdefault((put.namespace_id, put.bucket), []).append(i)
        parts, units = [], []
        per_unit = SCRIPT_ARGS // (lua.ENTRY_ARGS + 1)  # an entry: its key name and fields
        size = 0
        for (nsid, b), indexes in groups.items():
            for start in range(0, len(indexes), per_unit):
                part = indexes[start : start + per_unit]
                args: list[Any] = [nsid]
                for i in part:
                    args.append(puts[i].entry)
                    args += puts[i].fields
                parts.append((nsid, part))
                units.append(_Unit(b, self._bucket_keys(b, nsid), args))
                size += units[-1].size
        if one_node and size <= SCRIPT_ARGS:
            replies = await self._call_units(self._write_script, self._head(), units)
        else:
            replies = await self._per_node(self._write_script, self._head(), units, in_order)
        if self._signal_due:
            await self._signal_waiters()
        out: list[int | Exception | None] = [None] * len(puts)
        for (nsid, part), unit, reply in zip(parts, units, replies, strict=True):
            if isinstance(reply, Exception):
                for i in part:
                    out[i] = reply
            elif reply == 0:
                self._known.discard(nsid)
                for i in part:
                    out[i] = errors.NamespaceNotFound()
            else:
                for i, stamp in zip(part, reply, strict=True):
                    out[i] = None if stamp is None else lua.version_of(int(stamp), unit.bucket)
        return out

    async def _per_node(
        self, script: Any, head: list[Any], units: list[_Unit], in_order: bool = False
    ) -> list[Any]:
        """Runs a MULTI_BUCKET `script` over units, one call per node (and per SCRIPT_ARGS
        arguments) for the units it holds; each unit's reply, or the exception its call raised."""
        by_node: dict[str, list[int]] = {}
        for i, unit in enumerate(units):
            node = self._node_of(unit.bucket)
            by_node.setdefault("" if node is None else node.name, []).append(i)
        replies: list[Any] = [None] * len(units)

        async def run_node(indexes: list[int]) -> list[tuple[int, Any]]:
            # A node's calls run in order: a later put of a key must land after an earlier one.
            done: list[tuple[int, Any]] = []
            call: list[int] = []
            size = 0
            for n, i in enumerate(indexes):
                call.append(i)
                size += units[i].size
                if n + 1 == len(indexes) or size + units[indexes[n + 1]].size > SCRIPT_ARGS:
                    got = await self._call_units(script, head, [units[j] for j in call])
                    done += zip(call, got, strict=True)
                    call, size = [], 0
            return done

        if in_order:
            results = [await run_node(indexes) for indexes in by_node.values()]
        else:
            results = await AsyncAll.of(*(run_node(indexes) for indexes in by_node.values()))
        for done in results:
            for i, reply in done:
                replies[i] = reply
        return replies

    async def _call_units(self, script: Any, head: list[Any], units: list[_Unit]) -> list[Any]:
        try:
            try:
                reply = list(await self._on_node(script, units[0], [*head, _framed(units)]))
                return self._signal_from(script, reply)
            except (*_MOVED, redis.exceptions.ResponseError) as e:
                if not isinstance(e, _MOVED) and lua.NOT_HERE not in str(e):
                    raise
                # The node no longer holds all these buckets (nothing was written): one call
                # per bucket, routed by the client, which follows the cluster's redirections;
                # puts are batched by the client's new map from now on.
                self._forget_nodes()
                replies = []
                for unit in units:
                    args = [*head, _framed([unit])]
                    replies += self._signal_from(
                        script, list(await script(keys=unit.keys, args=args))
                    )
                return replies
        except Exception as e:
            return [e] * len(units)

    def _signal_from(self, script: Any, reply: list[Any]) -> list[Any]:
        """A WRITE reply without its last element, which says whether to signal waiters."""
        if script is self._write_script and reply.pop():
            self._signal_due = True
        return reply

    async def _signal_waiters(self) -> None:
        """Publishes on the node the waiters subscribe on (see lua.WRITE): once after any
        number of writes that asked for it. A write is acknowledged whether or not this
        reaches anyone: a waiter that misses it wakes at its timeout and reads the feed."""
        self._signal_due = False
        try:
            await self._signals.publish(self.keys.channel, "")
        except Exception as e:  # any failure (redis-py's torn connections raise RuntimeError)
            log.warning("could not signal the feed's waiters: %r", e)

    async def _on_node(self, script: Any, first: _Unit, args: list[Any]) -> Any:
        """EVALSHA on the node that holds the `first` unit's bucket, by the store's own lane
        to it (nodes.py), the first unit's keys declared: the other units' keys are
        arguments, which no client routes by."""
        node = self._node_of(first.bucket)
        command = ("EVALSHA", script.sha, len(first.keys), *first.keys, *args)
        try:
            return await self._nodes.call(node, *command)
        except redis.exceptions.NoScriptError:
            await self.client.script_load(script.script)
            return await self._nodes.call(node, *command)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if self._cluster:
                # As RedisCluster does when a node is lost: learn the cluster's map again.
                with contextlib.suppress(Exception):
                    await self.client.nodes_manager.initialize()
                self._forget_nodes()
            raise

    def _by_bucket(self, keys: Sequence[str]) -> dict[int, list[int]]:
        """Indexes of `keys` per bucket, buckets in order of their first key."""
        groups: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(lua.bucket_of(key, self.buckets), []).append(i)
        return groups

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            for b, indexes in self._by_bucket(keys).items():
                for start in range(0, len(indexes), 500):
                    part = [keys[i] for i in indexes[start : start + 500]]
                    await self._run(
                        self._delete_many,
                        [
                            *self.keys.bucket_keys(b, namespace_id),
                            *(self.keys.entry(b, namespace_id, k) for k in part),
                        ],
                        [*self._args(namespace_id), *part],
                        namespace_id,
                    )

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            buckets = self.buckets
            low = b"[" + prefix.encode()
            if start_after is not None and start_after.encode() >= prefix.encode():
                low = b"(" + start_after.encode()
            upper = prefix_upper_bound(prefix) if prefix else None
            high = b"+" if upper is None else b"(" + upper.encode()
            now, want = repr(self._clock()), limit + 1
            found: list[tuple[bytes, bytes, bytes, bytes, bytes]] = []
            # Each bucket gives its first `want` live keys; the page is the first `limit` of all.
            for b in range(buckets):
                index = self.keys.index(b, namespace_id)
                entry_prefix = self.keys.entry_prefix(b, namespace_id)
                lower, got = low, 0
                while True:
                    reply = await self._list(
                        keys=[index], args=[lower, high, want - got, now, entry_prefix, 2000]
                    )
                    exhausted, last, rest = reply[0], reply[1], reply[2:]
                    for i in range(0, len(rest), 5):
                        found.append((rest[i], rest[i + 1], rest[i + 2], rest[i + 3], rest[i + 4]))
                    got += len(rest) // 5
                    if exhausted or got >= want:
                        break
                    lower = b"(" + last
            found.sort(key=lambda item: item[0])
            keys = [
                KeyInfo(
                    k.decode(),
                    int(x) if x else None,
                    m.decode() if m else None,
                    int(z) if z else None,
                    int(t) if t else None,
                )
                for k, x, m, z, t in found[:limit]
            ]
            return KeyPage(keys, len(found) <= limit)

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        with self._faults:
            if namespace_id not in self._known or not self.buckets:
                await self._open(namespace_id)
            b, name = self._where(namespace_id, key)
            if not -(1 << 63) <= by < 1 << 63:
                raise errors.BadRequest(NOT_AN_INTEGER)
            value = await self._run(
                self._incr,
                [*self.keys.bucket_keys(b, namespace_id), name],
                [*self._args(namespace_id), key, by, "" if expiration is None else expiration],
                namespace_id,
            )
            return int(value)

    # change feed and housekeeping

    async def _read_feeds(
        self, ids: list[str], count: int, watch: bool = False, skip: str = ""
    ) -> list[list[Any]]:
        # One script per node for the buckets it holds (a cluster pipeline refuses scripts):
        # what feed delay is made of is round trips, and a follower reads every few ms.
        if len(self._feed_keys) != len(ids):
            self._feed_keys = [[self.keys.feed(b), self.keys.stamp(b)] for b in range(len(ids))]
        units = [_Unit(b, keys, [ids[b]]) for b, keys in enumerate(self._feed_keys)]
        head = [count, "1" if watch else "0", skip]
        replies = await self._per_node(self._feed_read, head, units)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def feed_position(self) -> str:
        with self._faults:
            buckets = await self._ready()
            replies = await self._read_feeds(["0-0"] * buckets, 0)
            return stream_position([reply[1].decode() for reply in replies])

    def _parse_position(self, position: str | None, buckets: int) -> tuple[list[str], list[Id]]:
        """The ids of a position and their (ms, seq): the position a follower passes is the
        one the store returned last, parsed then."""
        memo = self._last_position
        if memo is not None and memo[0] == position:
            return list(memo[1]), memo[2]
        ids = parse_stream_position(position, buckets)
        return ids, [stream_id_key(i) for i in ids]

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        with self._faults:
            buckets = await self._ready()
            ids, mine = self._parse_position(position, buckets)
            self.feed_reads += 1
            replies = await self._read_feeds(ids, limit, skip=self._origin if exclude_own else "")
            behind = False
            # (stamp, bucket, change): unique without the change, so plain tuple order. Every edge
            # reads every change, so this loop is written for speed. The ids the scripts give
            # are `<stamp>-0` (the write scripts choose them).
            merged: list[tuple[int, int, Change]] = []
            namespaces: dict[bytes, str] = {}
            last_read: dict[int, bytes] = {}
            left_out = 0
            for b, (exists, last, trimmed, read, in_namespace, keys, to, skipped) in enumerate(
                replies
            ):
                if position is not None and (
                    (int(trimmed[:-2]), 0) > mine[b]
                    or mine[b] > (int(last[:-2]), 0)
                    or (not exists and ids[b] != "0-0")
                ):
                    behind = True
                if to:
                    last_read[b] = to
                    left_out += skipped
                if not read:
                    continue
                for stream_id, raw_ns, raw_key in zip(read, in_namespace, keys, strict=True):
                    stamp = int(stream_id[:-2])
                    nsid = namespaces.get(raw_ns)
                    if nsid is None:
                        nsid = namespaces[raw_ns] = raw_ns.decode()
                    key = None if raw_key is None else raw_key.decode()
                    change = Change((stamp << lua.BUCKET_BITS) | b, nsid, key, stamp / 1e6)
                    merged.append((stamp, b, change))
            merged.sort()
            read_to = list(mine)
            if len(merged) <= limit:
                for b, stream_id in last_read.items():
                    ids[b] = stream_id.decode()
                    read_to[b] = (int(stream_id[:-2]), 0)
            else:
                del merged[limit:]
                for stamp, b, _ in merged:
                    ids[b] = f"{stamp}-0"
                    read_to[b] = (stamp, 0)
            new = stream_position(ids)
            self._last_position = (new, ids, read_to)
            return FeedPage([c for _, _, c in merged], new, behind, left_out)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        with self._faults:
            if self._waiting.locked():
                # Another caller holds the kept subscription (a second edge, a long poll over
                # REST): wait on a subscription of this call's own rather than queue behind it.
                pubsub = self._signals.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.keys.channel)
                    return await self._wait_subscribed(pubsub, position, seconds)
                finally:
                    await pubsub.aclose()
            async with self._waiting:
                try:
                    if self._pubsub is None:
                        # Subscribed once and kept: writes publish only while someone waits, so a
                        # write load sends no messages. (Unsubscribing between waits raced with
                        # redis-py's bookkeeping: a late unsubscribe confirmation undid the next
                        # subscribe, and a wait slept out its time unsignalled.)
                        self._pubsub = self._signals.pubsub(ignore_subscribe_messages=True)
                        await self._pubsub.subscribe(self.keys.channel)
                    return await self._wait_subscribed(self._pubsub, position, seconds)
                except (redis.exceptions.ConnectionError, OSError):
                    await self._drop_subscription()
                    raise

    async def _wait_subscribed(self, pubsub: Any, position: str | None, seconds: float) -> bool:
        # Subscribed first, then looked, asking the next write to each bucket to publish
        # (watch): a change after the look is a message we get. Messages from before the look
        # (other waiters' signals) tell nothing the look does not.
        while await pubsub.get_message(timeout=0) is not None:
            pass
        buckets = await self._ready()
        _, mine = self._parse_position(position, buckets)
        self.feed_reads += 1
        replies = await self._read_feeds(["0-0"] * buckets, 0, watch=True)
        if any((int(r[1][:-2]), 0) > mine[b] for b, r in enumerate(replies)):
            return True
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if await pubsub.get_message(timeout=left) is not None:
                # Writes publish while someone waits; one read of the feed answers them all,
                # so drain what queued up (a burst must not become a burst of feed reads).
                while await pubsub.get_message(timeout=0) is not None:
                    pass
                return True
        return False

    async def _drop_subscription(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def purge_expired(self, limit: int = 1000) -> int:
        # Redis reclaims expired entries itself (EXPIRE), feeds are trimmed by every write
        # (XADD MINID), and list prunes index members whose entry is gone.
        return 0

    async def aclose(self) -> None:
        with self._faults:
            await self._nodes.aclose()
            await self._drop_subscription()
            if self._signals is not self.client:
                await self._signals.aclose()
            await self.client.aclose()
