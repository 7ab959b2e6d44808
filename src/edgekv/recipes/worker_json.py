"""JavaScript's view of JSON values, so Python writes and decides what a Worker would.

`stringify` writes the bytes a Worker's `JSON.stringify` writes for the same value (key order
with integer-like keys first, numbers as JavaScript prints them, lone surrogates escaped), so a
value written by Python and one written by the seeds' Worker code are byte for byte the same.
`truthy` and `to_number` are JavaScript's `!!x` and `Number(x)` over parsed JSON, which the
seeds' checks (`if (!flag.enabled)`, `hash < flag.percentage`) apply to whatever is stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2
_SURROGATE = re.compile("[\ud800-\udfff]")
# StrWhiteSpaceChar of ECMA-262: what Number(" 12 ") trims.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX = {"0x": 16, "0o": 8, "0b": 2}


def stringify(value: Any) -> str:
    """`JSON.stringify(value)` for JSON-shaped Python values (dict, list, tuple, str, numbers,
    bool, None); anything else is refused as JavaScript refuses a BigInt."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int | float):
        out.append(number(value) if math.isfinite(value) else "null")
    elif isinstance(value, Mapping):
        out.append("{")
        for i, key in enumerate(_object_keys(value)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _object_keys(value: Mapping[Any, Any]) -> list[str]:
    """A JavaScript object's own keys in order: array indexes ascending, then the rest as
    inserted (so JSON.parse then JSON.stringify reorders `{"b":1,"2":2}` to `{"2":2,"b":1}`)."""
    keys = list(value)
    if not all(isinstance(k, str) for k in keys):
        raise TypeError("JSON object keys must be strings")
    indexes = [k for k in keys if _ARRAY_INDEX.fullmatch(k) and int(k) <= _MAX_ARRAY_INDEX]
    if not indexes:
        return keys
    chosen = set(indexes)
    return sorted(indexes, key=int) + [k for k in keys if k not in chosen]


def _string(text: str) -> str:
    # Python escapes as JSON.stringify does (\b \f \n \r \t, other controls as \u00xx), except
    # lone surrogates, which well-formed JSON.stringify writes as \udxxx.
    dumped = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def number(value: float) -> str:
    """`String(value)`: JavaScript's shortest round-trip form (`1e+21`, `1e-7`, `0.000001`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) <= 2**53:  # exact in a double: as written
            return str(value)
        value = float(value)  # JavaScript holds the nearest double, and prints that
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    n = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    shown = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{shown}e{'+' if e >= 0 else '-'}{abs(e)}"


def truthy(value: Any) -> bool:
    """JavaScript's `!!value` for a parsed JSON value (NaN and "" are false, [] and {} true)."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == value and value != 0
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    """JavaScript's `Number(value)` for a parsed JSON value (NaN where it gives NaN)."""
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _string_to_number(value)
    if isinstance(value, list | tuple):
        return _string_to_number(_to_string(value))
    return math.nan  # "[object Object]"


def _to_string(value: Any) -> str:
    """`String(value)` for a JSON value: arrays join their items with commas."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value) if math.isfinite(value) else "NaN"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join("" if item is None else _to_string(item) for item in value)
    return "[object Object]"


def _string_to_number(text: str) -> float:
    text = text.strip(_JS_SPACE)
    if not text:
        return 0.0
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    radix = _RADIX.get(text[:2].lower())
    if radix is not None:
        try:
            return float(int(text[2:], radix)) if text[2:].isalnum() else math.nan
        except ValueError:
            return math.nan
    if _DECIMAL.fullmatch(text):
        return float(text)
    return math.nan
