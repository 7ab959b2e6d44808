"""The docs say what the code does: every error listed, every message of the contract quoted,
every path and module they name present."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import edgekv.errors
import edgekv.server.envelope

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ERRORS_DOC = DOCS / "errors.md"
CONTRACT = DOCS / "contract.md"
# Where the contract's messages are written: validation, decoding, and the binding's verbs.
MESSAGE_SOURCES = ["limits.py", "api/decoding.py", "api/_async/kv.py"]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted(DOCS.glob("*.md"))]
# Logger names look like modules (`edgekv.access`): the docs may name them too.
LOGGERS = {
    name
    for source in (ROOT / "src").rglob("*.py")
    for name in re.findall(r'getLogger\("([\w.]+)"\)', source.read_text())
}


def test_every_error_class_is_listed_with_its_status_and_code() -> None:
    rows = [line for line in ERRORS_DOC.read_text().splitlines() if line.startswith("| `")]
    for module in (edgekv.errors, edgekv.server.envelope):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, edgekv.errors.KVError) or cls.__module__ != module.__name__:
                continue
            row = next((r for r in rows if f"`{name}`" in r.split("|")[1]), None)
            assert row is not None, f"{name} is missing from docs/errors.md"
            cells = [c.strip() for c in row.split("|")]
            assert cells[2:4] == [str(cls.status), str(cls.code)], name


def _message_patterns(source: Path) -> list[tuple[str, re.Pattern[str]]]:
    """The message of each `errors.X(...)` built in `source`, as a pattern: its literal text,
    with `[^`]+` where a value is put in (the contract writes N, V or the limit there)."""
    found = []
    for node in ast.walk(ast.parse(source.read_text())):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "errors"
            and node.args
        ):
            continue
        message = node.args[0]
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            found.append((message.value, re.compile(re.escape(message.value))))
        elif isinstance(message, ast.JoinedStr):
            parts = [
                re.escape(str(p.value)) if isinstance(p, ast.Constant) else "[^`]+"
                for p in message.values
            ]
            found.append((ast.unparse(message), re.compile("".join(parts))))
    return found


def _contract_text() -> str:
    # Messages wrap across lines in lists: compare with whitespace runs made single spaces.
    return re.sub(r"\s+", " ", CONTRACT.read_text())


@pytest.mark.parametrize("source", MESSAGE_SOURCES)
def test_the_contract_quotes_every_message_the_binding_raises(source: str) -> None:
    text = _contract_text()
    patterns = _message_patterns(ROOT / "src" / "edgekv" / source)
    assert patterns
    missing = [shown for shown, pattern in patterns if not pattern.search(text)]
    assert not missing, f"docs/contract.md does not quote these messages of {source}: {missing}"


def test_the_contract_quotes_every_default_message() -> None:
    text = _contract_text()
    for name, cls in inspect.getmembers(edgekv.errors, inspect.isclass):
        # BadRequest is always raised with a message of its own.
        own = "default_message" in vars(cls) and cls is not edgekv.errors.BadRequest
        if issubclass(cls, edgekv.errors.KVError) and own:
            assert cls.default_message in text, f"{name}: {cls.default_message!r}"


def _named_paths(text: str) -> set[str]:
    return {
        m.rstrip(".,:;)")
        for m in re.findall(r"\b(?:src|tests|benchmarks|scripts|docs)/[\w./-]*[\w/]", text)
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_and_modules_named_in_the_docs_exist(page: Path) -> None:
    text = page.read_text()
    for path in _named_paths(text):
        assert (ROOT / path).exists(), f"{page.name} names {path}, which does not exist"
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (page.parent / link).exists(), f"{page.name} links to {link}, which does not exist"
    # Python imports shown in code blocks, and modules named in backticks.
    for module, names in re.findall(r"^\s*from (edgekv[\w.]*) import ([\w, ]+)", text, re.M):
        imported = importlib.import_module(module)
        for name in (n.strip() for n in names.split(",")):
            assert hasattr(imported, name), f"{page.name}: from {module} import {name}"
    for dotted in re.findall(r"`(edgekv(?:\.\w+)+)`", text):
        assert dotted in LOGGERS or _resolves(dotted), f"{page.name} names {dotted}, a module?"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attribute in parts[i:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False
