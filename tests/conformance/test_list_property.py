"""Property: paging through `list` with any limit returns exactly the sorted, unexpired keys
with the prefix, once each — checked against a model sorted by UTF-8 bytes."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgekv
from tests.clock import FakeClock

from .conftest import STORES
from .helpers import utf8_sorted

# A small alphabet, so prefixes collide, with 1- to 4-byte characters in UTF-8 and the code
# points where UTF-8 and UTF-16 order disagree (U+FFFF against a surrogate pair).
ALPHABET = ["a", "b", "/", " ", "é", "€", "\uffff", "😀", "\U0010ffff"]
keys = st.text(alphabet=ALPHABET, min_size=1, max_size=5)
# None: no expiry; otherwise a TTL in seconds.
ttls = st.one_of(st.none(), st.integers(min_value=60, max_value=600))
writes = st.lists(st.tuples(keys, ttls), max_size=40)


async def _check(
    store_name: str,
    batch: list[tuple[str, int | None]],
    later: list[tuple[str, int | None]],
    deleted: list[str],
    advance: int,
    prefix: str,
    limit: int,
) -> None:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        store = await STORES[store_name](Path(tmp), clock)
        try:
            kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
            ns = await kv.create_namespace("property")
            model: dict[str, float | None] = {}
            # Some keys by bulk put, some one by one: both paths must agree.
            await ns.bulk_put([{"key": k, "value": "v", "expiration_ttl": t} for k, t in batch])
            for k, t in batch:
                model[k] = None if t is None else int(clock()) + t
            for k, t in later:
                await ns.put(k, "v", expiration_ttl=t)
                model[k] = None if t is None else int(clock()) + t
            for k in deleted:
                await ns.delete(k)
                model.pop(k, None)
            clock.advance(advance)
            now = clock()
            expected = utf8_sorted(
                [
                    k
                    for k, exp in model.items()
                    if k.startswith(prefix) and (exp is None or exp > now)
                ]
            )

            seen: list[str] = []
            cursor = None
            for _ in range(len(expected) + 2):
                page = await ns.list(prefix=prefix or None, limit=limit, cursor=cursor)
                assert len(page.keys) <= limit
                seen += [k.name for k in page.keys]
                if page.list_complete:
                    assert page.cursor is None
                    break
                assert page.cursor
                cursor = page.cursor
            else:
                pytest.fail("the list never completed")
            assert seen == expected
        finally:
            await store.aclose()


@pytest.mark.parametrize("store_name", ["memory", "sqlite"])
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=writes,
    later=writes,
    deleted=st.lists(keys, max_size=5),
    advance=st.integers(min_value=0, max_value=700),
    prefix=st.text(alphabet=ALPHABET, max_size=2),
    limit=st.one_of(
        st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=1000)
    ),
)
def test_paging_returns_each_live_key_with_the_prefix_once_in_order(
    store_name: str,
    batch: list[tuple[str, int | None]],
    later: list[tuple[str, int | None]],
    deleted: list[str],
    advance: int,
    prefix: str,
    limit: int,
) -> None:
    asyncio.run(_check(store_name, batch, later, deleted, advance, prefix, limit))
