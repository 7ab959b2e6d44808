"""A child process for the process tests: it opens the SQLite file itself (sync API) and
reports on stdout, one line per acknowledged operation, flushed before it goes on.

    child.py write PATH NAMESPACE_ID PREFIX COUNT [--large-every N] [--incr KEY] [--wait]
    child.py read PATH NAMESPACE_ID KEY

COUNT -1 writes until killed. `--wait` waits for a line on stdin before writing, so that two
children start writing at the same moment.
"""

from __future__ import annotations

import argparse
import json
import sys

import edgekv

LARGE = 1 << 20  # a large value goes through the blob path


def value_for(key: str, large: bool) -> bytes:
    """The value written for a key, so the parent can check it without being told."""
    unit = f"value of {key};".encode()
    return unit * (LARGE // len(unit) + 1) if large else unit


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["write", "read"])
    parser.add_argument("path")
    parser.add_argument("namespace_id")
    parser.add_argument("key")
    parser.add_argument("count", nargs="?", type=int, default=1)
    parser.add_argument("--large-every", type=int, default=0)
    parser.add_argument("--incr", default=None)
    parser.add_argument("--wait", action="store_true")
    args = parser.parse_args(argv)

    with edgekv.KV(edgekv.SQLiteStore(args.path)) as kv:
        ns = kv.namespace(args.namespace_id)
        if args.mode == "read":
            got = ns.get_with_metadata(args.key, "bytes")
            value = None if got.value is None else got.value.decode()
            print(json.dumps({"value": value, "version": got.version}), flush=True)
            return 0
        if args.wait:
            sys.stdin.readline()
        i = 0
        while args.count < 0 or i < args.count:
            key = f"{args.key}{i:06}"
            large = bool(args.large_every) and i % args.large_every == 0
            version = ns.put(key, value_for(key, large), metadata={"i": i})
            print(f"put {key} {version}", flush=True)
            if args.incr:
                print(f"incr {ns.incr(args.incr)}", flush=True)
            i += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
