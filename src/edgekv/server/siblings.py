"""One worker's part in a node of `edgekv serve --workers N` (server/workers.py).

`Siblings` observes the worker's edge (edge/observer.py): every change the edge makes — a
write, before it is acknowledged — or, in the leader, learns from the central store's change
feed, it appends to the node's change log (server/node_log.py). Before answering any request
the worker applies what its siblings appended since (`NodeApp`), and so never answers from a
copy older than a write another worker acknowledged. A timer applies them too when no request
comes, writes this worker's health where its siblings read it, and ends the worker if the
supervisor is gone.

`/healthz` on any worker speaks for the node: each worker's health summed (the feed's from the
leader, the one worker that follows it), and every worker listed with its pid and heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import time
from typing import Any

from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.model import Change
from edgekv.server import health
from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send
from edgekv.server.node_log import FLUSH, KEY, NAMESPACE, Entry, NodeLog
from edgekv.stores._async.protocol import AsyncStore

log = logging.getLogger("edgekv.node")

TICK = 0.02  # seconds between catch-ups while no request comes
HEALTH_EVERY = 0.25  # seconds between two writes of this worker's health
ALIVE_WITHIN = 2.0  # a worker whose health is older than this is reported not alive
# Changes of one namespace in one turn of the event loop past which the siblings are told the
# whole namespace changed instead (a bulk write of 10,000 keys must not flood the ring).
BURST = 256
_SUMMED = (
    *("hit", "miss", "expired", "stale", "bypass", "refresh", "evictions"),
    *("cache_bytes", "cache_max_bytes", "cache_items", "central_feed_reads"),
)
# Set while this worker applies its siblings' changes: those are not told back to them.
_applying: contextvars.ContextVar[bool] = contextvars.ContextVar("edgekv_applying", default=False)


class Siblings:
    """What worker `worker` of a node tells its siblings, and applies of theirs."""

    def __init__(self, node: NodeLog, worker: int, *, leader: bool, parent: int) -> None:
        self.node = node
        self.worker = worker
        self.leader = leader
        self.parent = parent
        self.edge: AsyncEdgeStore | None = None
        self.store: AsyncStore | None = None  # the worker app's: its edge, or the store itself
        self.seen = node.end()  # older changes predate this worker's memory, which is empty
        self.requests = 0
        self.started = time.time()
        self._burst: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def attach(self, edge: AsyncEdgeStore | None) -> None:
        """Observes the worker's edge (None: the server caches nothing; nothing to tell)."""
        self.edge = edge
        if edge is not None:
            edge.observers.append(self)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return NodeApp(app, self)

    # EdgeObserver: this worker's own changes (and, in the leader, the feed's), told first

    def changed(self, namespace_id: str, key: str | None, version: int = 0) -> None:
        if _applying.get():
            return
        if key is None:
            self._append(Entry(NAMESPACE, namespace_id))
            return
        burst = self._burst
        if not burst:
            asyncio.get_running_loop().call_soon(burst.clear)
        count = burst[namespace_id] = burst.get(namespace_id, 0) + 1
        if count < BURST:
            self._append(Entry(KEY, namespace_id, key, version))
        elif count == BURST:
            self._append(Entry(NAMESPACE, namespace_id))  # and nothing more of it this turn

    def flushed(self) -> None:
        if not _applying.get():
            self._append(Entry(FLUSH))

    def _append(self, entry: Entry) -> None:
        end = self.node.append([entry])
        if self.seen == end - 1:
            self.seen = end  # nothing of the siblings' in between: skip our own

    # the siblings' changes

    def pending(self) -> bool:
        return self.node.end() != self.seen

    async def catch_up(self) -> None:
        """Applies what the siblings appended since the last catch-up."""
        entries, self.seen, lost = self.node.read(self.seen)
        edge = self.edge
        if edge is None:
            return
        token = _applying.set(True)
        try:
            if lost:
                log.warning("worker %d fell behind its siblings' changes: flushing", self.worker)
                edge.flush()
                return
            changes: list[Change] = []
            now = time.time()
            for entry in entries:
                if entry.kind == FLUSH:
                    await edge.apply_changes(changes)
                    changes = []
                    edge.flush()
                else:
                    key = entry.key if entry.kind == KEY else None
                    changes.append(Change(entry.version, entry.namespace_id, key, now))
            await edge.apply_changes(changes)
        finally:
            _applying.reset(token)

    # health

    def health(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "pid": os.getpid(),
            "leader": self.leader,
            "started": self.started,
            "beat": time.time(),
            "requests": self.requests,
            "edge": None if self.edge is None else self.edge.health(),
        }

    def node_health(self) -> dict[str, Any]:
        """The node's: every worker's last health (this one's now), summed and listed."""
        self.node.write_health(self.worker, self.health())
        now = time.time()
        members = [h for h in self.node.health() if h is not None]
        alive = [h for h in members if now - h["beat"] < ALIVE_WITHIN]
        node: dict[str, Any] = {
            "workers": self.node.workers,
            "alive": len(alive),
            "members": [
                {
                    "worker": h["worker"],
                    "pid": h["pid"],
                    "leader": h["leader"],
                    "alive": h in alive,
                    "requests": h["requests"],
                    "uptime": round(now - h["started"], 3),
                }
                for h in sorted(members, key=lambda h: int(h["worker"]))
            ],
        }
        edges = [h["edge"] for h in alive if h["edge"] is not None]
        if not edges:
            return {"node": node}
        edge: dict[str, Any] = {name: sum(int(e.get(name, 0)) for e in edges) for name in _SUMMED}
        # The feed is the leader's: the one worker that reads it.
        leader = next((h["edge"] for h in alive if h["leader"] and h["edge"]), None)
        edge["feed_healthy"] = bool(leader and leader["feed_healthy"])
        edge["feed_error"] = str(leader.get("feed_error", "")) if leader else "no leader"
        edge["feed_flushes"] = int(leader["feed_flushes"]) if leader else 0
        return {"edge": edge, "node": node}

    # the timer

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.node.forget_health(self.worker)

    async def _tick(self) -> None:
        next_health = 0.0
        while True:
            try:
                if self.pending():
                    await self.catch_up()
                now = time.monotonic()
                if now >= next_health:
                    next_health = now + HEALTH_EVERY
                    self.node.write_health(self.worker, self.health())
                    if os.getppid() != self.parent:
                        log.warning("worker %d: the supervisor is gone; stopping", self.worker)
                        os.kill(os.getpid(), signal.SIGTERM)
            except Exception:  # the timer must outlive any one failure
                log.exception("worker %d: node timer failed", self.worker)
            await asyncio.sleep(TICK)


