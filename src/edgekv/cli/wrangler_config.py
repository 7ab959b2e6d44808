"""Reads a project's wrangler config to turn `--binding NAME` into a namespace id.

A Workers project names its KV namespaces in `wrangler.json`, `wrangler.jsonc` or
`wrangler.toml` as `kv_namespaces = [{binding, id, preview_id?}]` (per environment under
`env.<name>`). edgekv reads the same file, so `edgekv kv key get --binding KV k` works in a
directory where `wrangler kv key get --binding KV k` does.

Like wrangler, the file is looked for in the current directory and then its parents; in one
directory `wrangler.json` is preferred to `wrangler.jsonc`, and both to `wrangler.toml`.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekv import errors

CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


class WranglerConfigError(errors.BadRequest):
    """The config file is missing, unreadable, or does not name the binding."""


@dataclass(frozen=True, slots=True)
class BindingTarget:
    namespace_id: str
    config_path: Path


def find_config(start: Path | None = None) -> Path | None:
    """The nearest wrangler config file at or above `start` (default: the current directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def load_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise WranglerConfigError(f"Could not read file: {path} ({e.strerror})") from e
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(strip_jsonc(text))
    except tomllib.TOMLDecodeError as e:
        raise WranglerConfigError(f"{path}: {e}") from e
    except json.JSONDecodeError as e:
        raise WranglerConfigError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from e
    if not isinstance(data, dict):
        raise WranglerConfigError(f"{path}: the configuration must be an object.")
    return data


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas, as wrangler accepts, made plain JSON.

    Comments and dropped commas become spaces (newlines kept), so a JSON error still points at
    the right line and column of the original file.
    """
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1  # index of a comma not yet followed by a value
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            last_comma = -1
            continue
        if c == "/" and i + 1 < n and text[i + 1] in "/*":
            end = text.find("\n", i) if text[i + 1] == "/" else text.find("*/", i + 2)
            end = n if end == -1 else (end if text[i + 1] == "/" else end + 2)
            for j in range(i, end):
                if out[j] != "\n":
                    out[j] = " "
            i = end
            continue
        if c == ",":
            last_comma = i
        elif c in "]}":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not c.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def _skip_string(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return i


def resolve_binding(
    binding: str,
    *,
    config_path: Path | None = None,
    env: str | None = None,
    preview: bool | None = None,
) -> BindingTarget:
    """The namespace id a binding names, with wrangler's rules for `id` and `preview_id`."""
    path = config_path or find_config()
    if path is None:
        raise WranglerConfigError(
            "--binding specified, but no config file was found "
            "(wrangler.json, wrangler.jsonc or wrangler.toml in this directory or above)."
        )
    config = load_config(path)
    section: Any = config
    if env:
        section = (config.get("env") or {}).get(env)
        if not isinstance(section, dict):
            raise WranglerConfigError(f'No environment "{env}" in {path}.')
    namespaces = section.get("kv_namespaces") or []
    if not isinstance(namespaces, list) or not namespaces:
        raise WranglerConfigError(
            "No KV Namespaces configured! Either use --namespace-id or add a KV namespace "
            f"to {path}."
        )
    entry = next(
        (ns for ns in namespaces if isinstance(ns, dict) and ns.get("binding") == binding), None
    )
    if entry is None:
        raise WranglerConfigError(
            f'A namespace with binding name "{binding}" was not found in the configured '
            f'"kv_namespaces" of {path}.'
        )
    namespace_id = _pick_id(binding, entry.get("id"), entry.get("preview_id"), preview)
    return BindingTarget(namespace_id, path)


def _pick_id(binding: str, id_: object, preview_id: object, preview: bool | None) -> str:
    main = id_ if isinstance(id_, str) and id_ else None
    alt = preview_id if isinstance(preview_id, str) and preview_id else None
    if preview:
        if alt is None:
            raise WranglerConfigError(
                f"No preview ID found for {binding}. Add one to your wrangler config file to "
                "use a separate namespace for previewing your worker."
            )
        return alt
    if preview is None and main and alt:
        raise WranglerConfigError(
            f'{binding} has both a namespace ID and a preview ID. Specify "--preview" or '
            '"--no-preview" to avoid writing data to the wrong namespace.'
        )
    chosen = main if preview is False else (main or alt)
    if chosen is None:
        raise WranglerConfigError(
            f"No namespace ID found for {binding}. Add one to your wrangler config file "
            "or pass it via `--namespace-id`."
        )
    return chosen
