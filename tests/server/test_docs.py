"""docs/errors.md lists every error class with its status and code."""

from __future__ import annotations

import inspect
from pathlib import Path

import edgekv.errors
import edgekv.server.envelope

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_error_class_is_listed_with_its_status_and_code() -> None:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    for module in (edgekv.errors, edgekv.server.envelope):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, edgekv.errors.KVError) or cls.__module__ != module.__name__:
                continue
            row = next((r for r in rows if f"`{name}`" in r.split("|")[1]), None)
            assert row is not None, f"{name} is missing from docs/errors.md"
            cells = [c.strip() for c in row.split("|")]
            assert cells[2:4] == [str(cls.status), str(cls.code)], name
