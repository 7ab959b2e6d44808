"""What every store's fault tests check of the StoreUnavailable a driver's fault became."""

from __future__ import annotations

import re

import pytest

from edgekv import errors

# edgekv's words only: no host, port, path or driver text (no digits, dots, colons, quotes).
CLEAN = re.compile(r"central store unavailable: [A-Za-z/ -]+")


def check_clean(
    caught: errors.StoreUnavailable, caplog: pytest.LogCaptureFixture, driver: type[Exception]
) -> None:
    """The message is edgekv's, the driver's error is its cause, and the store's log has the
    driver's own text."""
    assert CLEAN.fullmatch(caught.message), caught.message
    cause = caught.__cause__
    assert isinstance(cause, driver), repr(cause)
    assert str(cause) not in caught.message
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("edgekv.")]
    assert any(str(cause) in line for line in logged), logged
