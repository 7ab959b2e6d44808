"""The few primitives that differ between the shells: single-flight, background jobs, batches.

Async sources (the cache, the recipes, the edge) name `AsyncSingleFlight`, `AsyncBackground`,
`AsyncLoader`; the generated sync code gets `SingleFlight`, `Background`, `Loader`
(scripts/unasync.py strips the `Async` prefix), so the logic that uses them is written once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar

T = TypeVar("T")
R = TypeVar("R")
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

    def forget(self, key: Hashable) -> None:
        """Calls from now on for `key` start an execution of their own (what runs may predate
        a change of the key); the callers already waiting still get its result."""
        self._calls.pop(key, None)

    def forget_if(self, test: Callable[[Hashable], bool]) -> None:
        """`forget` of every key that passes `test`."""
        for key in [k for k in self._calls if test(k)]:
            del self._calls[key]

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

    def forget(self, key: Hashable) -> None:
        """As AsyncSingleFlight.forget."""
        with self._lock:
            self._calls.pop(key, None)

    def forget_if(self, test: Callable[[Hashable], bool]) -> None:
        """As AsyncSingleFlight.forget_if."""
        with self._lock:
            for key in [k for k in self._calls if test(k)]:
                del self._calls[key]

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
                if self._calls.get(key) is fut:
                    del self._calls[key]


class AsyncBackground:
    """Named background jobs, at most one running per name (one refresh per key)."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

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

    async def aclose(self, grace: float = 10.0) -> None:
        """Waits for the jobs up to `grace` seconds, then cancels those still running (a job
        waiting on a store that does not answer must not hold a shutdown past its bound)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)


class Background:
    """Named background jobs on a small thread pool, at most one running per name."""

    def __init__(self, workers: int = 4) -> None:
        self._workers = workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._jobs: dict[str, concurrent.futures.Future[None]] = {}
        self._lock = threading.Lock()

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

    def close(self, grace: float = 10.0) -> None:
        # Threads cannot be cancelled: each job is bounded by its store's own timeouts.
        self.drain()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class AsyncBatch(Generic[T, R]):
    """`await batch.submit(item)`: what `run` answered for it, run once for many items.

    The items submitted in one turn of the event loop go to one call of `run(items)` at the
    next turn (auto-pipelining, as ioredis calls it), which answers each with its result or
    the exception that is its own. With `in_flight`, at most that many calls run at once;
    items submitted meanwhile wait for one to end and go together in the next.

    With `deadline`, an item not answered within that many seconds of its submission fails
    with TimeoutError, whether it waits for a run to start or for its run to end (an item
    queued behind a run the store does not answer would otherwise wait for that run, then its
    own). One timer for the batch, armed at the oldest item's deadline, as the Redis store's
    lanes do (stores/redis/nodes.py): no timer per item.
    """

    __slots__ = (
        "_deadline",
        "_deadlines",
        "_futures",
        "_in_flight",
        "_items",
        "_run",
        "_running",
        "_tasks",
        "_timer",
        "_waiting",
    )

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | Exception]]],
        in_flight: int | None = None,
        deadline: float | None = None,
    ) -> None:
        self._run = run
        self._deadline = deadline
        # (deadline, future) of the items submitted, oldest first; answered ones leave lazily.
        self._deadlines: deque[tuple[float, asyncio.Future[R]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight = in_flight
        self._items: list[T] | None = None
        self._futures: list[asyncio.Future[R]] = []
        self._running = 0
        self._waiting = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        if self._items is None:
            self._items, self._futures = [], []
            if self._in_flight is None or self._running < self._in_flight:
                self._start()
            else:
                self._waiting = True  # started when a running call ends
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if self._deadline is not None:
            deadlines = self._deadlines
            while deadlines and deadlines[0][1].done():
                deadlines.popleft()
            deadlines.append((loop.time() + self._deadline, future))
            if self._timer is None:
                self._timer = loop.call_at(deadlines[0][0], self._expire)
        return await future

    def _expire(self) -> None:
        """The batch's one timer: fails the items past their deadline, re-armed at the next."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now, deadlines = loop.time(), self._deadlines
        while deadlines and (deadlines[0][1].done() or deadlines[0][0] <= now):
            _, future = deadlines.popleft()
            if not future.done():
                future.set_exception(TimeoutError(f"no answer within {self._deadline:g} s"))
        if deadlines:
            self._timer = loop.call_at(deadlines[0][0], self._expire)

    def _start(self) -> None:
        self._running += 1
        task = asyncio.ensure_future(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        # A run that ends with items waiting for it runs them next, in this task: under a
        # steady load one task carries run after run (a task per run cost a fifth of one).
        while True:
            items, futures = self._items or [], self._futures
            self._items = None
            try:
                results: list[R | Exception] = await self._run(items)
            except Exception as e:  # the run failed as a whole: each of its items with it
                results = [e] * len(futures)
            except BaseException:
                for future in futures:
                    future.cancel()
                self._running -= 1
                if self._waiting:
                    self._waiting = False
                    self._start()
                raise
            for future, result in zip(futures, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if not self._waiting:
                self._running -= 1
                return
            self._waiting = False
            # As a new run would: after what is ready now, which may add to the items.
            await asyncio.sleep(0)


class Batch(Generic[T, R]):
    """The sync twin of AsyncBatch: one thread submits one item at a time, so `run([item])`."""

    __slots__ = ("_run",)

    def __init__(
        self,
        run: Callable[[list[T]], list[R | Exception]],
        in_flight: int | None = None,
        deadline: float | None = None,
    ) -> None:
        # in_flight, deadline: the async signature's; one call at a time here, bounded by the
        # store's own timeouts.
        self._run = run

    def submit(self, item: T) -> R:
        result = self._run([item])[0]
        if isinstance(result, Exception):
            raise result
        return result


class AsyncAll:
    """`await AsyncAll.of(*calls)`: the calls' results, the calls run concurrently.

    Its sync twin `All.of(*results)` receives calls already made one after another (the
    generated sync code calls each in turn), so one source line serves both shells.
    """

    @staticmethod
    async def of(*calls: Awaitable[T]) -> list[T]:
        if len(calls) == 1:
            return [await calls[0]]  # no task to make and schedule for a lone call
        return list(await asyncio.gather(*calls))


class All:
    @staticmethod
    def of(*results: T) -> list[T]:
        return list(results)


class AsyncTimeLimit:
    """`await AsyncTimeLimit.of(seconds, call)`: the call's result, or TimeoutError after
    `seconds`. Its sync twin receives a result already computed (the generated code makes the
    call first), so a sync caller is bounded by the store's own timeouts instead."""

    @staticmethod
    async def of(seconds: float | None, call: Awaitable[T]) -> T:
        async with asyncio.timeout(seconds):
            return await call


class TimeLimit:
    @staticmethod
    def of(seconds: float | None, result: T) -> T:
        return result


AsyncLock = asyncio.Lock
Lock = threading.Lock


class AsyncDeadline:
    """`async with AsyncDeadline(seconds):` the block ends by TimeoutError once `seconds` have
    passed, even through a driver that cleans up before it gives in to a cancellation.

    asyncio.timeout cancels the task once and waits for the block to end; psycopg, cancelled
    mid-query, first asks the server to cancel it and waits for that (up to 10 s against a
    server that does not answer), and closes the connection at once only when cancelled again.
    So this cancels the task at the deadline and again every GRACE seconds until the block
    ends. Its sync twin `Deadline` does nothing: sync callers are bounded by the drivers'
    own timeouts.
    """

    GRACE = 0.1

    __slots__ = ("_cancels", "_seconds", "_task", "_timer")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._cancels = 0

    async def __aenter__(self) -> AsyncDeadline:
        self._task = asyncio.current_task()
        self._timer = asyncio.get_running_loop().call_later(self._seconds, self._expire)
        return self

    def _expire(self) -> None:
        assert self._task is not None
        self._cancels += 1
        self._task.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.GRACE, self._expire)

    async def __aexit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._cancels:
            return
        assert self._task is not None
        for _ in range(self._cancels):
            self._task.uncancel()
        if self._task.cancelling() == 0 and isinstance(e, asyncio.CancelledError):
            raise TimeoutError(f"no answer within {self._seconds:g} s") from e


class Deadline:
    __slots__ = ()

    def __init__(self, seconds: float) -> None:
        pass

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        return None
