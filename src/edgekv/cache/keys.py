"""Key templates for `@cache.cached("{tenant}:site:{site_id}:config")`, compiled once.

The template becomes a function with the decorated function's own signature that returns an
f-string, so binding arguments to names is done by CPython's call machinery in C rather than by
`inspect.signature().bind` on every call.
"""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Callable
from typing import Any

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SPEC = re.compile(r"[A-Za-z0-9_<>=^+\- #,.%]*")


def compile_key(template: str, fn: Callable[..., Any]) -> Callable[..., str]:
    """A function taking fn's arguments and returning the key the template names.

    Fields are parameter names, optionally with attributes (`{user.id}`), a conversion (`!r`)
    and a format spec (`{n:04d}`). A field naming no parameter is refused at decoration time.
    """
    sig = inspect.signature(fn)
    params = sig.parameters
    names = set(params)
    body = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"Invalid key template {template!r}: {e}") from e
    for literal, field, spec, conversion in parsed:
        body.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if not _FIELD.fullmatch(field) or field.split(".")[0] not in names:
            raise ValueError(
                f"Key template {template!r} names {{{field}}}, which is not a parameter of "
                f"{fn.__qualname__}{sig}."
            )
        if spec and not _SPEC.fullmatch(spec):
            raise ValueError(f"Unsupported format spec {spec!r} in key template {template!r}.")
        body.append(
            "{"
            + field
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )

    scope: dict[str, Any] = {}
    args: list[str] = []
    kind = inspect.Parameter
    saw_positional_only = False
    saw_star = False
    for i, p in enumerate(params.values()):
        if p.kind is kind.POSITIONAL_ONLY:
            saw_positional_only = True
        elif saw_positional_only:
            args.append("/")
            saw_positional_only = False
        if p.kind is kind.KEYWORD_ONLY and not saw_star:
            args.append("*")
            saw_star = True
        text = p.name
        if p.kind is kind.VAR_POSITIONAL:
            text, saw_star = "*" + p.name, True
        elif p.kind is kind.VAR_KEYWORD:
            text = "**" + p.name
        elif p.default is not inspect.Parameter.empty:
            scope[f"_default_{i}"] = p.default
            text += f"=_default_{i}"
        args.append(text)
    if saw_positional_only:
        args.append("/")
    source = f"def _key({', '.join(args)}):\n    return f{''.join(body)!r}\n"
    exec(compile(source, f"<key template {template!r}>", "exec"), scope)
    key: Callable[..., str] = scope["_key"]
    key.__doc__ = f"The cache key of {fn.__qualname__}: {template!r}."
    return key
