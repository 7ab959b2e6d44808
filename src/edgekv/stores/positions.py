"""Change-feed positions, I/O-free: what each store's opaque `position` string holds.

A position says "every change up to here was read". SQLite and PostgreSQL number every change
with one sequence, so their position is that number in decimal. Redis keeps one stream per
bucket, so its position lists the last entry id read from each bucket's stream.
"""

from __future__ import annotations

from edgekv import errors


def int_position(seq: int) -> str:
    return str(seq)


def parse_int_position(position: str | None) -> int:
    """The sequence number of a position; None (the feed's beginning) is 0."""
    if position is None or position == "":
        return 0
    try:
        seq = int(position)
    except ValueError:
        raise errors.BadRequest(f"Invalid feed position: {position!r}.") from None
    if seq < 0:
        raise errors.BadRequest(f"Invalid feed position: {position!r}.")
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
        raise errors.BadRequest(f"Invalid feed position: {position!r}.")
    return ids


def stream_id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _is_stream_id(text: str) -> bool:
    ms, dash, seq = text.partition("-")
    return bool(dash) and ms.isdigit() and seq.isdigit()
