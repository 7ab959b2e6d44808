"""Feature flags, I/O-free: a flag's definition and its evaluation for one user.

Percentage rollouts hash `flag:user` with BLAKE2b to a uniform number in [0, 1), so a user's
answer is stable across processes and restarts, and flags roll out to independent groups.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

from edgekv import errors

_MEMO_LIMIT = 100_000


def bucket(flag: str, user: str) -> float:
    """A stable, uniform number in [0, 1) for this flag and user."""
    digest = hashlib.blake2b(f"{flag}:{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 18446744073709551616.0  # 2**64


class Flag:
    """A flag: off for everyone unless enabled; then deny list, allow list, rollout percent."""

    __slots__ = (
        "_memo",
        "_threshold",
        "allow",
        "deny",
        "description",
        "enabled",
        "name",
        "rollout",
    )

    def __init__(
        self,
        name: str,
        enabled: bool = False,
        rollout: float = 100.0,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise errors.BadRequest("A flag needs a non-empty name.")
        if isinstance(rollout, bool) or not isinstance(rollout, int | float):
            raise errors.BadRequest(f"rollout of {name!r} must be a percentage from 0 to 100.")
        if not (math.isfinite(rollout) and 0 <= rollout <= 100):
            raise errors.BadRequest(f"rollout of {name!r} must be a percentage from 0 to 100.")
        self.name = name
        self.enabled = bool(enabled)
        self.rollout = float(rollout)
        self.allow = frozenset(str(u) for u in allow)
        self.deny = frozenset(str(u) for u in deny)
        self.description = description
        self._threshold = self.rollout / 100.0
        self._memo: dict[str, bool] = {}

    def check(self, user: str) -> bool:
        """Whether the flag is on for user; answers are memoised (they never change for a
        definition, and a changed definition is a new Flag)."""
        on = self._memo.get(user)
        if on is not None:
            return on
        on = self._decide(user)
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[user] = on
        return on

    def _decide(self, user: str) -> bool:
        if not self.enabled or user in self.deny:
            return False
        if user in self.allow or self._threshold >= 1.0:
            return True
        return bucket(self.name, user) < self._threshold

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "rollout": self.rollout,
            "allow": sorted(self.allow),
            "deny": sorted(self.deny),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Flag:
        if not isinstance(doc, dict):
            raise errors.BadRequest("A flag definition must be a JSON object.")
        return cls(
            doc.get("name", ""),
            doc.get("enabled", False),
            doc.get("rollout", 100.0),
            doc.get("allow", ()),
            doc.get("deny", ()),
            doc.get("description", ""),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flag) and self.as_json() == other.as_json()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        state = f"{self.rollout:g}%" if self.enabled else "off"
        return f"<Flag {self.name!r} {state}>"
