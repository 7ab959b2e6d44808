"""Cloudflare's Workers KV prices and plan limits: one dated list, overridable.

From Cloudflare's Workers KV pricing page (developers.cloudflare.com/kv/platform/pricing),
as published on PRICES_AS_OF. The Workers Paid plan includes 10 million reads, 1 million
writes, deletes and lists each per month, and 1 GB of storage; beyond that, $0.50 per million
reads, $5.00 per million writes, deletes and lists each, $0.50 per GB-month. The Free plan
allows 100,000 reads and 1,000 writes, deletes and lists each per day (reset at 00:00 UTC) and
1 GB of storage. The Workers Paid plan's $5 monthly subscription is not part of KV's cost.

Another price list (a newer one, a negotiated one) comes from a TOML or JSON file whose keys
are the field names of `Prices` (`load_prices`), or from `name=value` overrides.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekv import errors

PRICES_AS_OF = "2026-12-03"


@dataclass(frozen=True, slots=True)
class Prices:
    as_of: str = PRICES_AS_OF
    currency: str = "USD"
    # Workers Paid: per million operations beyond the monthly allowance
    read_per_million: float = 0.50
    write_per_million: float = 5.00
    delete_per_million: float = 5.00
    list_per_million: float = 5.00
    storage_per_gb_month: float = 0.50
    included_reads: int = 10_000_000
    included_writes: int = 1_000_000
    included_deletes: int = 1_000_000
    included_lists: int = 1_000_000
    included_storage_gb: float = 1.0
    # Workers Free: per day (UTC), and stored at any time
    free_daily_reads: int = 100_000
    free_daily_writes: int = 1_000
    free_daily_deletes: int = 1_000
    free_daily_lists: int = 1_000
    free_storage_gb: float = 1.0
    bytes_per_gb: int = 1 << 30


CLOUDFLARE_PRICES = Prices()


def with_overrides(prices: Prices, values: dict[str, Any]) -> Prices:
    """The price list with some fields replaced; BadRequest naming an unknown or bad one."""
    fields = {f.name: f for f in dataclasses.fields(Prices)}
    changed: dict[str, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            raise errors.BadRequest(f"Unknown price {name!r}; known: {', '.join(sorted(fields))}.")
        kind = type(getattr(prices, name))
        try:
            changed[name] = value if kind is str else kind(value)
        except (TypeError, ValueError):
            raise errors.BadRequest(f"Price {name!r} must be a number, not {value!r}.") from None
    return dataclasses.replace(prices, **changed)


def load_prices(path: str | Path, base: Prices = CLOUDFLARE_PRICES) -> Prices:
    """A price list from a TOML file (`.toml`) or a JSON object, over `base`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:
        raise errors.BadRequest(f"Cannot read the price list {path}: {e}") from None
    if not isinstance(data, dict):
        raise errors.BadRequest(f"The price list {path} must be an object of prices.")
    return with_overrides(base, data)
