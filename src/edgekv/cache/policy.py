"""Policies: TTL tiers by key pattern, declared in TOML and compiled into one regex.

A pattern is a key with placeholders: `{name}` or `*` match within one `:`-separated segment,
`**` matches anything (segments included). The first pattern in file order that matches wins,
so specific patterns go first. Lookups are one compiled-regex match, memoised per key.

    [default]
    ttl = "5m"

    [[policy]]
    pattern = "{tid}:tenant:config"
    ttl = "15m"
    stale = "1m"

    [[policy]]
    pattern = "{tid}:secrets:**"
    cache = false            # never cached: every call goes to the loader
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekv import errors
from edgekv.cache.durations import seconds

DEFAULT_PATTERN = "default"
_MEMO_LIMIT = 65_536
_TOKEN = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|\*\*|\*")
_FIELDS = {
    "pattern",
    "ttl",
    "memory_ttl",
    "stale",
    "stale_if_error",
    "negative_ttl",
    "cache",
    "lease",
}


@dataclass(frozen=True, slots=True)
class Policy:
    """How one family of keys is cached. Times are seconds; None means "no limit" for `ttl`.

    - ttl: how long a value is fresh in the KV tier (may be under Workers KV's 60 s minimum:
      the logical expiry travels with the value).
    - memory_ttl: how long the memory tier serves it without asking KV (default: ttl).
    - stale: after expiry, how long the old value is served while one refresh runs.
    - stale_if_error: after expiry, how long the old value is served when loader or store fail.
    - negative_ttl: cache a None result for this long (None: never cache None).
    - cache: False means never cache these keys.
    - lease: seconds of a cross-process lease for misses (None: single-flight in-process only).
    """

    pattern: str = DEFAULT_PATTERN
    ttl: float | None = 300.0
    memory_ttl: float | None = None
    stale: float = 0.0
    stale_if_error: float = 0.0
    negative_ttl: float | None = None
    cache: bool = True
    lease: float | None = None

    @classmethod
    def of(cls, pattern: str = DEFAULT_PATTERN, /, **fields: Any) -> Policy:
        """A policy from user input: durations as numbers or strings like "10m"."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise errors.BadRequest(
                f"Unknown policy field(s) {', '.join(sorted(unknown))} in {pattern!r}; "
                f"known: {', '.join(sorted(_FIELDS - {'pattern'}))}."
            )
        values: dict[str, Any] = {"pattern": pattern}
        for name in ("ttl", "memory_ttl", "negative_ttl", "lease"):
            if name in fields:
                values[name] = seconds(fields[name], name)
        for name in ("stale", "stale_if_error"):
            if name in fields:
                values[name] = seconds(fields[name], name) or 0.0
        if "cache" in fields:
            if not isinstance(fields["cache"], bool):
                raise errors.BadRequest(f"cache must be true or false in {pattern!r}.")
            values["cache"] = fields["cache"]
        return cls(**values)

    def with_overrides(self, **fields: Any) -> Policy:
        """This policy with the non-None per-call options applied."""
        given = {k: v for k, v in fields.items() if v is not None}
        if not given:
            return self
        parsed = Policy.of(self.pattern, **given)
        return dataclasses.replace(self, **{name: getattr(parsed, name) for name in given})

    @property
    def keep_for(self) -> float:
        """How long after expiry an entry is still worth keeping (stale or stale-if-error)."""
        return max(self.stale, self.stale_if_error)


def compile_pattern(pattern: str) -> str:
    """The regex source of a pattern: placeholders become segment or any-text matches."""
    out, pos = [], 0
    for m in _TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(".*" if m.group() == "**" else "[^:]*" if m.group() == "*" else "[^:]+")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


class Policies:
    """An ordered set of policies and a default; `lookup(key)` finds a key's policy."""

    def __init__(self, policies: Iterable[Policy] = (), default: Policy | None = None) -> None:
        self.policies = list(policies)
        self.default = default or Policy()
        seen: set[str] = set()
        for p in self.policies:
            if p.pattern in seen:
                raise errors.BadRequest(f"Policy pattern {p.pattern!r} appears twice.")
            seen.add(p.pattern)
        # One alternation of named groups: the regex engine tries them in order, in C.
        source = "|".join(
            f"(?P<p{i}>{compile_pattern(p.pattern)})" for i, p in enumerate(self.policies)
        )
        self._regex = re.compile(source, re.DOTALL) if self.policies else None
        self._memo: dict[str, Policy] = {}

    def lookup(self, key: str) -> Policy:
        try:
            return self._memo[key]
        except KeyError:
            pass
        policy = self.default
        if self._regex is not None:
            m = self._regex.fullmatch(key)
            if m is not None and m.lastgroup is not None:
                policy = self.policies[int(m.lastgroup[1:])]
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = policy
        return policy

    @property
    def all(self) -> list[Policy]:
        return [*self.policies, self.default]

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any]) -> Policies:
        """From the parsed TOML document: a `[default]` table and `[[policy]]` entries."""
        unknown = set(doc) - {"default", "policy"}
        if unknown:
            raise errors.BadRequest(
                f"Unknown section(s) {', '.join(sorted(unknown))}: use [default] and [[policy]]."
            )
        default = Policy.of(DEFAULT_PATTERN, **dict(doc.get("default", {})))
        entries = doc.get("policy", [])
        if not isinstance(entries, list):
            raise errors.BadRequest("policy must be an array of tables: [[policy]].")
        policies = []
        for i, entry in enumerate(entries):
            fields = dict(entry)
            pattern = fields.pop("pattern", None)
            if not isinstance(pattern, str) or not pattern:
                raise errors.BadRequest(f"policy {i} needs a pattern.")
            policies.append(Policy.of(pattern, **fields))
        return cls(policies, default)

    @classmethod
    def from_toml(cls, source: str | Path) -> Policies:
        """From a TOML file path, or TOML text.

        A string of one line without `=` (TOML text sets something) or a leading `[` (a table)
        is a file path: a missing file says so, rather than being parsed as TOML.
        """
        if isinstance(source, Path) or _names_a_file(source):
            try:
                text = Path(source).read_text()
            except FileNotFoundError:
                raise errors.BadRequest(f"policy file {str(source)!r} not found") from None
        else:
            text = str(source)
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise errors.BadRequest(f"Invalid policy file: {e}.") from e
        return cls.from_mapping(doc)


def _names_a_file(source: str) -> bool:
    text = source.strip()
    return "\n" not in text and "=" not in text and not text.startswith("[")
