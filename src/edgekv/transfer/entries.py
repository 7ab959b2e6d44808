"""Every live entry of a namespace, in key order, a batch at a time: what export, copy, verify
and backup read.

Keys come a list page (1,000 names) at a time and values in bulk reads of up to 100 keys, fewer
after a batch of large values (the batch aims at 16 MiB), so memory holds one page of names and
one batch of values however many keys there are. Reads are strong (`cache_ttl=0`): no edge in
between answers from memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from edgekv.stores._async.protocol import AsyncStore

PAGE = 1000
MAX_BATCH = 100
BATCH_BYTES = 16 << 20


@dataclass(slots=True)
class Entry:
    """A key as it is stored: value bytes, metadata as stored JSON text, absolute expiration."""

    key: str
    value: bytes
    metadata_json: str | None = None
    expiration: int | None = None


async def entries(
    store: AsyncStore, namespace_id: str, prefix: str = "", *, start_after: str | None = None
) -> AsyncIterator[list[Entry]]:
    """Batches of the namespace's live entries under `prefix`, in UTF-8 byte order of keys."""
    after = start_after
    batch = MAX_BATCH
    while True:
        page = await store.list_keys(namespace_id, prefix, PAGE, after, cache_ttl=0)
        names = [k.name for k in page.keys]
        start = 0
        while start < len(names):
            listed = page.keys[start : start + batch]
            chunk = names[start : start + batch]
            start += len(chunk)
            found = await store.get_many(namespace_id, chunk, cache_ttl=0)
            # Cloudflare's value reads carry no expiration: its list does, so the list's is
            # taken where the read has none.
            out = [
                Entry(
                    key.name,
                    e.value,
                    e.metadata_json,
                    key.expiration if e.expiration is None else e.expiration,
                )
                for key, e in zip(listed, found, strict=True)
                if e is not None  # deleted since it was listed
            ]
            size = sum(len(e.value) for e in out)
            # Halve after a batch over the aim, double back while batches are small.
            if size > BATCH_BYTES:
                batch = max(1, batch // 2)
            elif size < BATCH_BYTES // 4:
                batch = min(MAX_BATCH, batch * 2)
            if out:
                yield out
        if page.complete or not names:
            return
        after = names[-1]
