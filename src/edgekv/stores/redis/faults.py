"""Redis's faults of the store (edgekv.stores.faults): redis-py's connection errors and
timeouts (its own, and those of the store's lanes, nodes.py), a cluster that is down,
resharding or failing over, and the error answers of a server that cannot take writes now
(out of memory, read-only, failing to persist, loading, busy with a script).

A script's error answers that are the call's own (EDGEKV_..., see scripts.py) are turned into
edgekv's errors by the store before they reach here; any other ResponseError passes through.
"""

from __future__ import annotations

import redis.exceptions as redis_errors

from edgekv.stores.faults import StoreFaults, refused

_CONNECTION_LOST = "connection lost"
# By class first (redis-py strips the first word of the answers it has a class for)...
_BY_CLASS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    ((redis_errors.TimeoutError, TimeoutError), "timed out"),
    ((redis_errors.AuthenticationError, redis_errors.AuthorizationError), "authentication failed"),
    (redis_errors.BusyLoadingError, "server loading its data"),
    (redis_errors.MaxConnectionsError, "too many connections"),
    (redis_errors.OutOfMemoryError, "server out of memory"),
    (redis_errors.ReadOnlyError, "server is read-only"),
    (redis_errors.MasterDownError, "cluster failing over"),
    ((redis_errors.ClusterError, redis_errors.SlotNotCoveredError), "cluster down"),
    ((redis_errors.TryAgainError, redis_errors.AskError), "cluster resharding"),
)
# ...then by the first word of an error answer it has none for.
_BY_ANSWER = {
    "MISCONF": "server cannot persist its data",
    "BUSY": "server busy running a script",
}
# redis-py's asyncio cluster client closes every connection of a node that failed, including
# those other commands are sending on; those commands then fail with RuntimeError (uvloop:
# "the handler is closed") or AttributeError (`_writer` is None) raised inside its connection
# module, not with its ConnectionError.
_CONNECTION_MODULES = ("redis.asyncio.connection", "redis.connection")


class RedisFaults(StoreFaults):
    __slots__ = ()

    @staticmethod
    def reason(e: Exception) -> str | None:
        for kinds, reason in _BY_CLASS:
            if isinstance(e, kinds):
                return reason
        if isinstance(e, redis_errors.ConnectionError | OSError):
            return "connection refused" if refused(e) else _CONNECTION_LOST
        if isinstance(e, redis_errors.ResponseError):
            return _BY_ANSWER.get(str(e).split(" ", 1)[0])
        if isinstance(e, redis_errors.RedisClusterException) and "connect" in str(e).lower():
            return "cluster cannot be reached"  # no startup node answered
        if isinstance(e, RuntimeError | AttributeError) and _torn_connection(e):
            return _CONNECTION_LOST
        return None


def _torn_connection(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") in _CONNECTION_MODULES:
            return True
        tb = tb.tb_next
    return False
