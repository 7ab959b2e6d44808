"""The node's change log: what one worker of `edgekv serve --workers N` tells its siblings.

One shared memory file per node, made by the supervisor before it forks the workers (who
inherit it): a ring of changes (namespace, key, version) and one health slot per worker.

- A worker that wrote a key appends the change here *before* it acknowledges the write; every
  worker reads the ring's end (8 bytes of shared memory) before it answers a request, and
  applies what its siblings appended. So a write acknowledged by one worker is never answered
  from an older copy by another (read-your-writes across the node), with no round trip
  between workers: a write costs one lock and one copy, a read one 8-byte load.
- The worker that follows the central store's change feed (the leader) appends the feed's
  changes too, so the node reads the feed once, not once per worker.
- A reader that fell more than the ring's length behind cannot know what it missed: it flushes.

Writers take a POSIX record lock on the file (`lockf`: held per process, so it excludes the
workers, which share one open file, and the kernel drops it when a worker dies holding it).
The file is unlinked from the start (a memfd where the OS has one): nothing is left behind,
whatever way the node ends.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import struct
import tempfile
from dataclasses import dataclass
from typing import Any

MAGIC = b"EKVNODE1"
RING_SLOTS = 8192  # changes a worker may fall behind before it must flush
HEALTH_BYTES = 4096  # one worker's health, as JSON
_HEADER = 4096
_END = 64  # offset of the ring's end (entries appended so far), u64
_SLOT = 600
_NS_BYTES = 64
_KEY_BYTES = 512
_SLOT_HEAD = struct.Struct("<QqBBH")  # seq, version, kind, namespace length, key length

KEY, NAMESPACE, FLUSH = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Entry:
    kind: int  # KEY: one key changed; NAMESPACE: all of a namespace; FLUSH: anything may have
    namespace_id: str = ""
    key: str = ""
    version: int = 0  # the key's version after the change; 0: unknown


class NodeLog:
    """The shared file: `NodeLog.create(workers)` in the supervisor, used as is by its forks."""

    def __init__(self, fd: int, workers: int) -> None:
        self.fd = fd
        self.workers = workers
        self.size = _HEADER + workers * HEALTH_BYTES + RING_SLOTS * _SLOT
        self._map = mmap.mmap(fd, self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._ring = _HEADER + workers * HEALTH_BYTES

    @classmethod
    def create(cls, workers: int) -> NodeLog:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("edgekv-node")
        else:  # already unlinked where the OS can
            handle = tempfile.TemporaryFile()  # noqa: SIM115  # kept open as the fd below
            fd = os.dup(handle.fileno())
            handle.close()
        os.ftruncate(fd, _HEADER + workers * HEALTH_BYTES + RING_SLOTS * _SLOT)
        log = cls(fd, workers)
        log._map[0 : len(MAGIC)] = MAGIC
        return log

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)

    # the ring

    def end(self) -> int:
        """Entries appended so far: a plain load, no lock (a torn value only costs a read)."""
        return int.from_bytes(self._map[_END : _END + 8], "little")

    def append(self, entries: list[Entry]) -> int:
        """Appends entries under the writers' lock; returns the new end."""
        ring, m = self._ring, self._map
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            end = int.from_bytes(m[_END : _END + 8], "little")
            for entry in entries:
                at = ring + (end % RING_SLOTS) * _SLOT
                ns = entry.namespace_id.encode()
                key = entry.key.encode()
                kind = entry.kind
                if len(ns) > _NS_BYTES:
                    kind, ns, key = FLUSH, b"", b""  # never seen: ids are 32 characters
                elif len(key) > _KEY_BYTES:
                    kind, key = NAMESPACE, b""
                _SLOT_HEAD.pack_into(m, at, end, entry.version, kind, len(ns), len(key))
                head = at + _SLOT_HEAD.size
                m[head : head + len(ns)] = ns
                m[head + _NS_BYTES : head + _NS_BYTES + len(key)] = key
                end += 1
            m[_END : _END + 8] = end.to_bytes(8, "little")
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return end

    def read(self, since: int) -> tuple[list[Entry], int, bool]:
        """The entries after `since`, the end they reach, and whether some were lost (the
        ring wrapped past `since`: the reader must flush)."""
        ring, m = self._ring, self._map
        fcntl.lockf(self.fd, fcntl.LOCK_SH)
        try:
            end = int.from_bytes(m[_END : _END + 8], "little")
            if end - since > RING_SLOTS or since > end:
                return [], end, True
            out = []
            for seq in range(since, end):
                at = ring + (seq % RING_SLOTS) * _SLOT
                _, version, kind, ns_len, key_len = _SLOT_HEAD.unpack_from(m, at)
                head = at + _SLOT_HEAD.size
                ns = m[head : head + ns_len].decode()
                key = m[head + _NS_BYTES : head + _NS_BYTES + key_len].decode()
                out.append(Entry(kind, ns, key, version))
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return out, end, False

    # one health slot per worker

    def write_health(self, worker: int, health: dict[str, Any]) -> None:
        data = json.dumps(health, separators=(",", ":")).encode()[: HEALTH_BYTES - 4]
        at = _HEADER + worker * HEALTH_BYTES
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            self._map[at : at + 4] = len(data).to_bytes(4, "little")
            self._map[at + 4 : at + 4 + len(data)] = data
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def health(self) -> list[dict[str, Any] | None]:
        """Each worker's last health (None for a slot never written)."""
        out: list[dict[str, Any] | None] = []
        fcntl.lockf(self.fd, fcntl.LOCK_SH)
        try:
            for worker in range(self.workers):
                at = _HEADER + worker * HEALTH_BYTES
                length = int.from_bytes(self._map[at : at + 4], "little")
                raw = self._map[at + 4 : at + 4 + length]
                out.append(json.loads(raw) if length else None)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return out

    def forget_health(self, worker: int) -> None:
        at = _HEADER + worker * HEALTH_BYTES
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            self._map[at : at + 4] = b"\0\0\0\0"
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
