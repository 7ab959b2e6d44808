"""What an edge tells the caches kept beside it (the server's records of tokens, accounts and
namespaces): that a key changed, or that everything may have. One small interface, so those
caches follow every change the edge learns of — its own writes and the change feed's — without
knowing how the edge learns them."""

from __future__ import annotations

from typing import Protocol


class EdgeObserver(Protocol):
    def changed(self, namespace_id: str, key: str | None) -> None:
        """A key changed, or may have (a write that failed may have landed); with `key` None,
        the whole namespace did (deleted or renamed)."""
        ...

    def flushed(self) -> None:
        """Anything may have changed: the edge could not prove its memory fresh and dropped it."""
        ...
