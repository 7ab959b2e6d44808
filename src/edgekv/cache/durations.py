"""Durations as people write them in config files: `90`, `"90s"`, `"10m"`, `"1h30m"`, `"250ms"`."""

from __future__ import annotations

import math
import re

from edgekv import errors

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

Duration = int | float | str


def seconds(value: Duration | None, what: str = "duration") -> float | None:
    """Seconds in a duration; None stays None (no limit). Refuses negatives and nonsense."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.BadRequest(f"Invalid {what} of {value!r}: use seconds or a string like '10m'.")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            result = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise errors.BadRequest(
                    f"Invalid {what} of {value!r}: use seconds or a string like '90s', '10m', "
                    "'1h30m'."
                ) from None
            result = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise errors.BadRequest(f"Invalid {what} of {value!r}: use seconds or a string like '10m'.")
    if not math.isfinite(result) or result < 0:
        raise errors.BadRequest(f"Invalid {what} of {value!r}: it must be a finite, positive time.")
    return result
