// The seeds' own Worker code (seeds 002 and 003 of the users' documents), run in workerd with
// its KV bindings served by edgekv. Each function is the seed's TypeScript with only the type
// annotations removed (and `private kv` spelled `this.kv = kv`); where a seed wrote a route,
// its body became a function taking the route's input. Nothing else is changed: these are the
// functions whose data edgekv's recipes must read and write.
//
// POST /call {"fn": "<name>", "args": [...]} -> {"ok": true, "result": ...} | {"ok": false, "error"}

// ---- seed 002: src/features.ts ---------------------------------------------------------------

export class FeatureFlags {
  constructor(kv) {
    this.kv = kv;
  }

  async isEnabled(
    flagName,
    userId
  ) {
    const data = await this.kv.get(`flag:${flagName}`);
    if (!data) return false;

    const flag = JSON.parse(data);

    // Check if globally disabled
    if (!flag.enabled) return false;

    // Check allowed users
    if (flag.allowedUsers && userId) {
      if (flag.allowedUsers.includes(userId)) return true;
    }

    // Check percentage rollout
    if (flag.percentage !== undefined && userId) {
      const hash = this.hashUserId(userId, flagName);
      return hash < flag.percentage;
    }

    return flag.enabled;
  }

  hashUserId(userId, flagName) {
    // Simple hash for consistent percentage allocation
    let hash = 0;
    const str = `${userId}:${flagName}`;
    for (let i = 0; i < str.length; i++) {
      hash = ((hash << 5) - hash) + str.charCodeAt(i);
      hash = hash & hash;
    }
    return Math.abs(hash % 100);
  }

  async setFlag(flagName, flag) {
    await this.kv.put(`flag:${flagName}`, JSON.stringify(flag));
  }

  async listFlags() {
    const { keys } = await this.kv.list({ prefix: 'flag:' });
    const flags = await Promise.all(
      keys.map(async (k) => {
        const data = await this.kv.get(k.name);
        return {
          name: k.name.replace('flag:', ''),
          flag: JSON.parse(data),
        };
      })
    );
    return flags;
  }
}

// ---- seed 002: src/sessions.ts ---------------------------------------------------------------

const SESSION_TTL = 60 * 60 * 24; // 24 hours

// nanoid(32), as the seed imports it from 'nanoid' (same alphabet, crypto randomness).
const urlAlphabet = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
function nanoid(size = 21) {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  let id = '';
  for (let i = 0; i < size; i++) id += urlAlphabet[bytes[i] & 63];
  return id;
}

// The body of `sessions.post('/sessions', ...)`.
async function createSession002(kv, { userId, email, roles }) {
  const sessionId = nanoid(32);
  const now = new Date();
  const expiresAt = new Date(now.getTime() + SESSION_TTL * 1000);

  const session = {
    userId,
    email,
    roles: roles || [],
    createdAt: now.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };

  await kv.put(
    `session:${sessionId}`,
    JSON.stringify(session),
    { expirationTtl: SESSION_TTL }
  );

  return {
    sessionId,
    expiresAt: session.expiresAt
  };
}

// Middleware to validate session
export async function validateSession(
  sessionId,
  kv
) {
  if (!sessionId) return null;

  const data = await kv.get(`session:${sessionId}`);
  if (!data) return null;

  const session = JSON.parse(data);

  // Check expiration
  if (new Date(session.expiresAt) < new Date()) {
    await kv.delete(`session:${sessionId}`);
    return null;
  }

  return session;
}

// ---- seed 003: Session Management ------------------------------------------------------------

async function createSession(env, userId) {
  const sessionId = crypto.randomUUID();
  const expiresAt = Date.now() + (24 * 60 * 60 * 1000);

  await env.SESSIONS.put(
    `session:${sessionId}`,
    JSON.stringify({ userId, expiresAt }),
    { expirationTtl: 86400, metadata: { createdAt: Date.now() } }
  );

  return sessionId;
}

async function getSession(env, sessionId) {
  const data = await env.SESSIONS.get(`session:${sessionId}`, "json");
  if (!data || data.expiresAt < Date.now()) return null;
  return data;
}

