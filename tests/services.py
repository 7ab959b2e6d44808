"""Reaching the services tests need: skip when one is missing locally, fail under CI=true."""

from __future__ import annotations

import os

import pytest


def require(available: bool, what: str) -> None:
    """Skips the test when `what` is unavailable, except under CI, where that is a failure."""
    if available:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is not available, and CI must run every test")
    pytest.skip(f"{what} is not available")
