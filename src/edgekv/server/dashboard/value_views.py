"""How a value is shown: as text, as pretty-printed JSON, as a hex dump, or as an image.

Values are bytes of any kind, up to 25 MiB, so a page shows the first part of a large one
(`SHOWN_BYTES`; the download has it all). Images are recognised by their first bytes only,
and only raster formats a browser draws without running anything: never SVG or HTML, which
can carry script.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Literal

from edgekv.json_in import parse_json

View = Literal["text", "json", "hex", "image"]
VIEWS: tuple[View, ...] = ("text", "json", "hex", "image")
SHOWN_BYTES = 1 << 20  # text and JSON shown up to 1 MiB
HEX_BYTES = 1 << 14  # a hex dump of the first 16 KiB
HEX_WIDTH = 16

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)
_CONTROL = frozenset(range(32)) - {9, 10, 13}


def image_type(head: bytes) -> str | None:
    """The MIME type of a raster image the first bytes show, or None."""
    for magic, mime in _IMAGES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return None


def as_text(head: bytes, complete: bool) -> str | None:
    """The value as UTF-8 text (`head` may end inside a character when not complete), or
    None when it is not text: invalid UTF-8, or control characters besides tab and newlines."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    if any(ord(c) in _CONTROL for c in text):
        return None
    return text


def as_json(text: str | None, complete: bool) -> str | None:
    """Pretty-printed JSON, or None when the (whole) value is not JSON."""
    if text is None or not complete:
        return None
    try:
        parsed = parse_json(text)
    except ValueError:  # not JSON, or nested too deeply to show
        return None
    return _pretty(parsed)


@dataclass(frozen=True, slots=True)
class HexRow:
    offset: str
    hex: str
    ascii: str


def hex_rows(head: bytes) -> list[HexRow]:
    rows = []
    for start in range(0, min(len(head), HEX_BYTES), HEX_WIDTH):
        chunk = head[start : start + HEX_WIDTH]
        hexed = " ".join(f"{b:02x}" for b in chunk)
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(HexRow(f"{start:08x}", hexed, shown))
    return rows


def default_view(head: bytes, complete: bool) -> View:
    if image_type(head) is not None:
        return "image"
    text = as_text(head, complete)
    if text is None:
        return "hex"
    return "json" if as_json(text, complete) is not None else "text"


def metadata_text(metadata_json: str | None) -> str:
    """Metadata as the editor shows it: pretty JSON, or empty for none."""
    if metadata_json is None:
        return ""
    return _pretty(json.loads(metadata_json))


def _pretty(value: object) -> str:
    """Indented JSON for a page; a string holding a lone surrogate (an escape that metadata or
    a JSON value may carry) stays an escape, since no page can carry it as a character."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, indent=2)
    return text
