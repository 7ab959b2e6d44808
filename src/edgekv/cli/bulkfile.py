"""Reading bulk files (wrangler's JSON formats) strictly, before anything is written.

A bulk file is a JSON array. For `bulk put` each item is `{key, value, expiration?,
expiration_ttl?, metadata?, base64?}`; for `bulk get` and `bulk delete` each item is a key or an
object with a `name` (so the output of `key list` can be fed back). The whole file is checked
first: a syntax error is reported with its line and column, a bad item with its index and line,
and then nothing is written. Items are checked with the same code as the REST API, so the reasons
are the contract's words.

An export file (`kv export`, read by `kv import`) is JSON Lines: one `bulk put` item per line,
read one line at a time (`parse_lines`) and checked one item at a time (`PutCheck`), so a file
of a million keys is checked without being held.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from edgekv import errors, limits
from edgekv.limits import bulk_writes
from edgekv.model import EntryWrite

PUT_FIELDS = frozenset({"key", "value", "expiration", "expiration_ttl", "metadata", "base64"})
MAX_REPORTED = 10  # problems listed before "... and N more"

_WS = re.compile(r"[ \t\n\r]*")


class BulkFileError(errors.BadRequest):
    """The file is not valid JSON, not an array, or holds bad items; nothing was written."""


@dataclass(slots=True)
class Item:
    index: int
    line: int
    value: Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_array(data: bytes, filename: str) -> list[Item]:
    """The items of a JSON array, each with the line it starts on."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BulkFileError(f"{filename}: not valid UTF-8 (byte {e.start}).") from e
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        _refuse_non_array(text, filename)
    items: list[Item] = []
    line, counted_to = 1, 0
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            line += text.count("\n", counted_to, pos)
            counted_to = pos
            try:
                value, pos = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                raise _syntax(text, filename, e.pos, e.msg) from e
            except ValueError as e:  # NaN / Infinity: no position from json, the item's is known
                raise _syntax(text, filename, counted_to, str(e)) from e
            items.append(Item(len(items), line, value))
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith(",", pos):
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                if text.startswith("]", pos):
                    raise _syntax(text, filename, pos, "Expecting value (trailing comma)")
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            raise _syntax(text, filename, pos, "Expecting ',' delimiter")
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos != len(text):
        raise _syntax(text, filename, pos, "Extra data")
    return items


def _refuse_non_array(text: str, filename: str) -> NoReturn:
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        raise _syntax(text, filename, e.pos, e.msg) from e
    except ValueError as e:
        raise BulkFileError(f"{filename}: {e}") from e
    kind = "object" if isinstance(value, dict) else type(value).__name__
    raise BulkFileError(
        f'Unexpected JSON input from "{filename}". Expected an array but got {kind}.'
    )


def parse_lines(lines: Iterable[bytes], filename: str) -> Iterator[Item]:
    """The items of a JSON Lines file, each with its line number; blank lines are skipped.
    A line that is not one JSON value is refused with its line and column."""
    index = 0
    for number, raw in enumerate(lines, 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise BulkFileError(f"{filename}:{number}: not valid UTF-8 (byte {e.start}).") from e
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as e:
            raise _syntax(text, filename, e.pos, e.msg, number) from e
        except ValueError as e:  # NaN / Infinity
            raise _syntax(text, filename, 0, str(e), number) from e
        yield Item(index, number, value)
        index += 1


def _syntax(text: str, filename: str, pos: int, msg: str, first_line: int = 1) -> BulkFileError:
    line = text.count("\n", 0, pos) + first_line
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    source = text[start : end if end != -1 else len(text)]
    col = column = pos - start + 1
    if len(source) > 120:  # one huge line (minified JSON): show the neighbourhood
        cut = max(0, col - 60)
        source, col = source[cut : cut + 120], col - cut
    caret = " " * (col - 1) + "^"
    return BulkFileError(f"{filename}:{line}:{column}: {msg}\n    {source}\n    {caret}")


def _refuse(filename: str, problems: list[str], total: int) -> BulkFileError:
    shown = problems[:MAX_REPORTED]
    more = f"\n  ... and {total - len(shown)} more" if total > len(shown) else ""
    noun = "item is" if total == 1 else "items are"
    return BulkFileError(
        f"{filename}: {total} {noun} invalid; nothing was written.\n  " + "\n  ".join(shown) + more
    )


class PutCheck:
    """Checks `bulk put` items one at a time with the REST API's own check, collecting what is
    wrong; `finish()` refuses the file if anything was. Memory: the problems shown, not the items.

    `stored_expiration=True` reads `expiration` as an entry's stored expiry (an export's): kept
    as it is even if under a minute away (a write's 60-second minimum is a rule for new writes),
    and an item that expired since it was exported is counted in `expired` and left out.
    """

    def __init__(
        self, filename: str, now: float | None = None, *, stored_expiration: bool = False
    ) -> None:
        self.filename = filename
        self.now = time.time() if now is None else now
        self.stored_expiration = stored_expiration
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.bad = 0
        self.expired = 0

    def check(self, item: Item) -> EntryWrite | None:
        """The item's write; None if it is bad (recorded) or expired."""
        value = item.value
        try:
            # One pair at a time through the REST API's own check, so the reasons match it.
            if (
                self.stored_expiration
                and _has(value, "expiration")
                and not _has(value, "expiration_ttl")
            ):
                at = limits.stored_expiration(value["expiration"])
                rest = {k: v for k, v in value.items() if k != "expiration"}
                write = bulk_writes([rest], self.now)[0]
                write.expiration = at
            else:
                write = bulk_writes([value], self.now)[0]
        except errors.KVError as e:
            self.bad += 1
            if len(self.problems) < MAX_REPORTED:
                reason = e.message.removeprefix("item 0: ")
                self.problems.append(f"{self.filename}:{item.line}: item {item.index}: {reason}")
            return None
        extra = sorted(set(value) - PUT_FIELDS)
        if extra and len(self.warnings) < MAX_REPORTED:
            self.warnings.append(
                f"{self.filename}:{item.line}: item {item.index} contains unexpected properties: "
                + json.dumps(extra)
            )
        if write.expiration is not None and write.expiration <= self.now:
            self.expired += 1
            return None
        return write

    def finish(self) -> None:
        if self.bad:
            raise _refuse(self.filename, self.problems, self.bad)


def _has(value: Any, field: str) -> bool:
    return isinstance(value, dict) and value.get(field) not in (None, "")


def put_writes(
    items: list[Item], filename: str, now: float | None = None
) -> tuple[list[EntryWrite], list[str]]:
    """Checked writes for `bulk put`, and warnings for fields wrangler would not expect."""
    check = PutCheck(filename, now)
    writes = [w for w in map(check.check, items) if w is not None]
    check.finish()
    return writes, check.warnings


def key_names(items: list[Item], filename: str) -> list[str]:
    """Keys for `bulk get` / `bulk delete`: strings, or objects with a `name` (`key list` output)."""
    keys: list[str] = []
    problems: list[str] = []
    bad = 0
    for item in items:
        value = item.value
        name = value.get("name") if isinstance(value, dict) else value
        try:
            if not isinstance(name, str):
                raise errors.InvalidBulkRequest(
                    'expected a key or an object with a "name" key, got '
                    + json.dumps(value, ensure_ascii=False)[:200]
                )
            keys.append(limits.validate_key(name))
        except errors.KVError as e:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(f"{filename}:{item.line}: item {item.index}: {e.message}")
    if bad:
        raise _refuse(filename, problems, bad)
    return keys
