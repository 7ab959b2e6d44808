"""Feature flags as seed 002's Worker stores and decides them, I/O-free.

The Worker (`FeatureFlags` in seed 002) keeps `flag:<name>` = `{"enabled": true,
"percentage": 50, "allowedUsers": [...], "metadata": {...}}` and decides with `isEnabled`:
off unless `enabled`; on for a listed user; else, with a percentage and a user, on when the
user's bucket (`hashUserId`, a 31-multiplier string hash over UTF-16 code units, kept in 32
bits, `Math.abs(hash % 100)`) is below it; else on. `WorkerFlag` reproduces that decision
exactly, JavaScript's truthiness and number coercion included, so a Worker and Python agree
for every user.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from edgekv import errors
from edgekv.recipes.rollout import Flag
from edgekv.recipes.worker_json import to_number, truthy


def seed_bucket(user: str, flag: str) -> int:
    """Seed 002's `hashUserId(userId, flagName)`: 0..99, as the Worker computes it."""
    h = 0
    data = f"{user}:{flag}".encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):  # str.charCodeAt: UTF-16 code units
        # ((hash << 5) - hash) + code, then `hash & hash` keeps it a signed 32-bit integer.
        h = (h * 31 + (data[i] | data[i + 1] << 8)) & 0xFFFFFFFF
    if h >= 0x80000000:
        h -= 0x100000000
    return abs(h) % 100  # Math.abs(hash % 100): JavaScript's % keeps the dividend's sign


class WorkerFlag(Flag):
    """A flag in the Worker's shape; `doc` is the stored JSON value, kept as it was."""

    __slots__ = ("doc",)

    def __init__(self, name: str, doc: Any) -> None:
        fields = doc if isinstance(doc, dict) else {}
        allowed = fields.get("allowedUsers")
        metadata = fields.get("metadata")
        percentage = to_number(fields["percentage"]) if "percentage" in fields else 100.0
        super().__init__(
            name,
            truthy(fields.get("enabled")),
            percentage if 0 <= percentage <= 100 else 100.0,  # the Flag view; check() is exact
            [u for u in allowed if isinstance(u, str)] if isinstance(allowed, list) else (),
            (),
            str(metadata.get("description", "")) if isinstance(metadata, dict) else "",
        )
        self.doc = doc

    @classmethod
    def make(
        cls,
        name: str,
        *,
        enabled: bool,
        percentage: float | None = None,
        allowed_users: Iterable[str] = (),
        metadata: dict[str, Any] | None = None,
    ) -> WorkerFlag:
        """A flag as the Worker's `FeatureFlag` type writes one (absent fields left out)."""
        doc: dict[str, Any] = {"enabled": bool(enabled)}
        if percentage is not None:
            if isinstance(percentage, bool) or not isinstance(percentage, int | float):
                raise errors.BadRequest(f"percentage of {name!r} must be a number from 0 to 100.")
            if not (math.isfinite(percentage) and 0 <= percentage <= 100):
                raise errors.BadRequest(f"percentage of {name!r} must be a number from 0 to 100.")
            doc["percentage"] = percentage
        users = [str(u) for u in allowed_users]
        if users:
            doc["allowedUsers"] = users
        if metadata:
            doc["metadata"] = metadata
        return cls(name, doc)

    def _decide(self, user: str) -> bool:
        """`isEnabled(flagName, userId)` of seed 002 (`check` memoises it per user)."""
        doc = self.doc
        if not isinstance(doc, dict) or not truthy(doc.get("enabled")):
            return False  # `if (!flag.enabled) return false` (a non-object has no .enabled)
        allowed = doc.get("allowedUsers")
        if truthy(allowed) and user:
            if isinstance(allowed, list) and user in (u for u in allowed if isinstance(u, str)):
                return True
            if isinstance(allowed, str) and user in allowed:  # String.prototype.includes
                return True
            if not isinstance(allowed, list | str):
                return False  # `.includes` is not a function: the Worker throws; off here
        if "percentage" in doc and user:  # `!== undefined`: null counts (as 0)
            return seed_bucket(user, self.name) < to_number(doc["percentage"])  # NaN: False
        return True

    def as_json(self) -> Any:
        return self.doc

    @classmethod
    def from_json(cls, doc: Any) -> Flag:
        raise TypeError("a WorkerFlag's name is its key: use WorkerFlag(name, doc)")

    def __repr__(self) -> str:
        return f"<WorkerFlag {self.name!r} {self.doc!r}>"
