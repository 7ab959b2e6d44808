"""A store's faults in edgekv's words: what every store's calls raise is a KVError.

Each store knows which errors of its driver are faults of the store (down, unreachable, locked,
out of space, failing over), as opposed to faults of the call, and names each by a short reason
(`connection refused`, `timed out`). `with self._faults:` around a store's call turns such an
error into StoreUnavailable (503) saying `central store unavailable: <reason>`. The driver's own
text, which may name hosts, ports and paths, stays out of the message: it goes to the store's
log at warning level, once per reason every LOG_EVERY seconds (the rest at debug, so an outage
under load is one line, not one per request). Anything else, a programming error, passes
through as it is.

A class with __slots__, not @contextmanager: every call of a store passes here, and a generator
per call costs more than a hot read's own work.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from edgekv import errors

LOG_EVERY = 10.0  # seconds between two warnings of one reason

# StoreUnavailable raised in this process, by reason: /metrics reads it (server/metrics/).
# Reasons are a short fixed vocabulary of each driver's, so the count stays small.
UNAVAILABLE: Counter[str] = Counter()


def unavailable(reason: str) -> errors.StoreUnavailable:
    UNAVAILABLE[reason] += 1
    return errors.StoreUnavailable(f"{errors.StoreUnavailable.default_message}: {reason}")


def reason_of(e: BaseException) -> str:
    """Why a call to the central store failed, in edgekv's words (never a driver's text): the
    reason a StoreUnavailable names, `timed out` for a deadline, `error` for anything else."""
    if isinstance(e, errors.StoreUnavailable):
        prefix = errors.StoreUnavailable.default_message + ": "
        return e.message[len(prefix) :] if e.message.startswith(prefix) else "unavailable"
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, OSError):
        return "connection lost"
    return "error"


def refused(e: BaseException) -> bool:
    """Whether a connection error is a refusal (nothing listens there), as its driver says
    it or as the OS error it was raised from says it (httpx over anyio: "All connection
    attempts failed", from ConnectionRefusedError)."""
    seen: BaseException | None = e
    for _ in range(8):  # the chain of causes, bounded
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class StoreFaults:
    """`with faults:` raises StoreUnavailable for what `reason` names a fault of the store.

    A store module subclasses it with its driver's `reason`; each store object has its own
    (its own log line per outage).
    """

    __slots__ = ("_log", "_logged")

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._logged: dict[str, float] = {}  # reason -> when its warning was logged

    @staticmethod
    def reason(e: Exception) -> str | None:
        """A short reason if `e` is a fault of the store, None if it is not."""
        raise NotImplementedError

    def __enter__(self) -> None:
        return None

    # Reasons that are noted at debug level only: the store retries them itself, and notes
    # the fault (`note`) when it gives up (SQLite's lock, waited for between attempts).
    quiet: frozenset[str] = frozenset()

    def __exit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        # Never suppresses: a fault is raised as StoreUnavailable, anything else as it is.
        if e is None or isinstance(e, errors.KVError) or not isinstance(e, Exception):
            return
        reason = self.reason(e)
        if reason is None:
            if not isinstance(e, TimeoutError):
                return
            reason = "timed out"  # a deadline of the store's own (asyncio.timeout, AsyncDeadline)
        if reason in self.quiet:
            self._log.debug("central store unavailable (%s): %s: %s", reason, type(e).__name__, e)
        else:
            self.note(reason, e)
        raise unavailable(reason) from e

    def note(self, reason: str, e: BaseException) -> None:
        """Logs a fault: at warning level once per reason every LOG_EVERY seconds."""
        now = time.monotonic()
        if now - self._logged.get(reason, -LOG_EVERY) >= LOG_EVERY:
            self._logged[reason] = now
            self._log.warning("central store unavailable (%s): %s: %s", reason, type(e).__name__, e)
        else:
            self._log.debug("central store unavailable (%s): %s: %s", reason, type(e).__name__, e)
