"""The relay's change log pushed to an edge as it grows: one answer held open, a line of JSON
per page (`GET /relay/v1/changes?position=P&stream=S`, stores/relay/wire.py).

A long poll costs an edge and its relay a request to deliver each change and another to ask
again; over a held answer a change costs the relay one line written and the edge one line
read. The relay ends each answer after S seconds (so that its shutdown never waits long on
one) and the stream asks again from where it was. Async only: the sync relay store long-polls.

The stream delivers the pages of one reader (the edge's follower), which asks from where the
last page ended; a reader at another position (a long poll over REST) is answered by a
request of its own (`follows` says which).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable

from edgekv.model import FeedPage
from edgekv.stores.relay import wire
from edgekv.stores.relay.connections import AsyncRelayConnections, RelayConnectionError

log = logging.getLogger("edgekv.relay")

SECONDS = 2.5  # how long the relay holds one answer open before the stream asks again


class ChangeStream:
    """Pages of the relay's change log, as they come, for the reader at `position`."""

    def __init__(self, http: AsyncRelayConnections, counted: Callable[[], None]) -> None:
        self._http = http
        self._counted = counted  # one more feed read of the relay
        self._task: asyncio.Task[None] | None = None
        self._next: str | None = None  # where the next page delivered starts
        self._pages: deque[tuple[str | None, FeedPage]] = deque()
        self._arrived = asyncio.Event()

    @property
    def live(self) -> bool:
        return self._task is not None and not self._task.done()

    def follows(self, position: str | None) -> bool:
        """Whether this stream serves a reader at `position` (or will, once started)."""
        return not self.live or self._next == position or self._buffered(position)

    def take(self, position: str | None) -> FeedPage | None:
        """The page delivered from `position`, if one waits."""
        if self._pages and self._pages[0][0] == position:
            return self._pages.popleft()[1]
        return None

    def idle_at(self, position: str | None) -> bool:
        """Live at `position` with nothing delivered: the relay has pushed nothing after it."""
        return self.live and self._next == position and not self._pages

    async def wait(self, position: str | None, seconds: float) -> bool:
        """True once a page from `position` waits for `take`; False after `seconds` without."""
        if not self.live:
            self._pages.clear()
            self._next = position
            self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._buffered(position):
                    if not self.live:
                        return False  # the stream failed: the caller's next wait starts another
                    self._arrived.clear()
                    await self._arrived.wait()
        return self._buffered(position)

    def _buffered(self, position: str | None) -> bool:
        return bool(self._pages) and self._pages[0][0] == position

    async def _run(self) -> None:
        try:
            while True:
                params: dict[str, str | float] = {"stream": SECONDS, "limit": wire.MAX_PAGE}
                if self._next is not None:
                    params["position"] = self._next
                self._counted()
                within = self._http.timeout + SECONDS
                answer = await self._http.request("GET", "/changes", params=params, within=within)
                if answer.status != 200:
                    log.warning("relay change stream answered %d", answer.status)
                    await answer.aclose()
                    return
                async for line in answer.lines():
                    if line:
                        self._deliver(json.loads(line))
        except (RelayConnectionError, ValueError) as e:
            log.debug("relay change stream ended: %s", e)
        finally:
            self._arrived.set()  # a waiter sees the stream gone

    def _deliver(self, result: dict[str, object]) -> None:
        page = FeedPage(
            [wire.change_from_json(c) for c in result["changes"]],  # type: ignore[attr-defined]
            str(result["position"]),
            bool(result["behind"]),
        )
        if page.changes or page.behind:
            self._pages.append((self._next, page))
            self._arrived.set()
        self._next = page.position

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
