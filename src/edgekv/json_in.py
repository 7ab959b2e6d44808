"""JSON that comes from outside (request bodies, headers, multipart parts, stored values read
as JSON): parsed with a bound on its nesting.

Python's parser and serializer recurse once per level, so a document nested deeply enough
raises RecursionError, which no caller expects from bad input. Here every document is refused
past `MAX_JSON_DEPTH` levels as a ValueError, the error malformed JSON already raises, so each
caller answers it with the 400 it gives any malformed JSON. The bound leaves the serializer the
stack it needs to write back whatever was accepted.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 512
"""Levels of arrays and objects a document may nest: every metadata of at most 1024 bytes fits
(`[[...]]` 512 deep is 1024 bytes), so no metadata Workers KV stores is refused for its depth."""


class JSONTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")


def parse_json(data: str | bytes | bytearray) -> Any:
    """`json.loads`, refusing a document nested more than MAX_JSON_DEPTH levels (JSONTooDeep,
    a ValueError) instead of raising RecursionError."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONTooDeep() from None
    # A document with fewer openers than the bound cannot nest past it: most never need a walk.
    opener_a, opener_b = (b"[", b"{") if isinstance(data, bytes | bytearray) else ("[", "{")
    if data.count(opener_a) + data.count(opener_b) > MAX_JSON_DEPTH:  # type: ignore[arg-type]
        check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Raises JSONTooDeep when `value` nests arrays and objects more than MAX_JSON_DEPTH deep
    (iteratively: the walk itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise JSONTooDeep()
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
