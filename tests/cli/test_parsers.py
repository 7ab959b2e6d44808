"""The I/O-free parts of the CLI: bulk files and wrangler's JSONC, checked in-process."""

from __future__ import annotations

import json

import pytest

from edgekv.cli.bulkfile import BulkFileError, key_names, parse_array, put_writes
from edgekv.cli.kv_namespace import binding_name
from edgekv.cli.wrangler_config import strip_jsonc


def test_items_carry_their_index_and_line() -> None:
    text = b'\xef\xbb\xbf[\n  "a",\n\n  {"name": "b",\n   "x": 1}, "c"\n]\n'
    items = parse_array(text, "f.json")
    assert [(i.index, i.line, i.value) for i in items] == [
        (0, 2, "a"),
        (1, 4, {"name": "b", "x": 1}),
        (2, 5, "c"),
    ]
    assert key_names(items, "f.json") == ["a", "b", "c"]
    assert parse_array(b" [ ] ", "f") == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (b"", "f:1:1: Expecting value"),
        (b'["a" "b"]', "f:1:6: Expecting ',' delimiter"),
        (b'["a",\n]', "f:2:1: Expecting value (trailing comma)"),
        (b'["a"] x', "f:1:7: Extra data"),
        (b'["a"', "f:1:5: Expecting ',' delimiter"),
        (b'[\n\n  {"k": tru}]', "f:3:9: Expecting value"),
        (b'["\x01"]', "f:1:3: Invalid control character at"),
        (b"[1, -Infinity]", "f:1:5: -Infinity is not valid JSON"),
    ],
)
def test_syntax_errors_point_at_line_and_column(text: bytes, where: str) -> None:
    with pytest.raises(BulkFileError) as e:
        parse_array(text, "f")
    assert e.value.message.startswith(where), e.value.message


def test_syntax_error_shows_the_line_with_a_caret() -> None:
    with pytest.raises(BulkFileError) as e:
        parse_array(b'[\n  {"key": "a" "value": 1}\n]', "f")
    assert e.value.message == (
        "f:2:15: Expecting ',' delimiter\n" + '      {"key": "a" "value": 1}\n' + " " * 18 + "^"
    )


def test_put_items_use_the_rest_apis_checks() -> None:
    good = parse_array(json.dumps([{"key": "a", "value": "1", "expiration_ttl": 60}]).encode(), "f")
    writes, warnings = put_writes(good, "f", now=1000.0)
    assert writes[0].key == "a" and writes[0].value == b"1" and writes[0].expiration == 1060
    assert warnings == []
    many = [{"key": "k", "value": 1}] * 25
    with pytest.raises(BulkFileError) as e:
        put_writes(parse_array(json.dumps(many).encode(), "f"), "f")
    lines = e.value.message.splitlines()
    assert lines[0] == "f: 25 items are invalid; nothing was written."
    assert lines[1] == "  f:1: item 0: value must be a string"
    assert lines[-1] == "  ... and 15 more"
    assert len(lines) == 12


def test_strip_jsonc_keeps_strings_and_positions() -> None:
    source = (
        '{ // comment with "quote\n'
        '  "a": "x // y /* z */ \\" ,]",  /* multi\n line */ "b": [1, 2,],\n'
        '  "c": {"d": "e",},\n'
        "}"
    )
    plain = strip_jsonc(source)
    assert json.loads(plain) == {"a": 'x // y /* z */ " ,]', "b": [1, 2], "c": {"d": "e"}}
    assert len(plain) == len(source) and plain.count("\n") == source.count("\n")
    assert json.loads(strip_jsonc("[1, 2 /* , */ ,\n// x\n]")) == [1, 2]
    with pytest.raises(json.JSONDecodeError) as e:
        json.loads(strip_jsonc('{\n  // ok\n  "a": x,\n}'))
    assert (e.value.lineno, e.value.colno) == (3, 8)


def test_binding_names_as_wrangler_makes_them() -> None:
    assert binding_name("my-cache store") == "my_cache_store"
    assert binding_name("2fast") == "_2fast"
    assert binding_name("ü!") == "KV"
