"""edgekv's pytest plugin: Workers KV for tests, as Miniflare gives Workers developers.

Installed with edgekv (a `pytest11` entry point), it gives every test:

- `edgekv_namespace` / `edgekv_async_namespace`: a namespace of its own, over `memory://` (a
  new store per test) or the store `--edgekv-store URL` names (a new namespace per test);
- `edgekv_kv`, `edgekv_store`, `edgekv_edge_kv` (an edge tier that answers from memory until
  `cache_ttl` passes) and their async forms;
- `edgekv_clock`: the time those read, moved by the test (`edgekv_clock.advance(60)`);
- `edgekv_server`: a running `edgekv serve` (REST API and workerd protocol) with a token;
  `Workerd` runs a workerd config whose KV bindings it serves.

See docs/testing.md and examples/test_example.py.
"""

from edgekv.testing.clock import Clock
from edgekv.testing.plugin import *  # noqa: F403  # the hooks and fixtures pytest looks up here
from edgekv.testing.plugin import __all__ as _plugin
from edgekv.testing.server import EdgeKVServer
from edgekv.testing.workerd import Workerd

__all__ = ["Clock", "EdgeKVServer", "Workerd", *_plugin]