class NodeApp:
    """The worker's app: siblings' changes applied before every request; `/healthz` and the
    timer of the node."""

    def __init__(self, app: ASGIApp, siblings: Siblings) -> None:
        self.app = app
        self.siblings = siblings
        self._probe: health.CentralProbe | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        siblings = self.siblings
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._receive(receive), self._send(send))
            return
        siblings.requests += 1
        if siblings.pending():
            await siblings.catch_up()
        if kind == "http" and scope["path"] == "/healthz" and scope["method"] == "GET":
            await self._healthz(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        edge = self.siblings.edge
        checks: dict[str, str] = {}
        extra = self.siblings.node_health()
        store = edge.central if edge is not None else self.siblings.store
        if store is not None:
            if self._probe is None:
                self._probe = health.CentralProbe(store)
            checks["central_store"] = await self._probe.check()
        if edge is not None:
            summed = extra.get("edge")
            if summed is not None:  # the leader's follower speaks for the node
                checks["change_feed"] = health.feed_check(
                    bool(summed["feed_healthy"]), str(summed["feed_error"])
                )
        await health.answer(checks, extra)(scope, receive, send)

    def _send(self, send: Send) -> Send:
        async def startup_done(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.siblings.start()
            await send(message)

        return startup_done

    def _receive(self, receive: Receive) -> Receive:
        async def shutting_down() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.siblings.stop()
            return message

        return shutting_down
