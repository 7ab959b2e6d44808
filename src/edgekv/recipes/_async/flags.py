"""Feature flags kept in a namespace and evaluated from an in-memory snapshot.

A check (`flags.is_enabled("new-checkout", user_id)`) reads only memory. Every change bumps a
version counter (an atomic incr), and the snapshot is reloaded when that counter moves: at once
in the process that made the change, and within `refresh_interval` elsewhere, by a background
refresh that a check starts when the interval has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.compact import compact_json
from edgekv.concurrency import AsyncBackground
from edgekv.recipes.rollout import Flag


class AsyncFlags:
    """Flags under `prefix` in a namespace. Call `await flags.load()` once at start-up."""

    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        prefix: str = "flag:",
        refresh_interval: Duration = "5s",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.prefix = prefix
        self.refresh_interval = seconds(refresh_interval, "refresh_interval") or 0.0
        self._clock = clock
        self._flags: dict[str, Flag] = {}
        self._version: str | None = None
        self._next_check = 0.0
        self._background = AsyncBackground()

    @property
    def _version_key(self) -> str:
        return self.prefix + "!version"

    # evaluation: memory only

    def is_enabled(self, name: str, user: str | int, default: bool = False) -> bool:
        """Whether flag `name` is on for `user`; `default` for an unknown flag. No I/O."""
        if self._clock() >= self._next_check:
            self._next_check = self._clock() + self.refresh_interval
            self._background.spawn("refresh", self._refresh_quietly)
        flag = self._flags.get(name)
        if flag is None:
            return default
        return flag.check(user if type(user) is str else str(user))

    def get(self, name: str) -> Flag | None:
        return self._flags.get(name)

    def list(self) -> list[Flag]:
        """Every flag of the snapshot, by name."""
        return [self._flags[n] for n in sorted(self._flags)]

    # changes

    async def set(
        self,
        name: str,
        *,
        enabled: bool,
        rollout: float = 100.0,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        description: str = "",
    ) -> Flag:
        flag = Flag(name, enabled, rollout, allow, deny, description)
        await self.namespace.put(self.prefix + name, _dumps(flag))
        await self._changed()
        return flag

    async def delete(self, name: str) -> None:
        await self.namespace.delete(self.prefix + name)
        await self._changed()

    async def _changed(self) -> None:
        await self.namespace.incr(self._version_key)
        await self.load()

    # the snapshot

    async def load(self) -> None:
        """Reads every flag (all list pages) into a new snapshot."""
        version = await self.namespace.get(self._version_key, consistency="strong")
        names: list[str] = []
        cursor = None
        while True:
            page = await self.namespace.list(
                prefix=self.prefix, cursor=cursor, consistency="strong"
            )
            names += [k.name for k in page.keys if not k.name.startswith("!", len(self.prefix))]
            if page.list_complete:
                break
            cursor = page.cursor
        flags: dict[str, Flag] = {}
        for start in range(0, len(names), 100):
            batch = names[start : start + 100]
            docs = await self.namespace.get(batch, "json", consistency="strong")
            for doc in docs.values():
                if doc is None:
                    continue
                try:
                    flag = Flag.from_json(doc)
                except errors.BadRequest:
                    continue  # a malformed definition switches nothing on
                flags[flag.name] = flag
        self._flags = flags
        self._version = version
        self._next_check = self._clock() + self.refresh_interval

    async def refresh(self) -> bool:
        """Reloads the snapshot if the version counter moved; True when it did. One read."""
        version = await self.namespace.get(self._version_key, consistency="strong")
        if version == self._version:
            return False
        await self.load()
        return True

    async def _refresh_quietly(self) -> None:
        await self.refresh()

    async def drain(self) -> None:
        await self._background.drain()

    async def aclose(self) -> None:
        await self._background.aclose()


def _dumps(flag: Flag) -> str:
    return compact_json(flag.as_json())
