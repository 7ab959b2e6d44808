// Miniflare (workerd inside) serving KV reads through a Worker: the anchor of bench_server.
// usage: node server_miniflare.cjs <node_modules dir> <key> <value length>
// Prints `listening on http://127.0.0.1:PORT` once the hot key is stored; exits on SIGTERM.
"use strict";
const path = require("node:path");
const { Miniflare } = require(require.resolve("miniflare", { paths: [path.resolve(process.argv[2])] }));

const key = process.argv[3];
const length = Number(process.argv[4]);
const script = `
export default {
  async fetch(request, env) {
    return new Response(await env.KV.get(${JSON.stringify(key)}));
  },
};`;

async function main() {
  const mf = new Miniflare({
    modules: true,
    script,
    kvNamespaces: ["KV"],
    host: "127.0.0.1",
    port: 0,
  });
  const url = await mf.ready;
  const kv = await mf.getKVNamespace("KV");
  await kv.put(key, "v".repeat(length));
  process.stdout.write(`listening on ${url.origin}\n`);
  const stop = async () => {
    await mf.dispose();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
