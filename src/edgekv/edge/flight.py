"""Concurrency primitives whose async and sync forms differ, written by hand in both.

The generated sync code (scripts/unasync.py) turns `AsyncSingleFlight` into `SingleFlight` and
`AsyncBackground` into `Background`; everything else about the edge is written once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsyncSingleFlight(Generic[K, V]):
    """Concurrent calls for one key share one run of the function."""

    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, fn: Callable[[], Awaitable[V]]) -> V:
        pending = self._calls.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._calls[key] = future
        try:
            result = await fn()
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # marked retrieved: a call with no waiters logs nothing
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._calls[key]


class SingleFlight(Generic[K, V]):
    """Concurrent calls for one key share one run of the function (threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[K, _Call[V]] = {}

    def run(self, key: K, fn: Callable[[], V]) -> V:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.result  # type: ignore[return-value]
        try:
            call.result = fn()
            return call.result
        except BaseException as e:
            call.error = e
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()


class _Call(Generic[V]):
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: V | None = None
        self.error: BaseException | None = None


class AsyncBackground:
    """Runs coroutines as tasks of the running loop, keeping them referenced until done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(fn(*args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class Background:
    """Runs functions on daemon threads."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._threads.add(thread)
        thread.start()

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        finally:
            self._threads.discard(threading.current_thread())

    def cancel_all(self) -> None:
        """Threads cannot be cancelled; they end with their work (callers stop their loops)."""
