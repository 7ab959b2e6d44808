"""Request bodies read while they stream, under a limit, never whole in memory when large.

An oversize body is refused as soon as it is known to be too large: at once when its
Content-Length says so, else when the bytes received pass the limit. Bodies that do not parse
(JSON, multipart, percent-encoding) are 400 envelopes, never 500s.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from edgekv import errors, limits
from edgekv.compact import compact_json
from edgekv.json_in import parse_json
from edgekv.server.envelope import MalformedRequest, RequestTooLarge

MAX_JSON_BODY = 1 << 20  # namespace titles, incr, bulk get: small documents
MAX_BULK_BODY = limits.MAX_BULK_BODY_BYTES
IN_MEMORY = 1 << 20  # values up to this size stay in memory; larger ones spill to disk
_MULTIPART_SLACK = 1 << 20  # boundaries, part headers and the metadata part
_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_BOTH_METADATA = (
    'The multipart body has both a "metadata" part and "metadata[field]" parts: send one form.'
)


def _too_large_body(limit: int) -> Callable[[int], errors.KVError]:
    return lambda size: RequestTooLarge(
        f"Request body of {size} bytes exceeds the limit of {limit} bytes."
    )


def _too_large_value(size: int) -> errors.KVError:
    return errors.ValueTooLarge(
        f"Value length of {size} exceeds limit of {limits.MAX_VALUE_BYTES}."
    )


def declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    text = text.strip()
    # ASCII digits only (str.isdigit takes "²"), and few enough to be a size.
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise MalformedRequest("Invalid Content-Length header.")
    return int(text)


async def chunks(
    request: Request, limit: int, too_large: Callable[[int], errors.KVError]
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; `too_large(size)` is raised once it passes `limit`."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise too_large(length)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size)
        if chunk:
            yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    return b"".join([c async for c in chunks(request, limit, _too_large_body(limit))])


async def read_json(request: Request, limit: int = MAX_JSON_BODY) -> Any:
    raw = await read_body(request, limit)
    try:
        return parse_json(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedRequest(f"Malformed JSON in the request body: {e}.") from e


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MalformedRequest("The request body must be a JSON object.")
    return body


def flag(body: dict[str, Any], name: str) -> bool:
    """A boolean field of a JSON body: absent is false; anything but `true` or `false` (`"yes"`,
    `1`, `null`) is a 400, as Cloudflare's API refuses it, never read as truthy."""
    value = body.get(name, False)
    if type(value) is not bool:
        raise errors.InvalidBulkRequest(
            f"{name} must be true or false, not {compact_json(value)[:100]}."
        )
    return value


def percent_decode(raw: bytes) -> str:
    """Plain percent-decoding, once: `+` stays a plus; a stray `%` or bad UTF-8 is a 400."""
    if _PERCENT.search(raw):
        raise MalformedRequest("Malformed percent-encoding in the URL path.")
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedRequest("The URL path is not valid UTF-8 once percent-decoded.") from e


async def read_value(request: Request) -> bytes | AsyncIterator[bytes]:
    """A raw value: bytes when small; else a stream (the first MiB, then the rest) to spool."""
    stream = chunks(request, limits.MAX_VALUE_BYTES, _too_large_value)
    head: list[bytes] = []
    size = 0
    async for chunk in stream:
        head.append(chunk)
        size += len(chunk)
        if size > IN_MEMORY:
            return _chain(head, stream)
    return b"".join(head)


async def _chain(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk


@dataclass
class Form:
    """A multipart value write: the `value` part, and metadata as one JSON text (a `metadata`
    part) or flattened (`metadata[a]`, `metadata[b][c]` parts), never both. Every part is
    used or refused: any other part, a second `metadata`, a field given twice or both as a
    value and as an object is a 400, never silently dropped."""

    value: IO[bytes] | None = None
    size: int = 0
    metadata: str | None = None
    flat_metadata: dict[str, Any] = field(default_factory=dict)

    def value_bytes_or_file(self) -> bytes | IO[bytes]:
        if self.value is None:
            raise MalformedRequest('The multipart body has no part named "value".')
        self.value.seek(0)
        return self.value.read() if self.size <= IN_MEMORY else self.value

    def metadata_value(self) -> Any:
        """Metadata as a Python value: the `metadata` part parsed, else the flattened fields."""
        if self.metadata is not None:
            text = limits.parse_metadata_json(self.metadata)
            return None if text is None else parse_json(text)
        return self.flat_metadata or None

    def close(self) -> None:
        if self.value is not None:
            self.value.close()


async def read_form(request: Request) -> Form:
    """Parses multipart/form-data as it streams: the value spooled, other parts kept small."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedRequest("multipart/form-data without a boundary.")
    form = Form()
    part: dict[str, Any] = {}
    header: list[bytes] = [b"", b""]
    small = 0
    ended = False

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, data=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        part["headers"][header[0].strip().lower()] = header[1].strip()
        header[0], header[1] = b"", b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(part["headers"].get(b"content-disposition", b""))
        part["name"] = options.get(b"name", b"").decode("utf-8", "replace")
        if part["name"] == "value":
            if form.value is not None:
                raise MalformedRequest('The multipart body has more than one "value" part.')
            form.value = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal small
        if part.get("name") == "value" and form.value is not None:
            form.size += end - start
            if form.size > limits.MAX_VALUE_BYTES:
                raise _too_large_value(form.size)
            form.value.write(data[start:end])
            return
        small += end - start
        if small > _MULTIPART_SLACK:
            raise RequestTooLarge("The multipart parts besides the value are too large.")
        part["data"] += data[start:end]

    def on_part_end() -> None:
        name = part.get("name", "")
        if name == "value":
            return
        try:
            text = bytes(part["data"]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedRequest(f"The multipart part {name!r} is not UTF-8 text.") from e
        if name == "metadata":
            if form.metadata is not None:
                raise MalformedRequest('The multipart body has more than one "metadata" part.')
            if form.flat_metadata:
                raise MalformedRequest(_BOTH_METADATA)
            form.metadata = text
        elif name.startswith("metadata[") and name.endswith("]"):
            # The flattened form some SDKs send: metadata[a]=1, metadata[b][c]=2.
            if form.metadata is not None:
                raise MalformedRequest(_BOTH_METADATA)
            path = name[len("metadata[") : -1].split("][")
            if not all(path):
                raise MalformedRequest(f"Malformed multipart metadata field {name!r}.")
            target = form.flat_metadata
            for step in path[:-1]:
                nested = target.setdefault(step, {})
                if not isinstance(nested, dict):
                    raise MalformedRequest(f"Conflicting multipart metadata field {name!r}.")
                target = nested
            if path[-1] in target:
                raise MalformedRequest(f"Conflicting multipart metadata field {name!r}.")
            target[path[-1]] = text
        else:
            raise MalformedRequest(
                f'Unexpected multipart part {name!r}: a value write takes a "value" part '
                'and its metadata as a "metadata" part (or "metadata[field]" parts).'
            )

    def on_end() -> None:
        nonlocal ended
        ended = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )
    limit = limits.MAX_VALUE_BYTES + _MULTIPART_SLACK
    try:
        async for chunk in chunks(request, limit, _too_large_body(limit)):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as e:
        form.close()
        raise MalformedRequest(f"Malformed multipart body: {e}.") from e
    except BaseException:
        form.close()
        raise
    if not ended:
        form.close()
        raise MalformedRequest("Malformed multipart body: it ends before its closing boundary.")
    return form
