"""One key: its value shown (text, JSON, hex, image), downloaded, edited, deleted.

Reads are strong (`cache_ttl=0`): the page shows the central store's entry and its version, not
an edge's copy. An edit is a conditional write through the server's one write path (`Writes`):
`if_version` is the version the editor was opened with, so a key another client wrote (or
deleted) meanwhile is not overwritten; the editor says so, shows what is there now, and keeps
the draft, which a second save writes knowingly. A store that cannot write conditionally
(Cloudflare's API behind the HTTP store) is written plainly, and the editor says that too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edgekv import errors, limits
from edgekv.model import EntryWrite, NamespaceInfo, StoredEntry
from edgekv.server.asgi import Receive, Scope, Send
from edgekv.server.dashboard import value_views
from edgekv.server.dashboard.site import Call, Links, Site, base, with_notice
from edgekv.server.rest.streaming import send_value
from edgekv.server.writes import entry_write
from edgekv.stores._async.protocol import AsyncStore, AsyncWholeValue

CHUNK = 1 << 16


@dataclass(slots=True)
class Opened:
    """A key's entry (its value not in it), the first bytes of its value, and its size."""

    entry: StoredEntry
    head: bytes
    size: int

    @property
    def complete(self) -> bool:
        return len(self.head) == self.size

    @property
    def text(self) -> str | None:
        return value_views.as_text(self.head, self.complete)


async def open_key(
    store: AsyncStore, namespace_id: str, key: str, keep: int = value_views.SHOWN_BYTES
) -> Opened | None:
    """The key's entry and the first `keep` bytes of its value, read strong; its size is
    counted by reading the rest, never held (a value may be 25 MiB)."""
    opened = await store.open_value(namespace_id, key, cache_ttl=0, chunk_size=CHUNK)
    if opened is None:
        return None
    entry, chunks = opened
    if isinstance(chunks, AsyncWholeValue):
        return Opened(entry, chunks.value[:keep], len(chunks.value))
    head = bytearray()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if len(head) < keep:
                head += chunk[: keep - len(head)]
    finally:
        await close_chunks(chunks)
    return Opened(entry, bytes(head), size)


async def close_chunks(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)  # a generator's: its files and connections
    if close is not None:
        await close()


class KeyPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        page = self.site.page
        ns = "/namespaces/{namespace_id}"
        return [
            Route(ns + "/key", page(self.view), methods=["GET"]),
            Route(ns + "/raw", page(self.raw), methods=["GET"]),
            Route(ns + "/edit", page(self.edit_form, change=True), methods=["GET"]),
            Route(ns + "/edit", page(self.save, change=True), methods=["POST"]),
            Route(ns + "/delete-key", page(self.delete, change=True), methods=["POST"]),
        ]

    async def _opened(self, call: Call) -> tuple[NamespaceInfo, str, Opened]:
        """The namespace, the key (`?key=`) and its entry opened; KeyNotFound without one."""
        info = await self.site.namespace_of(call)
        key = limits.validate_key(call.query("key"))
        opened = await open_key(self.site.store, info.id, key)
        self.site.count(info, "read", 1, 0 if opened is None else opened.size)
        if opened is None:
            raise errors.KeyNotFound(f"There is no key {key!r} in this namespace (any more).")
        return info, key, opened

    # reading

    async def view(self, call: Call) -> Response:
        info, key, opened = await self._opened(call)
        text = opened.text
        pretty = value_views.as_json(text, opened.complete)
        image = value_views.image_type(opened.head)
        view = call.query("view")
        if view not in value_views.VIEWS:
            view = value_views.default_view(opened.head, opened.complete)
        return self.site.render_in(
            call,
            info,
            "key.html",
            key=key,
            opened=opened,
            view=view,
            text=text,
            pretty=pretty,
            image=image,
            hex_rows=value_views.hex_rows(opened.head) if view == "hex" else [],
            hex_bytes=value_views.HEX_BYTES,
            metadata=value_views.metadata_text(opened.entry.metadata_json),
            now=self.site.clock(),
        )

    async def raw(self, call: Call) -> Response:
        """The value itself: an attachment (`download=1`), or an image the viewer previews
        (only a raster image; anything else is refused, so no value runs as a page)."""
        info = await self.site.namespace_of(call)
        key = limits.validate_key(call.query("key"))
        opened = await self.site.store.open_value(info.id, key, cache_ttl=0, chunk_size=CHUNK)
        self.site.count(info, "read")  # its bytes go out as a stream: not counted
        if opened is None:
            raise errors.KeyNotFound()
        _, chunks = opened
        if call.query("download"):
            return ValueResponse(chunks, "application/octet-stream", attachment(key))
        first = b""
        async for chunk in chunks:
            first = chunk
            break
        mime = value_views.image_type(first)
        if mime is None:
            await close_chunks(chunks)
            raise errors.BadRequest("This value is not an image (PNG, JPEG, GIF, WebP, AVIF, ICO).")
        return ValueResponse(_chain(first, chunks), mime, "inline")

    # writing

    async def edit_form(self, call: Call) -> Response:
        info, key, opened = await self._opened(call)
        return self._editor(call, info, key, opened, draft=None, version=_version(opened))

    def _editor(
        self,
        call: Call,
        info: NamespaceInfo,
        key: str,
        opened: Opened | None,
        *,
        draft: dict[str, str] | None,
        version: str,
        conflict: bool = False,
        failed: str = "",
        status: int = 200,
    ) -> Response:
        text = None if opened is None else opened.text
        editable = opened is None or (opened.complete and text is not None)
        if draft is None:
            assert opened is not None
            draft = {
                "value": text if editable and text is not None else "",
                "metadata": value_views.metadata_text(opened.entry.metadata_json),
                "expiry": "keep",
                "ttl": "",
                "value_mode": "text" if editable else "keep",
            }
        return self.site.render_in(
            call,
            info,
            "edit.html",
            status,
            key=key,
            opened=opened,
            current_text=text,
            editable=editable,
            draft=draft,
            version=version,
            opened_version=call.field("version"),
            newlines="crlf" if text is not None and "\r" in text else "lf",
            conditional=self.site.store.capabilities.conditional_writes,
            conflict=conflict,
            failed=failed,
            now=self.site.clock(),
        )

    async def save(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        key = limits.validate_key(call.field("key"))
        version_field = call.field("version")
        version = limits.plain_integer(version_field) if version_field else None
        if version_field and version is None:
            raise errors.BadRequest("The form's version is not a number: reopen the key.")
        draft = {
            name: call.field(name) for name in ("value", "metadata", "expiry", "ttl", "value_mode")
        }
        current = None
        if draft["value_mode"] == "keep" or draft["expiry"] == "keep":
            current = await open_key(self.site.store, info.id, key)
        try:
            write = await entry_from_form(call, key, current, self.site, info.id)
            await put_written(self.site, info.id, write, version=version)
            self.site.count(info, "write", 1, write.size)
        except errors.PreconditionFailed:
            # Changed or deleted since the editor opened: show what is there now; a second
            # save (against the version now shown) writes the draft knowingly.
            now = await open_key(self.site.store, info.id, key)
            return self._editor(
                call, info, key, now, draft=draft, version=_version(now), conflict=True, status=409
            )
        except errors.BadRequest as e:
            now = await open_key(self.site.store, info.id, key)
            return self._editor(
                call,
                info,
                key,
                now,
                draft=draft,
                version=version_field,
                failed=e.message,
                status=e.status,
            )
        links = Links(base(call.request), info.id)
        return RedirectResponse(with_notice(links.key(key), "saved"), 303)

    async def delete(self, call: Call) -> Response:
        info = await self.site.namespace_of(call)
        key = limits.validate_key(call.field("key"))
        await self.site.store.delete_many(info.id, [key])
        self.site.count(info, "delete")
        links = Links(base(call.request), info.id)
        return RedirectResponse(
            with_notice(links.browse(prefix=call.field("prefix")), "key-deleted"), 303
        )


async def put_written(
    site: Site, namespace_id: str, write: EntryWrite, *, version: int | None
) -> None:
    """Writes what a form asked for through the server's one write path, only over `version`
    (None: only if the key is absent) where the store can write conditionally: else
    PreconditionFailed. A file spooled for it is closed either way."""
    conditional = site.store.capabilities.conditional_writes
    try:
        await site.writes.put(
            namespace_id,
            write,
            only_if_absent=conditional and version is None,
            if_version=version if conditional else None,
        )
    finally:
        if not isinstance(write.value, bytes):
            write.value.close()


def _version(opened: Opened | None) -> str:
    """The version a form writes against; empty for a key that does not exist (create it)."""
    return "" if opened is None else str(opened.entry.version)


def attachment(key: str) -> str:
    """A Content-Disposition that downloads a value under its key's last segment."""
    name = key.rsplit("/", 1)[-1] or "value"
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


async def entry_from_form(
    call: Call, key: str, current: Opened | None, site: Site, namespace_id: str
) -> EntryWrite:
    """The write a key's form asks for: its value (typed, a file, or the one kept), its
    metadata (JSON, empty for none) and its expiry (kept, none, or a TTL), each validated
    with the contract's own checks and words."""
    metadata = call.field("metadata").strip()
    metadata_json = limits.parse_metadata_json(metadata) if metadata else None
    ttl = call.field("ttl").strip()
    expiry = call.field("expiry") or ("ttl" if ttl else "none")
    if expiry == "keep":
        expiration = None if current is None else current.entry.expiration
    elif expiry == "ttl":
        expiration = limits.resolve_expiration(None, ttl, site.clock())
    else:
        expiration = None
    upload = call.form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:  # a file chosen is the value
        return await entry_write(key, upload.file, metadata_json, expiration)
    if call.field("value_mode") == "keep":
        entry = await site.store.get(namespace_id, key, cache_ttl=0)
        if entry is None:
            raise errors.PreconditionFailed()
        return EntryWrite(key, entry.value, metadata_json, expiration, len(entry.value))
    text = call.field("value")
    if call.field("newlines", "lf") == "lf":
        # A browser sends a textarea's line breaks as CRLF: a value that had none gets its LFs back.
        text = text.replace("\r\n", "\n")
    value = limits.value_bytes(text)
    return EntryWrite(key, value, metadata_json, expiration, len(value))


class ValueResponse(Response):
    """A value streamed as it is read (send_value: a Content-Length when small)."""

    def __init__(self, chunks: AsyncIterator[bytes], content_type: str, disposition: str) -> None:
        super().__init__()
        self.chunks = chunks
        self.content_type = content_type
        self.disposition = disposition

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"content-disposition", self.disposition.encode("latin-1")),
            (b"cache-control", b"no-store"),
        ]
        await send_value(send, self.chunks, headers)


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await close_chunks(rest)
