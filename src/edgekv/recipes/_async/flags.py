"""Feature flags kept in a namespace and evaluated from an in-memory snapshot.

A check (`flags.is_enabled("new-checkout", user_id)`) reads only memory. Every change bumps a
version counter (an atomic incr), and the snapshot is reloaded when that counter moves: at once
in the process that made the change, and within `refresh_interval` elsewhere, by a background
refresh that a check starts when the interval has passed.

`format="worker"` keeps flags as seed 002's Worker does (`flag:<name>` = `{"enabled",
"percentage", "allowedUsers", "metadata"}`, decided by its hash; see worker_flags.py), so a
Worker and Python agree per user. The Worker bumps no counter, so in that format a refresh
reads every flag again (one list page and one bulk read per 100 flags).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.concurrency import AsyncBackground
from edgekv.recipes.rollout import Flag
from edgekv.recipes.worker_flags import WorkerFlag
from edgekv.recipes.worker_json import stringify

FlagFormat = Literal["edgekv", "worker"]


class AsyncFlags:
    """Flags under `prefix` in a namespace. Call `await flags.load()` once at start-up."""

    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        prefix: str = "flag:",
        refresh_interval: Duration = "5s",
        format: FlagFormat = "edgekv",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if format not in ("edgekv", "worker"):
            raise errors.BadRequest(f'Unknown flag format {format!r}: use "edgekv" or "worker".')
        self.namespace = namespace
        self.format = format
        self.prefix = prefix
        self.refresh_interval = seconds(refresh_interval, "refresh_interval") or 0.0
        self._clock = clock
        self._flags: dict[str, Flag] = {}
        self._version: Any = None  # the counter's value; in the Worker's format, the documents
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
        rollout: float | None = None,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        description: str = "",
    ) -> Flag:
        """Writes a flag. In the Worker's format `rollout` is its `percentage` (left out when
        None: on for everyone), `allow` its `allowedUsers`, `description` goes in its
        `metadata`, and `deny` is refused (the Worker has no deny list)."""
        flag: Flag
        if self.format == "worker":
            if list(deny):
                raise errors.BadRequest("The Worker's flag format has no deny list.")
            metadata = {"description": description} if description else None
            flag = WorkerFlag.make(
                name, enabled=enabled, percentage=rollout, allowed_users=allow, metadata=metadata
            )
        else:
            flag = Flag(
                name, enabled, 100.0 if rollout is None else rollout, allow, deny, description
            )
        await self.namespace.put(self.prefix + name, stringify(flag.as_json()))
        await self._changed()
        return flag

    async def delete(self, name: str) -> None:
        await self.namespace.delete(self.prefix + name)
        await self._changed()

    async def _changed(self) -> None:
        if self.format == "edgekv":
            await self.namespace.incr(self._version_key)
        await self.load()

    # the snapshot

    async def load(self) -> None:
        """Reads every flag (all list pages) into a new snapshot."""
        version = None
        if self.format == "edgekv":
            version = await self.namespace.get(self._version_key, consistency="strong")
        names: list[str] = []
        cursor = None
        while True:
            page = await self.namespace.list(
                prefix=self.prefix, cursor=cursor, consistency="strong"
            )
            names += [k.name for k in page.keys if not self._bookkeeping(k.name)]
            if page.list_complete:
                break
            cursor = page.cursor
        flags: dict[str, Flag] = {}
        documents: dict[str, str] = {}
        for start in range(0, len(names), 100):
            batch = names[start : start + 100]
            # Text, parsed one by one: a value that is not JSON must not hide the others.
            for key, text in (await self.namespace.get(batch, consistency="strong")).items():
                flag = None if text is None else self._parse(key[len(self.prefix) :], text)
                if flag is not None:
                    flags[flag.name] = flag
                    documents[key] = text
        self._flags = flags
        self._version = version if self.format == "edgekv" else documents
        self._next_check = self._clock() + self.refresh_interval

    def _bookkeeping(self, key: str) -> bool:
        # edgekv's own keys under the prefix start with "!" (the counter); the Worker has none.
        return self.format == "edgekv" and key.startswith("!", len(self.prefix))

    def _parse(self, name: str, text: str) -> Flag | None:
        try:
            doc = json.loads(text)
        except ValueError:
            return None  # the Worker's JSON.parse would throw: a flag it cannot read is off
        if self.format == "worker":
            return WorkerFlag(name, doc)
        try:
            return Flag.from_json(doc)
        except errors.BadRequest:
            return None  # a malformed definition switches nothing on

    async def refresh(self) -> bool:
        """Reloads the snapshot if a flag changed; True when one did. In edgekv's format that
        is one read of the counter; in the Worker's, a read of every flag."""
        if self.format == "worker":
            before = self._version
            await self.load()
            return bool(self._version != before)
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
