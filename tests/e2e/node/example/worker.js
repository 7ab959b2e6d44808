// Test driver Worker: exposes the KV binding (env.KV) over HTTP so a Python test can make
// any binding call and inspect what a real Worker sees.
//
// POST /call  body: {"method": "get"|"getWithMetadata"|"put"|"delete"|"list", "args": [...],
//                    "valueB64": "..."   (put only: replaces args[1] with these bytes),
//                    "stream": true       (put only: send args[1] / valueB64 as a ReadableStream
//                                          of unknown length -> chunked request),
//                    "bulkMap": true      (get/getWithMetadata with an array of keys: Map -> object)}
//   -> 200 {"ok": true, "result": <value>}   (arrayBuffer results come back as {"b64": "..."};
//                                             stream results are read as text: {"streamText": "..."})
//   -> 200 {"ok": false, "name": "Error"|"TypeError"|..., "error": "KV PUT failed: 413 ..."}
// GET /tour  -> runs a fixed tour of every call and returns [{step, ok, result|error}]
const enc = new TextEncoder();

function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function bytesToB64(buf) {
  const u8 = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(s);
}
function unknownLengthStream(bytes) {
  const { readable, writable } = new TransformStream();
  const w = writable.getWriter();
  (async () => {
    const half = Math.floor(bytes.length / 2);
    await w.write(bytes.subarray(0, half));
    await w.write(bytes.subarray(half));
    await w.close();
  })();
  return readable;
}
async function encodeResult(v) {
  if (v instanceof ArrayBuffer) return { b64: bytesToB64(v) };
  if (v instanceof ReadableStream) return { streamText: await new Response(v).text() };
  if (v instanceof Map) return Object.fromEntries(v);
  if (v && typeof v === "object" && "value" in v && v.value instanceof ArrayBuffer)
    return { ...v, value: { b64: bytesToB64(v.value) } };
  if (v && typeof v === "object" && "value" in v && v.value instanceof ReadableStream)
    return { ...v, value: { streamText: await new Response(v.value).text() } };
  return v === undefined ? null : v;
}

async function call(env, req) {
  const args = req.args || [];
  if (req.method === "put") {
    let value = args[1];
    if (req.valueB64 !== undefined) value = b64ToBytes(req.valueB64);
    if (req.stream) value = unknownLengthStream(typeof value === "string" ? enc.encode(value) : value);
    args[1] = value;
  }
  const fn = env.KV[req.method];
  if (typeof fn !== "function") throw new TypeError("no such KV method: " + req.method);
  return encodeResult(await fn.apply(env.KV, args));
}

async function step(out, name, fn) {
  try {
    out.push({ step: name, ok: true, result: await encodeResult(await fn()) });
  } catch (e) {
    out.push({ step: name, ok: false, name: e && e.name, error: String(e && e.message) });
  }
}

async function tour(KV) {
  const out = [];
  await step(out, "put text ttl+metadata", () => KV.put("user:1", "hello", { expirationTtl: 120, metadata: { owner: "ann" } }));
  await step(out, "put ArrayBuffer", () => KV.put("bin:1", new Uint8Array([0, 1, 2, 255]).buffer));
  await step(out, "put stream", () => KV.put("stream:1", unknownLengthStream(enc.encode("part1-part2"))));
  await step(out, "put json text", () => KV.put("user:2", '{"a":1}', { expiration: Math.floor(Date.now() / 1000) + 3600 }));
  await step(out, "get text", () => KV.get("user:1"));
  await step(out, "get json", () => KV.get("user:2", "json"));
  await step(out, "get arrayBuffer", () => KV.get("bin:1", "arrayBuffer"));
  await step(out, "get stream", () => KV.get("stream:1", "stream"));
  await step(out, "get missing", () => KV.get("nope"));
  await step(out, "getWithMetadata", () => KV.getWithMetadata("user:1"));
  await step(out, "list prefix limit", () => KV.list({ prefix: "user:", limit: 1 }));
  await step(out, "list page 2", async () => {
    const p1 = await KV.list({ prefix: "user:", limit: 1 });
    return KV.list({ prefix: "user:", limit: 1, cursor: p1.cursor });
  });
  await step(out, "bulk get", () => KV.get(["user:1", "nope"]));
  await step(out, "bulk get json", () => KV.get(["user:2"], "json"));
  await step(out, "bulk getWithMetadata", () => KV.getWithMetadata(["user:1", "nope"]));
  await step(out, "delete", () => KV.delete("user:1"));
  await step(out, "get after delete", () => KV.get("user:1"));
  return out;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/call" && request.method === "POST") {
      const req = await request.json();
      try {
        return Response.json({ ok: true, result: await call(env, req) });
      } catch (e) {
        return Response.json({ ok: false, name: e && e.name, error: String(e && e.message) });
      }
    }
    if (url.pathname === "/tour") return Response.json(await tour(env.KV));
    return new Response("not found", { status: 404 });
  },
};
