"""The HTTP store's faults of the store (edgekv.stores.faults): httpx's transport errors (the
server refused, unreachable, too slow, the connection lost mid-answer) and answers that are
not the API's (a body that does not decode, or is not JSON where the API answers JSON).

Errors the server answers in its envelope are edgekv's own already (wire.error_from).
"""

from __future__ import annotations

import json

import httpx

from edgekv.stores.faults import StoreFaults, refused


class RestFaults(StoreFaults):
    __slots__ = ()

    @staticmethod
    def reason(e: Exception) -> str | None:
        if isinstance(e, httpx.PoolTimeout):
            return "timed out waiting for a connection"
        if isinstance(e, httpx.TimeoutException):
            return "timed out"
        if isinstance(e, httpx.ConnectError):
            return "connection refused" if refused(e) else "cannot connect"
        if isinstance(e, httpx.ProxyError):
            return "proxy failed"
        if isinstance(e, httpx.NetworkError | httpx.RemoteProtocolError):
            return "connection lost"
        if isinstance(e, httpx.DecodingError | json.JSONDecodeError):
            return "not an API answer"
        return None  # LocalProtocolError, UnsupportedProtocol: this client's own mistakes
