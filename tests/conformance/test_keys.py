"""docs/contract.md §1: keys. Length in UTF-8 bytes, forbidden names, every other character
allowed."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import errors

from .helpers import refused

# Each is exactly 512 bytes of UTF-8: 1-, 2-, 3- and 4-byte characters.
KEYS_OF_512_BYTES = [
    "a" * 512,
    "é" * 256,
    "€" * 170 + "ab",
    "😀" * 128,
    "a" + "😀" * 127 + "bcd",
]


def too_long(n: int) -> str:
    return f"UTF-8 encoded length of {n} exceeds key length limit of 512."


@pytest.mark.parametrize("key", KEYS_OF_512_BYTES)
async def test_a_key_of_512_bytes_works_for_every_verb(ns: edgekv.AsyncNamespace, key: str) -> None:
    assert len(key.encode()) == 512
    await ns.put(key, "v", metadata={"m": 1})
    assert await ns.get(key) == "v"
    assert (await ns.get_with_metadata(key)).metadata == {"m": 1}
    assert await ns.get([key]) == {key: "v"}
    assert [k.name for k in (await ns.list(prefix=key)).keys] == [key]
    await ns.delete(key)
    assert await ns.get(key) is None


@pytest.mark.parametrize("key", [k + "x" for k in KEYS_OF_512_BYTES] + ["é" * 257, "😀" * 129])
async def test_a_key_over_512_bytes_is_refused_with_414(
    ns: edgekv.AsyncNamespace, key: str
) -> None:
    n = len(key.encode())
    assert n > 512
    with refused(errors.KeyTooLong, 414, too_long(n)):
        await ns.put(key, "v")
    with refused(errors.KeyTooLong, 414, too_long(n)):
        await ns.get(key)
    with refused(errors.KeyTooLong, 414, too_long(n)):
        await ns.get_with_metadata(key)
    with refused(errors.KeyTooLong, 414, too_long(n)):
        await ns.delete(key)
    with refused(errors.KeyTooLong, 414, too_long(n)):
        await ns.get(["ok", key])
    assert (await ns.list()).keys == []


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Key name cannot be empty."),
        (".", '"." is not allowed as a key name.'),
        ("..", '".." is not allowed as a key name.'),
    ],
)
async def test_forbidden_key_names(ns: edgekv.AsyncNamespace, key: str, message: str) -> None:
    with refused(errors.InvalidKey, 400, message):
        await ns.put(key, "v")
    with refused(errors.InvalidKey, 400, message):
        await ns.get(key)
    with refused(errors.InvalidKey, 400, message):
        await ns.get(key, "bytes")
    with refused(errors.InvalidKey, 400, message):
        await ns.get_with_metadata(key)
    with refused(errors.InvalidKey, 400, message):
        await ns.delete(key)
    with refused(errors.InvalidKey, 400, message):
        await ns.get([key])
    with refused(errors.InvalidKey, 400, message):
        await ns.incr(key)


async def test_dots_inside_longer_keys_are_fine(ns: edgekv.AsyncNamespace) -> None:
    for key in ("...", "./", "a.", ".a", "../x", " .", ". "):
        await ns.put(key, key)
        assert await ns.get(key) == key


ODD_KEYS = [
    "a/b",
    "/leading",
    "trailing/",
    "a//b",
    "q?x=1&y=2",
    "frag#ment",
    "with space",
    " ",
    "  ",
    "emoji 😀🎉",
    "100%",
    "%2F",
    "under_score",
    "back\\slash",
    "plus+sign",
    "tab\tnew\nline",
    "nul\x00byte",
    "'quote\"",
    "日本語のキー",
    "\U0010ffff",
    "\uffff",
    "\ufeffbom",
]


async def test_every_other_character_is_allowed(ns: edgekv.AsyncNamespace) -> None:
    for i, key in enumerate(ODD_KEYS):
        await ns.put(key, f"value {i}")
    for i, key in enumerate(ODD_KEYS):
        assert await ns.get(key) == f"value {i}", key
    listed = [k.name for k in (await ns.list()).keys]
    assert sorted(listed) == sorted(ODD_KEYS)
    assert await ns.get(ODD_KEYS[:50]) == {k: f"value {i}" for i, k in enumerate(ODD_KEYS)}
    for key in ODD_KEYS:
        await ns.delete(key)
    assert (await ns.list()).keys == []


async def test_keys_are_case_sensitive(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("Key", "upper")
    await ns.put("key", "lower")
    await ns.put("KEY", "all")
    assert await ns.get("Key") == "upper"
    assert await ns.get("key") == "lower"
    assert await ns.get("KEY") == "all"
    assert await ns.get("kEY") is None
    await ns.delete("key")
    assert await ns.get("Key") == "upper"
    assert [k.name for k in (await ns.list()).keys] == ["KEY", "Key"]


async def test_keys_are_not_normalised(ns: edgekv.AsyncNamespace) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    await ns.put(composed, "composed")
    await ns.put(decomposed, "decomposed")
    assert await ns.get(composed) == "composed"
    assert await ns.get(decomposed) == "decomposed"


async def test_a_key_must_be_a_string(ns: edgekv.AsyncNamespace) -> None:
    with pytest.raises(errors.InvalidKey) as caught:
        await ns.put(123, "v")  # type: ignore[arg-type]
    assert caught.value.status == 400


async def test_a_key_with_a_lone_surrogate_is_refused(ns: edgekv.AsyncNamespace) -> None:
    with pytest.raises(errors.InvalidKey):
        await ns.put("bad\ud800", "v")
    with pytest.raises(errors.InvalidKey):
        await ns.get("bad\ud800")
