"""What an edge tells the caches kept beside it (the server's records of tokens, accounts and
namespaces): that a key changed, or that everything may have. One small interface, so those
caches follow every change the edge learns of — its own writes and the change feed's — without
knowing how the edge learns them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edgekv.model import Change


class EdgeObserver(Protocol):
    def changed(self, namespace_id: str, key: str | None, version: int = 0) -> None:
        """A key changed, or may have (a write that failed may have landed); with `key` None,
        the whole namespace did (deleted or renamed). `version` is the key's version after the
        change when known, else 0."""
        ...

    def flushed(self) -> None:
        """Anything may have changed: the edge could not prove its memory fresh and dropped it."""
        ...


class FeedObserver(Protocol):
    """What follows the change feed through an edge (a relay's change log): each page of
    changes once the edge applied it (its memory holds nothing older), and each flush."""

    def applied(self, changes: Sequence[Change]) -> None: ...

    def flushed(self) -> None: ...
