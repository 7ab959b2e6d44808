"""How a value is shown: which view a value opens in, text cut inside a character, images by
their first bytes only."""

from __future__ import annotations

import json

from edgekv.server.dashboard.value_views import (
    as_json,
    as_text,
    default_view,
    hex_rows,
    image_type,
    metadata_text,
)


def test_the_view_a_value_opens_in() -> None:
    assert default_view(b'{"a": [1, 2]}', True) == "json"
    assert default_view(b"hello\nworld", True) == "text"
    assert default_view(bytes(range(256)), True) == "hex"
    assert default_view(b"\x89PNG\r\n\x1a\n....", True) == "image"
    assert default_view(b"{ not json", True) == "text"
    # A value cut short is never called JSON: its end is not there to parse.
    assert default_view(b'{"a": 1}', False) == "text"


def test_text_cut_inside_a_character_is_still_text() -> None:
    value = "é" * 10
    head = value.encode()[:5]  # ends in the middle of the third é
    assert as_text(head, complete=False) == "éé"
    assert as_text(head, complete=True) is None  # whole, it is not UTF-8
    assert as_text(b"tab\tand\r\nlines", True) == "tab\tand\r\nlines"
    assert as_text(b"nul\x00inside", True) is None


def test_json_is_pretty_printed_and_unicode_kept() -> None:
    assert as_json('{"b":["ü",2]}', True) == json.dumps(
        {"b": ["ü", 2]}, indent=2, ensure_ascii=False
    )
    assert as_json("not json", True) is None
    assert as_json(None, True) is None


def test_images_are_raster_formats_recognised_by_their_bytes() -> None:
    assert image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert image_type(b"GIF89a") == "image/gif"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_type(b"\x00\x00\x00\x1cftypavif") == "image/avif"
    # Markup that can carry script is never an image, whatever it claims.
    assert image_type(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>') is None
    assert image_type(b"<html><img src=x onerror=alert(1)>") is None


def test_hex_rows() -> None:
    rows = hex_rows(b"AB\x00" * 6)
    assert [r.offset for r in rows] == ["00000000", "00000010"]
    assert rows[0].hex.startswith("41 42 00 41")
    assert rows[0].ascii == "AB.AB.AB.AB.AB.A"
    assert hex_rows(bytes(1 << 20))[-1].offset == f"{(1 << 14) - 16:08x}"  # 16 KiB shown


def test_metadata_text() -> None:
    assert metadata_text(None) == ""
    assert metadata_text('{"a":1}') == '{\n  "a": 1\n}'
