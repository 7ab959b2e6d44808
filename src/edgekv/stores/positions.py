"""Change-feed positions, I/O-free: what each store's opaque `position` string holds.

A position says "every change up to here was read". SQLite and PostgreSQL number every change
with one sequence, so their position is that number in decimal. Redis keeps one stream per
bucket, so its position lists the last entry id read from each bucket's stream.
"""

from __future__ import annotations

from edgekv import errors
from edgekv.limits import plain_integer


def int_position(seq: int) -> str:
    return str(seq)


def parse_int_position(position: str | None) -> int:
    """The sequence number of a position; None (the feed's beginning) is 0."""
    if position is None or position == "":
        return 0
    seq = plain_integer(position)
    if seq is None:
        raise errors.BadRequest(f"Invalid feed position: {position[:100]!r}.")
    return seq


STREAM_START = "0-0"


def stream_position(ids: list[str]) -> str:
    return ",".join(ids)


def parse_stream_position(position: str | None, buckets: int) -> list[str]:
    """The last stream id read from each of `buckets` streams; None is the beginning of each."""
    if position is None or position == "":
        return [STREAM_START] * buckets
    ids = position.split(",")
    if len(ids) != buckets or not all(_is_stream_id(i) for i in ids):
        raise errors.BadRequest(f"Invalid feed position: {position[:100]!r}.")
    return ids


def stream_id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _is_stream_id(text: str) -> bool:
    ms, dash, seq = text.partition("-")
    # Redis stream ids are two 64-bit unsigned integers.
    top = 2**64 - 1
    return bool(dash) and plain_integer(ms, top) is not None and plain_integer(seq, top) is not None
