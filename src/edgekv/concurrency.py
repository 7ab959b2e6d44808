"""The few primitives that differ between the shells: single-flight and background jobs.

Async sources (the cache, the recipes, the edge) name `AsyncSingleFlight`, `AsyncBackground`,
`AsyncLoader`; the generated sync code gets `SingleFlight`, `Background`, `Loader`
(scripts/unasync.py strips the `Async` prefix), so the logic that uses them is written once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, ParamSpec, TypeAlias, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

AsyncLoader: TypeAlias = Callable[[], Awaitable[T]]
Loader: TypeAlias = Callable[[], T]
AsyncFunction: TypeAlias = Callable[P, Awaitable[T]]
Function: TypeAlias = Callable[P, T]

log = logging.getLogger("edgekv")


class AsyncSingleFlight:
    """Concurrent calls for one key share one execution of `fn` (per event loop)."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._calls

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        while True:
            fut = self._calls.get(key)
            if fut is None:
                break
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not fut.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The leader was cancelled, not us: try again, perhaps as the new leader.
        fut = asyncio.get_running_loop().create_future()
        self._calls[key] = fut
        try:
            result = await fn()
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: followers may be none, and asyncio would complain
            raise
        except BaseException:
            fut.cancel()
            raise
        else:
            fut.set_result(result)
            return result
        finally:
            if self._calls.get(key) is fut:
                del self._calls[key]


class SingleFlight:
    """Concurrent calls for one key share one execution of `fn` (per process, across threads)."""

    __slots__ = ("_calls", "_lock")

    def __init__(self) -> None:
        self._calls: dict[Hashable, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._calls

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._lock:
            fut = self._calls.get(key)
            leader = fut is None
            if fut is None:
                fut = self._calls[key] = concurrent.futures.Future()
        if not leader:
            return fut.result()  # type: ignore[no-any-return]
        try:
            result = fn()
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        else:
            fut.set_result(result)
            return result
        finally:
            with self._lock:
                del self._calls[key]


class AsyncBackground:
    """Named background jobs, at most one running per name (one refresh per key)."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def running(self, name: str) -> bool:
        return name in self._tasks

    def spawn(self, name: str, fn: Callable[[], Awaitable[None]]) -> bool:
        """Starts fn unless a job of that name runs; False when it did not start one."""
        if name in self._tasks:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._tasks[name] = loop.create_task(self._run(name, fn))
        return True

    async def _run(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        try:
            await fn()
        except Exception:
            log.exception("background job %s failed", name)
        finally:
            self._tasks.pop(name, None)

    async def drain(self) -> None:
        """Waits until no job runs (jobs started meanwhile included)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()


class Background:
    """Named background jobs on a small thread pool, at most one running per name."""

    def __init__(self, workers: int = 4) -> None:
        self._workers = workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._jobs: dict[str, concurrent.futures.Future[None]] = {}
        self._lock = threading.Lock()

    def running(self, name: str) -> bool:
        return name in self._jobs

    def spawn(self, name: str, fn: Callable[[], None]) -> bool:
        with self._lock:
            if name in self._jobs:
                return False
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._workers, thread_name_prefix="edgekv"
                )
            self._jobs[name] = self._pool.submit(self._run, name, fn)
            return True

    def _run(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("background job %s failed", name)
        finally:
            with self._lock:
                self._jobs.pop(name, None)

    def drain(self) -> None:
        while True:
            with self._lock:
                jobs = list(self._jobs.values())
            if not jobs:
                return
            concurrent.futures.wait(jobs)

    def close(self) -> None:
        self.drain()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class AsyncAll:
    """`await AsyncAll.of(*calls)`: the calls' results, the calls run concurrently.

    Its sync twin `All.of(*results)` receives calls already made one after another (the
    generated sync code calls each in turn), so one source line serves both shells.
    """

    @staticmethod
    async def of(*calls: Awaitable[T]) -> list[T]:
        return list(await asyncio.gather(*calls))


class All:
    @staticmethod
    def of(*results: T) -> list[T]:
        return list(results)


AsyncLock = asyncio.Lock
Lock = threading.Lock