// ---- seed 003: Coalesce Cold Keys ------------------------------------------------------------

// The seed's "GOOD: Single coalesced object" write, for any user id and profile.
async function putProfile(env, id, profile) {
  await env.USERS.put(`user:${id}:profile`, JSON.stringify(profile));
}

// ---- seed 003: Prefix-Based Namespacing ------------------------------------------------------

const PREFIXES = {
  users: "user:",
  sessions: "session:",
  cache: "cache:",
  features: "feature:"
};

// Write with prefix
async function setUser(env, id, data) {
  await env.KV.put(`${PREFIXES.users}${id}`, JSON.stringify(data));
}

// Read with prefix
async function getUser(env, id) {
  return await env.KV.get(`${PREFIXES.users}${id}`, "json");
}

// List by prefix
async function listUserIds(env) {
  const result = await env.KV.list({ prefix: PREFIXES.users });
  return result.keys.map(k => k.name.replace(PREFIXES.users, ""));
}

// ---- seed 003: Metadata Versioning -----------------------------------------------------------

async function migrateIfNeeded(env, key) {
  const result = await env.DATA.getWithMetadata(key, "json");

  if (!result.value) return null;

  const currentVersion = result.metadata?.version || 1;
  const targetVersion = 2;

  if (currentVersion < targetVersion) {
    // Migrate data format
    const migrated = migrate(result.value, currentVersion, targetVersion);

    // Store with new version
    await env.DATA.put(key, JSON.stringify(migrated), {
      metadata: { version: targetVersion, migratedAt: Date.now() }
    });

    return migrated;
  }

  return result.value;
}

function migrate(data, from, to) {
  if (from === 1 && to === 2) {
    // V1 → V2: Rename field
    return { ...data, userName: data.name };
  }
  return data;
}

// ---- seed 003: Error Boundary Pattern --------------------------------------------------------

// Resilient get with fallback
async function resilientGet(
  env,
  key,
  fallback
) {
  try {
    const value = await env.KV.get(key, "json");
    return value ?? fallback;
  } catch (err) {
    console.error(`KV error for ${key}:`, err);
    return fallback;
  }
}

// ---- the test driver -------------------------------------------------------------------------

const calls = {
  isEnabled: (env, name, userId) => new FeatureFlags(env.CONFIG).isEnabled(name, userId),
  // Many users in one request: the seed's isEnabled, once per user.
  isEnabledMany: (env, name, users) =>
    Promise.all(users.map((u) => new FeatureFlags(env.CONFIG).isEnabled(name, u))),
  hashUserIds: (env, pairs) => pairs.map(([u, f]) => new FeatureFlags(env.CONFIG).hashUserId(u, f)),
  setFlag: (env, name, flag) => new FeatureFlags(env.CONFIG).setFlag(name, flag),
  listFlags: (env) => new FeatureFlags(env.CONFIG).listFlags(),
  createSession002: (env, body) => createSession002(env.SESSIONS, body),
  validateSession: (env, sessionId) => validateSession(sessionId, env.SESSIONS),
  createSession: (env, userId) => createSession(env, userId),
  getSession: (env, sessionId) => getSession(env, sessionId),
  putProfile: (env, id, profile) => putProfile(env, id, profile),
  setUser: (env, id, data) => setUser(env, id, data),
  getUser: (env, id) => getUser(env, id),
  listUserIds: (env) => listUserIds(env),
  migrateIfNeeded: (env, key) => migrateIfNeeded(env, key),
  resilientGet: (env, key, fallback) => resilientGet(env, key, fallback),
  // The raw stored value and metadata, to compare bytes with what Python wrote.
  raw: async (env, key) => {
    const got = await env.KV.getWithMetadata(key, "text");
    return { value: got.value, metadata: got.metadata };
  },
  put: (env, key, value, options) => env.KV.put(key, value, options),
};

export default {
  async fetch(request, env) {
    const { fn, args } = await request.json();
    try {
      const result = await calls[fn](env, ...(args || []));
      return Response.json({ ok: true, result: result === undefined ? null : result });
    } catch (e) {
      return Response.json({ ok: false, error: String(e) });
    }
  },
};
