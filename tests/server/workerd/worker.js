// Test driver Worker: makes any KV binding call and reports what the Worker sees.
//
// POST /call {"binding"?: "KV", "method": "get"|"getWithMetadata"|"put"|"delete"|"list",
//             "args": [...], "valueB64"?: "...", "fill"?: N, "stream"?: true}
//   (put: valueB64 replaces args[1] with bytes, fill with N bytes "x", stream sends it chunked)
//   -> {"ok": true, "result": ...}  (ArrayBuffer as {"b64"}, streams as {"streamText"}, Maps as objects)
//   -> {"ok": false, "name": "Error", "error": "KV PUT failed: 413 ..."}
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
  if (v instanceof Map) {
    const out = {};
    for (const [k, x] of v) out[k] = await encodeResult(x);
    return out;
  }
  if (v && typeof v === "object" && "value" in v) return { ...v, value: await encodeResult(v.value) };
  return v === undefined ? null : v;
}

async function call(env, req) {
  const kv = env[req.binding || "KV"];
  const args = req.args || [];
  if (req.method === "put") {
    let value = args[1];
    if (req.valueB64 !== undefined) value = b64ToBytes(req.valueB64);
    if (req.fill !== undefined) value = new Uint8Array(req.fill).fill(120);
    if (req.stream) value = unknownLengthStream(typeof value === "string" ? enc.encode(value) : value);
    args[1] = value;
  }
  const fn = kv[req.method];
  if (typeof fn !== "function") throw new TypeError("no such KV method: " + req.method);
  return encodeResult(await fn.apply(kv, args));
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
    return new Response("not found", { status: 404 });
  },
};
