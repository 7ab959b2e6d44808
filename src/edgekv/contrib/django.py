# Django's cache API names its argument `timeout`; it is an expiry, not an I/O timeout.
# ruff: noqa: ASYNC109
"""A Django cache backend over an edgekv namespace, with native async methods.

    CACHES = {
        "default": {
            "BACKEND": "edgekv.contrib.django.EdgeKVCache",
            "LOCATION": "sqlite:////var/lib/app/kv.db",   # or http://host:port (an edgekv server)
            "OPTIONS": {"NAMESPACE": "django-cache", "TOKEN": "..."},
            "TIMEOUT": 300,
        }
    }

Integers are stored as decimal text so `incr`/`decr` are one atomic increment in the store;
everything else is pickled (as Django's own backends do) and base64-encoded so bulk reads work.
Timeouts under Workers KV's 60 s minimum hold: the logical expiry travels in the metadata.
"""

from __future__ import annotations

import asyncio
import base64
import pickle
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    BaseCache,
    InvalidCacheKey,
)
from django.core.exceptions import ImproperlyConfigured

from edgekv import errors, limits
from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.api._sync.kv import KV, Namespace
from edgekv.cache.kv_format import kv_ttl
from edgekv.model import ValueWithMetadata

_INT, _PICKLE = "i", "p"
_BATCH = 100


