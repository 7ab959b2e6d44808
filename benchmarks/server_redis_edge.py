"""An edge of bench_redis_lanes: `edgekv serve`'s app over a Redis store URL, served as
`edgekv serve` serves it (edgekv.server.run.serve), its store sending its scripts by the path
named: `lane` (the store as it is) or one of redis-py's public paths.

usage: python -m benchmarks.server_redis_edge STORE_URL PATH  (prints `listening on http://H:P`)
Without auth (loopback only): the figure is the edge's work per PUT, the same on both sides.
"""

from __future__ import annotations

import sys

from benchmarks.bench_redis_lanes import PATHS
from edgekv.server.app import create_app
from edgekv.server.run import serve


def main() -> None:
    url, path = sys.argv[1], sys.argv[2]
    app = create_app(url, auth=False, cache_size=64 << 20)
    nodes = PATHS[path]
    if nodes is not None:
        central = app.state.store.central  # the edge's Redis store; its lanes open lazily
        central._nodes = nodes(central.client)

    def listening(host: str, bound: int) -> None:
        print(f"listening on http://{host}:{bound}", flush=True)

    serve(app, "127.0.0.1", 0, on_listening=listening, graceful_timeout=5)


if __name__ == "__main__":
    main()
