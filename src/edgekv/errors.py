"""One exception hierarchy for every entry point.

Each error carries its HTTP status, its Cloudflare error code and the exact message of the
Workers KV contract, so the server turns any of them into an envelope without special cases and
the Python API raises the same words a Worker would see.

Codes Cloudflare publishes (10000, 10009, 10013, 10014, 10048; 7000 and 7003 in the server) are kept;
the codes for validation errors are edgekv's own choice (Cloudflare does not document them) and
are listed in docs/errors.md.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KVError(Exception):
    """Base of every edgekv error: an HTTP status, a Cloudflare-style code and a message."""

    status: ClassVar[int] = 500
    code: ClassVar[int] = 10001
    default_message: ClassVar[str] = "Internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def envelope_error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class BadRequest(KVError, ValueError):
    status = 400
    code = 10012
    default_message = "Bad request"


class InvalidKey(BadRequest):
    code = 10022


class KeyTooLong(BadRequest):
    status = 414
    code = 10023


class ValueTooLarge(BadRequest):
    status = 413
    code = 10024


class MetadataTooLarge(BadRequest):
    status = 413
    code = 10025


class InvalidMetadata(BadRequest):
    code = 10026


class InvalidExpiration(BadRequest):
    code = 10027


class InvalidExpirationTtl(BadRequest):
    code = 10028


class InvalidCacheTtl(BadRequest):
    code = 10029


class InvalidListLimit(BadRequest):
    code = 10030


class InvalidCursor(BadRequest):
    code = 10031


class InvalidBulkRequest(BadRequest):
    code = 10032


class InvalidType(BadRequest, TypeError):
    """An unknown `type` for a read; a TypeError, as the binding throws."""

    code = 10033


class NotJSON(BadRequest):
    code = 10034
    default_message = "At least one of the requested keys corresponds to a non-json value"


class InvalidNamespaceTitle(BadRequest):
    code = 10019


class DuplicateNamespaceTitle(BadRequest):
    code = 10014
    default_message = "a namespace with this account ID and title already exists"


class InvalidNamespaceId(BadRequest):
    """A chosen namespace id that is not 32 lowercase hexadecimal digits (as Cloudflare's)."""

    code = 10038


class NamespaceIdTaken(BadRequest):
    """A chosen namespace id that a namespace has, or had (a deleted one the store remembers)."""

    code = 10039

    @classmethod
    def of(cls, namespace_id: str, *, deleted: bool = False) -> NamespaceIdTaken:
        if deleted:
            return cls(
                f"The namespace id {namespace_id} belonged to a deleted namespace and cannot be "
                "reused while the store remembers the deletion."
            )
        return cls(f"A namespace with the id {namespace_id} already exists.")


class BulkResultTooLarge(BadRequest):
    status = 413
    code = 10035


class NotFound(KVError, LookupError):
    status = 404
    code = 10009
    default_message = "get: 'key not found'"


class KeyNotFound(NotFound):
    pass


class NamespaceNotFound(NotFound):
    code = 10013
    default_message = "namespace not found"


class PreconditionFailed(KVError):
    """A conditional write whose condition did not hold (edgekv's addition)."""

    status = 412
    code = 10101
    default_message = "precondition failed"


class StoreUnavailable(KVError):
    """The central store cannot be reached; callers may retry."""

    status = 503
    code = 10102
    default_message = "central store unavailable"


class TooManyWrites(KVError):
    """A second write to one key within a second, refused under `edgekv serve --limits`
    (Cloudflare's limit: 1 write per second per key). A Worker sees Cloudflare's own error,
    `KV PUT failed: 429 Too Many Requests`; the code is edgekv's (Cloudflare publishes none)."""

    status = 429
    code = 10103
    default_message = "Too Many Requests"


class FreeLimitExceeded(KVError):
    """A Free plan's daily quota (reads, writes, deletes, lists) or storage cap, under
    `edgekv serve --limits cloudflare-free`: Cloudflare's code and message."""

    status = 429
    code = 10048
    default_message = "your account has reached the free usage limit for this operation for today"


CALLER_ERRORS: tuple[type[KVError], ...] = (InvalidKey, KeyTooLong, InvalidType)
"""A bad key or read type is the calling code's bug: what answers a default when the store
fails (the cache toolkit, resilient reads) still raises these."""
