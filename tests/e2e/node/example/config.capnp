# workerd config: one Worker ("main") with a KV binding `KV` served by an external HTTP
# service ("kv") — i.e. edgekv's workerd-protocol endpoint.
#
# Ports: the addresses below are defaults. Tests should NOT edit this file; override at launch:
#   npx workerd serve config.capnp \
#       --socket-addr http=127.0.0.1:<WORKER_PORT> \
#       --external-addr kv=127.0.0.1:<EDGEKV_PORT>
# (--socket-addr http=127.0.0.1:0 plus --control-fd <fd> makes workerd pick a free port and
#  report it as a JSON line {"event":"listen","socket":"http","port":N} on that fd.)
# If a test prefers plain text templating instead, replace the literal strings
# "127.0.0.1:8787" / "127.0.0.1:8788" / "ns-one" / "test-token".
#
# Nothing in workerd's KV requests names the namespace; injectRequestHeaders below adds
# a header on every request to the "kv" service, which edgekv can use to pick the namespace
# (and an auth token). Header names here are only a suggestion.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "kv", external = (
      address = "127.0.0.1:8788",
      http = (injectRequestHeaders = [
        (name = "X-EdgeKV-Namespace", value = "ns-one"),
        (name = "Authorization", value = "Bearer test-token"),
      ]),
    )),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2025-06-01",
  bindings = [ (name = "KV", kvNamespace = "kv") ],
);
