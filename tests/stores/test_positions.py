"""Feed positions as each store reads them: what is not one of its own is a 400, never a value
a database or Redis would choke on (a 64-bit overflow, digits of another script)."""

from __future__ import annotations

import pytest

from edgekv import errors
from edgekv.stores.positions import parse_int_position, parse_stream_position


@pytest.mark.parametrize("position", ["9" * 30, str(2**63), "²", "1_0", " 1", "-1", "1.0"])
def test_a_sequence_position_is_a_64_bit_count(position: str) -> None:
    with pytest.raises(errors.BadRequest, match="Invalid feed position"):
        parse_int_position(position)


def test_sequence_positions_that_are_read() -> None:
    assert parse_int_position(None) == 0
    assert parse_int_position("") == 0
    assert parse_int_position(str(2**63 - 1)) == 2**63 - 1


@pytest.mark.parametrize(
    "position", [f"{2**64}-0,0-0", "²-1,0-0", "1-²,0-0", "1-1", "1-1,2", "-1,0-0", "1_0-0,0-0"]
)
def test_a_stream_position_is_redis_stream_ids(position: str) -> None:
    with pytest.raises(errors.BadRequest, match="Invalid feed position"):
        parse_stream_position(position, 2)


def test_stream_positions_that_are_read() -> None:
    top = f"{2**64 - 1}-{2**64 - 1}"
    assert parse_stream_position(f"{top},0-0", 2) == [top, "0-0"]
