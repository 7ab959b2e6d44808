"""StoreFaults (edgekv.stores.faults): a fault of the store becomes StoreUnavailable in edgekv's
words, its driver's text goes to the log once per reason; anything else passes through."""

from __future__ import annotations

import logging
import socket

import pytest

from edgekv import errors
from edgekv.stores.faults import StoreFaults
from tests.stores.faults import closed_port

log = logging.getLogger("edgekv.test-faults")


class SocketFaults(StoreFaults):
    """A store whose driver is a socket: a refused connection is the store's fault."""

    __slots__ = ()

    @staticmethod
    def reason(e: Exception) -> str | None:
        return "connection refused" if isinstance(e, ConnectionRefusedError) else None


def _refused(faults: StoreFaults, port: int) -> errors.StoreUnavailable:
    with pytest.raises(errors.StoreUnavailable) as caught, faults:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    return caught.value


def test_a_fault_is_store_unavailable_and_its_text_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults, port = SocketFaults(log), closed_port()
    caplog.set_level(logging.DEBUG, logger=log.name)
    first = _refused(faults, port)
    assert first.message == "central store unavailable: connection refused"
    assert (first.status, first.code) == (503, 10102)
    assert isinstance(first.__cause__, ConnectionRefusedError)
    second = _refused(faults, port)
    assert second.message == first.message
    levels = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == log.name]
    assert [level for level, _ in levels] == [logging.WARNING, logging.DEBUG]
    assert all(str(first.__cause__) in text for _, text in levels)  # the driver's own text


def test_errors_that_are_not_faults_of_the_store_pass_through() -> None:
    faults = SocketFaults(log)
    with pytest.raises(ZeroDivisionError), faults:
        _ = 1 / 0  # a programming error
    with pytest.raises(errors.NamespaceNotFound), faults:
        raise errors.NamespaceNotFound()  # edgekv's own
    with faults:
        pass