class EdgeKVCache(BaseCache):  # type: ignore[misc]
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        self._url = location or ""
        if not self._url or self._url.startswith("memory:"):
            raise ImproperlyConfigured(
                "EdgeKVCache needs a shared store in LOCATION (sqlite:///path/kv.db or an edgekv "
                "server URL): with memory:// the sync and async APIs would see separate stores."
            )
        self._title = options.pop("NAMESPACE", "django-cache")
        self._store_options = options
        self._ns: Namespace | None = None
        self._async: tuple[Any, AsyncNamespace] | None = None

    # handles, opened on first use

    def _namespace(self) -> Namespace:
        if self._ns is None:
            kv = KV(_store(self._url, self._store_options, sync=True))
            self._ns = kv.namespace(self._title, create=True)
        return self._ns

    async def _anamespace(self) -> AsyncNamespace:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            kv = AsyncKV(_store(self._url, self._store_options, sync=False))
            ns = await kv.namespace(self._title, create=True)
            self._async = (loop, ns)
        return self._async[1]

    # keys, values and times (I/O-free, shared by the sync and async methods)

    def validate_key(self, key: str) -> None:
        try:
            limits.validate_key(key)
        except errors.KVError as e:
            raise InvalidCacheKey(e.message) from e

    def _key(self, key: Any, version: int | None) -> str:
        made: str = self.make_and_validate_key(key, version=version)
        return made

    def _expiry(self, timeout: Any) -> float | None:
        """The logical expiry in epoch seconds; None: never. 0 or less: already expired."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        return time.time() + float(timeout)

    @staticmethod
    def _encode(value: Any, expiry: float | None) -> tuple[str, dict[str, Any], int | None]:
        meta: dict[str, Any] = {}
        if type(value) is int:
            text, meta["t"] = str(value), _INT
        else:
            text = base64.b64encode(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)).decode()
            meta["t"] = _PICKLE
        if expiry is not None:
            meta["e"] = expiry
        ttl = None if expiry is None else kv_ttl(time.time(), expiry)
        return text, meta, ttl

    @staticmethod
    def _decode(found: ValueWithMetadata | None, default: Any) -> Any:
        if found is None or found.value is None or not _live(found.metadata):
            return default
        text = found.value if isinstance(found.value, str) else bytes(found.value).decode()
        if found.metadata.get("t") == _INT:
            return int(text)
        return pickle.loads(base64.b64decode(text))

    # the sync API

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._decode(self._namespace().get_with_metadata(self._key(key, version)), default)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        k, expiry = self._key(key, version), self._expiry(timeout)
        if expiry is not None and expiry <= time.time():
            self._namespace().delete(k)
            return
        text, meta, ttl = self._encode(value, expiry)
        self._namespace().put(k, text, metadata=meta, expiration_ttl=ttl)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        k, expiry = self._key(key, version), self._expiry(timeout)
        ns = self._namespace()
        if expiry is not None and expiry <= time.time():
            return self._decode(ns.get_with_metadata(k), None) is None
        text, meta, ttl = self._encode(value, expiry)
        try:
            ns.put(k, text, metadata=meta, expiration_ttl=ttl, only_if_absent=True)
            return True
        except errors.PreconditionFailed:
            held = ns.get_with_metadata(k)
            if held.value is not None and _live(held.metadata):
                return False
            try:  # logically expired: take its place, unless someone else does first
                ns.put(k, text, metadata=meta, expiration_ttl=ttl, if_version=held.version)
                return True
            except errors.PreconditionFailed:
                return False

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        made = {self._key(key, version): key for key in keys}
        out: dict[Any, Any] = {}
        names = list(made)
        for start in range(0, len(names), _BATCH):
            found = self._namespace().get_with_metadata(names[start : start + _BATCH])
            out.update(self._collect(made, found))
        return out

    def set_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        pairs = self._pairs(data, timeout, version)
        if pairs is None:
            self.delete_many(data, version)
        elif pairs:
            self._namespace().bulk_put(pairs)
        return []

    def delete(self, key: Any, version: int | None = None) -> bool:
        k = self._key(key, version)
        existed = self._decode(self._namespace().get_with_metadata(k), _MISSING) is not _MISSING
        self._namespace().delete(k)
        return existed

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = [self._key(key, version) for key in keys]
        if made:
            self._namespace().bulk_delete(made)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        k = self._key(key, version)
        ns = self._namespace()
        found = ns.get_with_metadata(k)
        self._check_incr(key, found)
        return ns.incr(k, delta)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        k, ns = self._key(key, version), self._namespace()
        found = ns.get_with_metadata(k)
        if found.value is None or not _live(found.metadata):
            return False
        expiry = self._expiry(timeout)
        meta = {**found.metadata, "e": expiry} if expiry is not None else {"t": found.metadata["t"]}
        ttl = None if expiry is None else kv_ttl(time.time(), expiry)
        try:
            ns.put(k, found.value, metadata=meta, expiration_ttl=ttl, if_version=found.version)
        except errors.PreconditionFailed:
            return False
        return True

    def clear(self) -> None:
        ns = self._namespace()
        cursor = None
        while True:
            page = ns.list(prefix=self.key_prefix, cursor=cursor, consistency="strong")
            if page.keys:
                ns.bulk_delete([k.name for k in page.keys])
            if page.list_complete:
                return
            cursor = page.cursor

    # the async API, natively async (Django's defaults would run the sync ones in a thread)

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        ns = await self._anamespace()
        return self._decode(await ns.get_with_metadata(self._key(key, version)), default)

    async def aset(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        k, expiry, ns = self._key(key, version), self._expiry(timeout), await self._anamespace()
        if expiry is not None and expiry <= time.time():
            await ns.delete(k)
            return
        text, meta, ttl = self._encode(value, expiry)
        await ns.put(k, text, metadata=meta, expiration_ttl=ttl)

    async def aadd(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        k, expiry, ns = self._key(key, version), self._expiry(timeout), await self._anamespace()
        if expiry is not None and expiry <= time.time():
            return self._decode(await ns.get_with_metadata(k), None) is None
        text, meta, ttl = self._encode(value, expiry)
        try:
            await ns.put(k, text, metadata=meta, expiration_ttl=ttl, only_if_absent=True)
            return True
        except errors.PreconditionFailed:
            held = await ns.get_with_metadata(k)
            if held.value is not None and _live(held.metadata):
                return False
            try:
                await ns.put(k, text, metadata=meta, expiration_ttl=ttl, if_version=held.version)
                return True
            except errors.PreconditionFailed:
                return False

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        made = {self._key(key, version): key for key in keys}
        ns = await self._anamespace()
        out: dict[Any, Any] = {}
        names = list(made)
        for start in range(0, len(names), _BATCH):
            found = await ns.get_with_metadata(names[start : start + _BATCH])
            out.update(self._collect(made, found))
        return out

    async def aset_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        pairs = self._pairs(data, timeout, version)
        if pairs is None:
            await self.adelete_many(data, version)
        elif pairs:
            await (await self._anamespace()).bulk_put(pairs)
        return []

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        k, ns = self._key(key, version), await self._anamespace()
        existed = self._decode(await ns.get_with_metadata(k), _MISSING) is not _MISSING
        await ns.delete(k)
        return existed

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = [self._key(key, version) for key in keys]
        if made:
            await (await self._anamespace()).bulk_delete(made)

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        k, ns = self._key(key, version), await self._anamespace()
        self._check_incr(key, await ns.get_with_metadata(k))
        return await ns.incr(k, delta)

    async def atouch(
        self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        k, ns = self._key(key, version), await self._anamespace()
        found = await ns.get_with_metadata(k)
        if found.value is None or not _live(found.metadata):
            return False
        expiry = self._expiry(timeout)
        meta = {**found.metadata, "e": expiry} if expiry is not None else {"t": found.metadata["t"]}
        ttl = None if expiry is None else kv_ttl(time.time(), expiry)
        try:
            await ns.put(
                k, found.value, metadata=meta, expiration_ttl=ttl, if_version=found.version
            )
        except errors.PreconditionFailed:
            return False
        return True

    async def aclear(self) -> None:
        ns = await self._anamespace()
        cursor = None
        while True:
            page = await ns.list(prefix=self.key_prefix, cursor=cursor, consistency="strong")
            if page.keys:
                await ns.bulk_delete([k.name for k in page.keys])
            if page.list_complete:
                return
            cursor = page.cursor

    # helpers

    def _collect(
        self, made: dict[str, Any], found: Mapping[str, ValueWithMetadata | None]
    ) -> dict[Any, Any]:
        out = {}
        for name, entry in found.items():
            value = self._decode(entry, _MISSING)
            if value is not _MISSING:
                out[made[name]] = value
        return out

    def _pairs(
        self, data: Mapping[Any, Any], timeout: Any, version: int | None
    ) -> list[dict[str, Any]] | None:
        expiry = self._expiry(timeout)
        if expiry is not None and expiry <= time.time():
            return None
        pairs = []
        for key, value in data.items():
            text, meta, ttl = self._encode(value, expiry)
            pair: dict[str, Any] = {"key": self._key(key, version), "value": text, "metadata": meta}
            if ttl is not None:
                pair["expiration_ttl"] = ttl
            pairs.append(pair)
        return pairs

    @staticmethod
    def _check_incr(key: Any, found: ValueWithMetadata) -> None:
        if found.value is None or not _live(found.metadata):
            raise ValueError(f"Key '{key}' not found.")
        if found.metadata.get("t") != _INT:
            raise ValueError(f"Key '{key}' does not hold an integer.")


_MISSING: Any = object()


def _live(meta: Any) -> bool:
    if not isinstance(meta, dict) or "t" not in meta:
        return False
    expiry = meta.get("e")
    return expiry is None or float(expiry) > time.time()


def _store(url: str, options: Mapping[str, Any], *, sync: bool) -> Any:
    """The store a LOCATION names; server URLs take OPTIONS TOKEN and ACCOUNT_ID."""
    if url.startswith(("http://", "https://")):
        token, account = options.get("TOKEN"), options.get("ACCOUNT_ID")
        extra = {"account_id": account} if account else {}
        if sync:
            from edgekv.stores.http._sync.http_store import RestStore

            return RestStore(url, token=token, **extra)
        from edgekv.stores.http._async.http_store import AsyncRestStore

        return AsyncRestStore(url, token=token, **extra)
    if sync:
        from edgekv.stores._sync.urls import store_from_url

        return store_from_url(url)
    from edgekv.stores._async.urls import store_from_url as astore_from_url

    return astore_from_url(url)


__all__ = ["EdgeKVCache"]
