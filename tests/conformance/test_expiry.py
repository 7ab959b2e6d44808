"""docs/contract.md §1: expiration, expiration_ttl and cache_ttl, tested by moving a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

import edgekv
from edgekv import errors, limits
from tests.clock import FakeClock

from .helpers import refused


def ttl_not_positive(v: str) -> str:
    return f"Invalid expiration_ttl of {v}. Please specify integer greater than 0."


def ttl_too_short(v: str) -> str:
    return f"Invalid expiration_ttl of {v}. Expiration TTL must be at least 60."


def expiration_past(v: str) -> str:
    return (
        f"Invalid expiration of {v}. Please specify integer greater than the current number "
        "of seconds since the UNIX epoch."
    )


def expiration_too_soon(v: str) -> str:
    return f"Invalid expiration of {v}. Expiration times must be at least 60 seconds in the future."


async def test_ttl_of_60_is_accepted_and_reported_as_absolute(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    now = int(clock())
    await ns.put("k", "v", expiration_ttl=60, metadata={"m": 1})
    got = await ns.get_with_metadata("k")
    assert got.expiration == now + 60
    [listed] = (await ns.list()).keys
    assert listed.expiration == now + 60
    assert listed.as_json() == {"name": "k", "expiration": now + 60, "metadata": {"m": 1}}
    many = await ns.get_with_metadata(["k"])
    assert many["k"] is not None
    assert many["k"].expiration == now + 60


@pytest.mark.parametrize("ttl", [59, 1, "59"])
async def test_ttl_under_60_is_refused(ns: edgekv.AsyncNamespace, ttl: Any) -> None:
    with refused(errors.InvalidExpirationTtl, 400, ttl_too_short(str(ttl))):
        await ns.put("k", "v", expiration_ttl=ttl)
    assert await ns.get("k") is None


@pytest.mark.parametrize(
    ("ttl", "shown"), [(0, "0"), (-60, "-60"), ("abc", "abc"), (60.5, "60.5"), (True, "true")]
)
async def test_ttl_that_is_not_a_positive_integer_is_refused(
    ns: edgekv.AsyncNamespace, ttl: Any, shown: str
) -> None:
    with refused(errors.InvalidExpirationTtl, 400, ttl_not_positive(shown)):
        await ns.put("k", "v", expiration_ttl=ttl)
    assert await ns.get("k") is None


async def test_ttl_given_as_numeric_text_or_whole_float(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("a", "v", expiration_ttl="120")
    await ns.put("b", "v", expiration_ttl=120.0)
    assert (await ns.get_with_metadata("a")).expiration == int(clock()) + 120
    assert (await ns.get_with_metadata("b")).expiration == int(clock()) + 120


async def test_expiration_at_least_60_seconds_ahead(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    now = int(clock())
    await ns.put("k", "v", expiration=now + 60)
    assert (await ns.get_with_metadata("k")).expiration == now + 60
    await ns.put("k2", "v", expiration=str(now + 3600))
    assert (await ns.get_with_metadata("k2")).expiration == now + 3600


async def test_expiration_under_60_seconds_ahead_is_refused(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    now = int(clock())
    for at in (now + 59, now + 1):
        with refused(errors.InvalidExpiration, 400, expiration_too_soon(str(at))):
            await ns.put("k", "v", expiration=at)
    for at in (now, now - 1, 0, -5):
        with refused(errors.InvalidExpiration, 400, expiration_past(str(at))):
            await ns.put("k", "v", expiration=at)
    with refused(errors.InvalidExpiration, 400, expiration_past("soon")):
        await ns.put("k", "v", expiration="soon")
    assert await ns.get("k") is None


async def test_expiration_and_ttl_agree_between_two_seconds(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    # Seconds are whole: a TTL of 60 and an expiration of now + 60 are the same instant.
    clock.advance(0.5)
    now = int(clock())
    await ns.put("ttl", "v", expiration_ttl=60)
    await ns.put("at", "v", expiration=now + 60)
    assert (await ns.get_with_metadata("ttl")).expiration == now + 60
    assert (await ns.get_with_metadata("at")).expiration == now + 60


async def test_when_both_are_given_the_ttl_wins(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    now = int(clock())
    await ns.put("k", "v", expiration=now + 10_000, expiration_ttl=120)
    assert (await ns.get_with_metadata("k")).expiration == now + 120
    # ... also over an expiration that alone would be refused,
    await ns.put("k2", "v", expiration=now - 5, expiration_ttl=120)
    assert (await ns.get_with_metadata("k2")).expiration == now + 120
    # ... and a bad TTL is refused even next to a good expiration.
    with refused(errors.InvalidExpirationTtl, 400, ttl_too_short("59")):
        await ns.put("k3", "v", expiration=now + 10_000, expiration_ttl=59)


async def test_expired_keys_are_invisible_to_get_bulk_get_and_list(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("short", "s", expiration_ttl=60, metadata={"m": 1})
    await ns.put("long", "l", expiration_ttl=120)
    await ns.put("forever", "f")
    clock.advance(59)
    assert await ns.get("short") == "s"
    assert [k.name for k in (await ns.list()).keys] == ["forever", "long", "short"]
    clock.advance(1)  # the expiration instant itself is past
    assert await ns.get("short") is None
    assert await ns.get("short", "bytes") is None
    assert await ns.get("short", "stream") is None
    got = await ns.get_with_metadata("short")
    assert (got.value, got.metadata) == (None, None)
    assert await ns.get(["short", "long", "forever"]) == {
        "short": None,
        "long": "l",
        "forever": "f",
    }
    assert (await ns.get_with_metadata(["short"]))["short"] is None
    assert [k.name for k in (await ns.list()).keys] == ["forever", "long"]
    assert [k.name for k in (await ns.list(prefix="s")).keys] == []
    clock.advance(60)
    assert await ns.get("long") is None
    assert await ns.get(["long", "forever"]) == {"long": None, "forever": "f"}
    assert [k.name for k in (await ns.list()).keys] == ["forever"]


async def test_expired_keys_do_not_count_towards_a_list_page(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    for i in range(6):
        await ns.put(f"k{i}", "v", expiration_ttl=60 if i % 2 else None)
    clock.advance(61)
    page = await ns.list(limit=3)
    assert [k.name for k in page.keys] == ["k0", "k2", "k4"]
    assert page.list_complete
    assert page.cursor is None


async def test_an_expired_key_can_be_written_again(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("k", "old", expiration_ttl=60, metadata="old")
    clock.advance(3600)
    await ns.put("k", "new")
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata, got.expiration) == ("new", None, None)


async def test_purging_expired_entries_changes_nothing_visible(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore, clock: FakeClock
) -> None:
    await ns.put("gone", "v", expiration_ttl=60)
    await ns.put("kept", "v", expiration_ttl=600)
    clock.advance(120)
    await store.purge_expired()
    assert await ns.get("gone") is None
    assert await ns.get("kept") == "v"
    assert [k.name for k in (await ns.list()).keys] == ["kept"]


# cache_ttl


@pytest.mark.parametrize("bad", [29, 0, -1, "abc", 29.5])
async def test_cache_ttl_under_30_is_refused(ns: edgekv.AsyncNamespace, bad: Any) -> None:
    await ns.put("k", "v")
    message = f"Invalid cache_ttl of {bad}. Cache TTL must be at least 30."
    with refused(errors.InvalidCacheTtl, 400, message):
        await ns.get("k", cache_ttl=bad)
    with refused(errors.InvalidCacheTtl, 400, message):
        await ns.get("k", "json", cache_ttl=bad)
    with refused(errors.InvalidCacheTtl, 400, message):
        await ns.get_with_metadata("k", cache_ttl=bad)
    with refused(errors.InvalidCacheTtl, 400, message):
        await ns.get(["k"], cache_ttl=bad)
    with refused(errors.InvalidCacheTtl, 400, message):
        await ns.list(cache_ttl=bad)


@pytest.mark.parametrize("good", [30, 60, 86_400, "45"])
async def test_cache_ttl_of_30_or_more_is_accepted(ns: edgekv.AsyncNamespace, good: Any) -> None:
    await ns.put("k", "v")
    assert await ns.get("k", cache_ttl=good) == "v"
    assert (await ns.get_with_metadata("k", cache_ttl=good)).value == "v"
    assert await ns.get(["k"], cache_ttl=good) == {"k": "v"}
    assert [k.name for k in (await ns.list(cache_ttl=good)).keys] == ["k"]


async def test_a_strong_read_sees_the_latest_write(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "one")
    assert await ns.get("k", consistency="strong") == "one"
    await ns.put("k", "two")
    assert await ns.get("k", consistency="strong") == "two"
    assert (await ns.get_with_metadata("k", consistency="strong")).value == "two"


async def test_the_largest_expiration_is_kept_exactly(ns: edgekv.AsyncNamespace) -> None:
    """2^53 - 1, the largest expiration accepted, comes back as it went in from every store
    (SQLite and PostgreSQL integers, Redis's scripts, JSON over HTTP)."""
    await ns.put("far", "v", expiration=limits.MAX_EXPIRATION)
    await ns.bulk_put([{"key": "far2", "value": "v", "expiration": str(limits.MAX_EXPIRATION)}])
    got = await ns.get_with_metadata("far")
    assert got.expiration == limits.MAX_EXPIRATION
    assert [k.expiration for k in (await ns.list()).keys] == [limits.MAX_EXPIRATION] * 2
    assert await ns.incr("n", 1, expiration=limits.MAX_EXPIRATION) == 1
    assert (await ns.get_with_metadata("n")).expiration == limits.MAX_EXPIRATION


@pytest.mark.parametrize(
    ("expiration", "shown"),
    [
        (limits.MAX_EXPIRATION + 1, str(limits.MAX_EXPIRATION + 1)),
        ("9007199254740993", "9007199254740993"),
        (2.0**60, "1.152921504606847e+18"),
        (10**30, str(10**30)),
        ("1e999999", "1e999999"),
    ],
)
async def test_an_expiration_past_what_stores_keep_exactly_is_refused(
    ns: edgekv.AsyncNamespace, expiration: Any, shown: str
) -> None:
    with pytest.raises(errors.KVError) as raised:
        await ns.put("k", "v", expiration=expiration)
    assert isinstance(raised.value, errors.InvalidExpiration), raised.value
    assert raised.value.message.startswith(f"Invalid expiration of {shown}.")
    with pytest.raises(errors.InvalidExpirationTtl):
        await ns.put("k", "v", expiration_ttl=limits.MAX_EXPIRATION_TTL + 1)
    assert await ns.get("k") is None
