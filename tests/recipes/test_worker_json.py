"""worker_json against JavaScript itself (Node): JSON.stringify, String(number), Number(x), !!x."""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
from typing import Any

import pytest

from edgekv.recipes.worker_json import number, stringify, to_number, truthy
from tests.services import require

SCRIPT = """
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {
  stringify: input.documents.map((t) => JSON.stringify(JSON.parse(t))),
  numbers: input.numbers.map((x) => String(x)),
  coerced: input.values.map((t) => { const v = JSON.parse(t); return [String(Number(v)), !!v]; }),
};
process.stdout.write(JSON.stringify(out));
"""

DOCUMENTS = [
    '{"b":1,"2":2,"a":[1,"\\ud800x",null],"10":3,"01":4,"4294967295":5,"4294967294":6}',
    '{"enabled":true,"percentage":12.5,"allowedUsers":["ü","😀","\\u0007\\u001f\\u007f"]}',
    "[1.0, -0.0, 1e21, 1e-7, 0.000001, 12345678901234567890, 9007199254740993, 5e-324]",
    '"tab\\tnew\\nline\\\\ quote\\" \\u2028 \\udc00"',
    '{"":{"":[]}, "x":{}}',
]
VALUES = [
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "50",
    '""',
    '" 12 "',
    '"0x1A"',
    '"0b11"',
    '"0o17"',
    '"1e3"',
    '".5"',
    '"1."',
    '"abc"',
    '"Infinity"',
    '"-Infinity"',
    '"-0x10"',
    '"1_0"',
    '"\\u00a012\\ufeff"',
    '"+5"',
    '"- 5"',
    "[]",
    "[50]",
    "[1,2]",
    "[[3]]",
    "[null]",
    "[true]",
    "{}",
    '{"a":1}',
    '"NaN"',
    '"inf"',
    '"1e400"',
]


def _random_doubles(n: int) -> list[float]:
    rng = random.Random(3)
    out: list[float] = []
    while len(out) < n:
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            out.append(x)
    return out + [rng.uniform(0, 100) for _ in range(200)] + [i / 8 for i in range(-100, 100)]


def node(payload: dict[str, Any]) -> Any:
    require(shutil.which("node") is not None, "node")
    done = subprocess.run(
        ["node", "-e", SCRIPT], input=json.dumps(payload).encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def javascript() -> tuple[list[float], Any]:
    numbers = _random_doubles(2000)
    return numbers, node({"documents": DOCUMENTS, "numbers": numbers, "values": VALUES})


def test_stringify_writes_what_json_stringify_writes(javascript: tuple[list[float], Any]) -> None:
    _, js = javascript
    assert [stringify(json.loads(t)) for t in DOCUMENTS] == js["stringify"]


def test_numbers_print_as_javascript_prints_them(javascript: tuple[list[float], Any]) -> None:
    numbers, js = javascript
    assert [number(x) for x in numbers] == js["numbers"]


def test_number_and_truthiness_coerce_as_javascript(javascript: tuple[list[float], Any]) -> None:
    _, js = javascript
    ours = []
    for text in VALUES:
        value = to_number(json.loads(text))
        shown = (
            "NaN"
            if math.isnan(value)
            else number(value)
            if math.isfinite(value)
            else ("Infinity" if value > 0 else "-Infinity")
        )
        ours.append([shown, truthy(json.loads(text))])
    assert ours == js["coerced"]


def test_what_is_not_json_is_refused() -> None:
    with pytest.raises(TypeError):
        stringify({"when": object()})
    with pytest.raises(TypeError):
        stringify({1: "a"})
    assert stringify([math.nan, math.inf]) == "[null,null]"  # as JSON.stringify writes them
