"""What a store can do beyond the calls every store answers: declared by each store, read by
the layers above (the server's group commit, the edge), never sniffed.

Every store answers every call of the Store protocol; a capability says whether the answer is
the real thing. The conformance suite checks each store's declaration against its behaviour
(tests/conformance/test_capabilities.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    group_commit: bool
    """`put_many` is one transaction that answers each write's own version, so concurrent
    value writes may be committed together (SQLite, PostgreSQL). Redis batches concurrent puts
    itself, per master; the HTTP store's bulk write learns no versions."""

    change_feed: bool
    """`feed_position`, `changes` and `wait_for_changes` serve the store's changes. Without
    it (the HTTP store pointed at Cloudflare's API) the feed is always empty: an edge over it
    is kept fresh by cache_ttl alone."""

    ordered_feed: bool
    """`changes` lists changes in version order across keys. Without it, only each key's
    changes are in order (Redis: a stream per bucket)."""

    exclude_own: bool
    """`changes(exclude_own=True)` really leaves out the changes written through this store
    object (Redis); other stores return every change."""

    conditional_writes: bool
    """`put(only_if_absent=True)` and `put(if_version=...)` are honoured (PreconditionFailed);
    without it they are refused with BadRequest, never written unconditionally."""

    incr: bool
    """`incr` adds atomically in the store; without it, it is refused with BadRequest."""

    versions: bool
    """Entries carry their version, and `put` answers the new one; without it both are 0."""
