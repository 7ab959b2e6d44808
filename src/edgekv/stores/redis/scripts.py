"""Key names and Lua scripts of the Redis store, I/O-free.

Layout (P is the URL's prefix, b a bucket number, N a namespace id):
- `{P:b}:e:N:<key>`  hash of one entry: v value | b name of its blob key, m metadata,
                     x expiration, n version stamp (microseconds, see below), z the value's
                     size in bytes, t its last write (epoch seconds)
- `{P:b}:i:N`        sorted set of the bucket's keys of namespace N, all score 0: ZRANGEBYLEX
                     walks them in byte order
- `{P:b}:f`          stream: the bucket's change feed; `{P:b}:s` hash of its last stamp (s)
                     and the newest id trimmed from it for retention (t)
- `{P:b}:d`          set of deleted namespace ids: a write to one of them is refused
- `{P:b}:blob:<id>`  string: a value of 1 MiB or more, appended in chunks, read by GETRANGE
- `{P:b}:u:N`        hash: the keys (k) and bytes (b) namespace N holds in the bucket, kept by
                     every write script (running totals: namespace_usage reads 2 fields a bucket)
- `{P:b}:x:N`        sorted set of N's entries with an expiration, as `<size>:<key>` scored by
                     when Redis reclaims them (expiration + grace): FOLD takes those past it out
                     of the totals, since Redis expires an entry without running a script
- `{P}:ns`, `{P}:titles`, `{P}:meta`: the namespace registry; `{P}:gone` set of deleted
                     namespace ids, so a chosen id is never given to a new namespace

A key's bucket is a stable hash of the key, so one namespace spreads over every bucket and a
Redis Cluster puts buckets (hash tags) on different masters. Everything a write touches shares
its bucket's hash tag, so one script updates value, index and feed atomically, in a cluster too.

Versions: each feed entry gets an explicit stream id `<stamp>-0`, where the stamp is the
master's clock in microseconds, forced above the bucket's previous stamp. The version of a
write is `stamp * 64 + bucket`: unique in the store, strictly increasing per key, and ordered
across buckets as the masters' clocks are. A feed position is the last id read per bucket.
"""

from __future__ import annotations

import zlib

import msgpack  # type: ignore[import-untyped]

MAX_BUCKETS = 64
BUCKET_BITS = 6


def bucket_of(key: str, buckets: int) -> int:
    return zlib.crc32(key.encode()) % buckets


def version_of(stamp: int, bucket: int) -> int:
    return (stamp << BUCKET_BITS) | bucket


def stamp_of(version: int) -> tuple[int, int]:
    """(stamp, bucket) of a version."""
    return version >> BUCKET_BITS, version & (MAX_BUCKETS - 1)


class Keys:
    def __init__(self, prefix: str) -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("a Redis key prefix may not contain { or }")
        self.prefix = prefix
        tag = "{" + prefix + "}"
        self.namespaces = f"{tag}:ns"
        self.titles = f"{tag}:titles"
        self.meta = f"{tag}:meta"
        self.gone = f"{tag}:gone"
        self.channel = f"{prefix}:feed"
        # Every read and write names keys of its bucket: the tags are made once.
        self._tags = ["{" + f"{prefix}:{b}" + "}" for b in range(MAX_BUCKETS)]

    def tag(self, bucket: int) -> str:
        return self._tags[bucket]

    def entry_prefix(self, bucket: int, nsid: str) -> str:
        return f"{self.tag(bucket)}:e:{nsid}:"

    def entry(self, bucket: int, nsid: str, key: str) -> str:
        return f"{self._tags[bucket]}:e:{nsid}:{key}"

    def index(self, bucket: int, nsid: str) -> str:
        return f"{self.tag(bucket)}:i:{nsid}"

    def feed(self, bucket: int) -> str:
        return f"{self.tag(bucket)}:f"

    def stamp(self, bucket: int) -> str:
        return f"{self.tag(bucket)}:s"

    def deleted(self, bucket: int) -> str:
        return f"{self.tag(bucket)}:d"

    def blob(self, bucket: int, blob_id: str) -> str:
        return f"{self.tag(bucket)}:blob:{blob_id}"

    def usage(self, bucket: int, nsid: str) -> str:
        return f"{self.tag(bucket)}:u:{nsid}"

    def expiring(self, bucket: int, nsid: str) -> str:
        return f"{self.tag(bucket)}:x:{nsid}"

    def bucket_keys(self, bucket: int, nsid: str) -> list[str]:
        """KEYS[1..6] of every bucket write script."""
        return [
            self.index(bucket, nsid),
            self.feed(bucket),
            self.stamp(bucket),
            self.deleted(bucket),
            self.usage(bucket, nsid),
            self.expiring(bucket, nsid),
        ]


# Scripts that run over several buckets of one node (a "unit" each). Redis Cluster routes and
# checks only a script's declared KEYS, which must share a slot: such a script declares its
# first unit's keys and finds every unit's keys in its arguments, which Redis 7 allows for keys
# on the node that runs it (allow-cross-slot-keys). The units come framed in one argument (see
# `frame`): per unit, its number of keys, the keys, its number of arguments, the arguments.
# A script reads from every unit before it writes to any: if a unit's bucket is no longer on
# this node (a resharding), that read fails the script with Redis's NOT_HERE error, and
# nothing was written. (A pcall probe per unit cost a third of a script call.)
MULTI_BUCKET = """#!lua flags=allow-cross-slot-keys
local function units(framed)
    local f, out, a = cmsgpack.unpack(framed), {}, 1
    while a <= #f do
        local nkeys, keys = tonumber(f[a]), {}
        for i = 1, nkeys do keys[i] = f[a + i] end
        a = a + nkeys + 1
        out[#out + 1] = {keys = keys, f = f, at = a + 1, n = tonumber(f[a])}
        a = a + out[#out].n + 1
    end
    return out
end
"""


def frame(fields: list[bytes | str | int]) -> bytes:
    """Fields as one MessagePack array, which a script unpacks in C (cmsgpack): redis-py's
    async client packs a command's arguments one by one in Python (300 us for 100), and
    splitting a string in Lua costs ~0.5 us a field."""
    return msgpack.packb(fields, use_bin_type=False)  # type: ignore[no-any-return,unused-ignore]


NOT_HERE = "non local key"  # Redis: "Script attempted to access a non local key in a cluster node"

# Shared by the write scripts. ARGV[1] now (the store's clock), [2] feed retention in
# microseconds, [3] grace seconds added to server-side expiry, [4] pub/sub channel, [5] the
# writing client's origin, which a key's feed entry carries (see FEED_READ). A bucket
# is six keys: the namespace's index, the feed, the stamp hash, the deleted set, the
# namespace's totals and its expiring entries. A script ends its writes with `finish()`, which
# saves each bucket's last stamp and adds what the script changed to the totals.
#
# Each redis.call costs a script about 1.5 us besides the command's own work, so a bucket's
# state is read once and written once per script, and a put overwriting a plain value is
# three calls (look, write, feed entry).
_PRELUDE = """
local now, retention, grace, channel, origin = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4], ARGV[5]
local function fmt(n) return string.format('%.0f', n) end
local written = fmt(math.floor(now))
-- Per bucket, however many units (namespaces) of a script name it: its feed, stamp hash, last
-- stamp drawn and the stamp of its feed's oldest entry.
local feeds, touched = {}, {}
local function bucket(keys)
    local state = feeds[keys[2]]
    if not state then
        state = {feed = keys[2], stamp = keys[3]}
        feeds[keys[2]] = state
    end
    return {index = keys[1], deleted = keys[4], state = state, usage = keys[5],
        expiring = keys[6]}
end
-- The totals: what this script added to each namespace's keys and bytes, written by finish().
local deltas, delta_keys = {}, {}
local function adjust(b, dk, db)
    local d = deltas[b.usage]
    if not d then
        d = {0, 0}
        deltas[b.usage] = d
        delta_keys[#delta_keys + 1] = b.usage
    end
    d[1], d[2] = d[1] + dk, d[2] + db
end
local function member(size, key) return fmt(size) .. ':' .. key end
-- Takes an entry (its stored size z and expiration x) out of the totals, if it is in them: an
-- entry written before sizes were kept has none (the upgrade counts it), and an expiring one
-- that FOLD took out already is no longer in the expiring set.
local function uncount(b, key, z, x)
    if not z then return end
    local size = tonumber(z)
    if x and redis.call('ZREM', b.expiring, member(size, key)) == 0 then return end
    adjust(b, -1, -size)
end
local function count(b, key, size, x)
    adjust(b, 1, size)
    if x and x ~= '' then redis.call('ZADD', b.expiring, tonumber(x) + grace, member(size, key)) end
end
local function gone(b, nsid) return redis.call('SISMEMBER', b.deleted, nsid) == 1 end
-- clock: the master's, read once per script; drawn: the last stamp this script took in any
-- bucket, so its writes are ordered as it made them across buckets too.
-- published: a waiter was signalled (or, where the client publishes, is to be: WRITE).
local published, clock, drawn, client_publishes = false, nil, 0, false
local function first_stamp(feed)
    local e = redis.call('XRANGE', feed, '-', '+', 'COUNT', 1)[1]
    return e and tonumber(string.match(e[1], '^%d+'))
end
-- The next stamp of a bucket: the master's clock in microseconds (read once per script),
-- above the bucket's last stamp. The first stamp a script takes in a bucket also applies
-- retention: entries older than the horizon go, and the newest of them is remembered in
-- field t of the stamp hash, so a reader whose position is older knows it missed changes.
-- The oldest entry's stamp is kept in field o, so that takes no look at the stream until
-- an entry is due (XREVRANGE from a horizon older than every entry walks the whole stream).
local function next_stamp(s)
    if s.last then
        s.last = math.max(s.last, drawn) + 1
        drawn = s.last
        return s.last
    end
    if not clock then
        local t = redis.call('TIME')
        clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
    end
    local h = redis.call('HMGET', s.stamp, 's', 'o', 'w')
    local stamp = math.max(clock, tonumber(h[1] or '0') + 1, drawn + 1)
    s.last, drawn, s.watched = stamp, stamp, h[3]
    touched[#touched + 1] = s
    local oldest = tonumber(h[2]) or first_stamp(s.feed) or stamp
    local horizon = stamp - retention
    if oldest < horizon then
        local bound = fmt(horizon) .. '-0'
        local old = redis.call('XREVRANGE', s.feed, '(' .. bound, '-', 'COUNT', 1)[1]
        if old then
            redis.call('HSET', s.stamp, 't', old[1])
            redis.call('XTRIM', s.feed, 'MINID', bound)
        end
        oldest = first_stamp(s.feed) or stamp
    end
    s.oldest = oldest
    return stamp
end
local function finish()
    for _, s in ipairs(touched) do
        redis.call('HSET', s.stamp, 's', fmt(s.last), 'o', fmt(s.oldest))
        if s.watched then redis.call('HDEL', s.stamp, 'w') end
    end
    touched = {}
    for _, name in ipairs(delta_keys) do
        local d = deltas[name]
        if d[1] ~= 0 then redis.call('HINCRBY', name, 'k', d[1]) end
        if d[2] ~= 0 then redis.call('HINCRBY', name, 'b', d[2]) end
    end
    deltas, delta_keys = {}, {}
end
-- Appends a change to the bucket's feed; its stamp as text (the entry's version).
local function feed(b, nsid, key)
    local stamp = fmt(next_stamp(b.state))
    if key then
        redis.call('XADD', b.state.feed, stamp .. '-0', 'ns', nsid, 'k', key, 'o', origin)
    else
        redis.call('XADD', b.state.feed, stamp .. '-0', 'ns', nsid)
    end
    -- Signalled only if a reader waits (field w, see FEED_READ): under a write load readers
    -- read on without waiting, and a publish per script cost each master (a cluster sends
    -- every message to every node) more than the script's writes.
    if b.state.watched and not published then
        if not client_publishes then redis.call('PUBLISH', channel, '') end
        published = true
    end
    return stamp
end
local function expired(x) return x and tonumber(x) <= now end
-- An overwritten blob lives on for a minute, so a reader streaming it can finish.
local function retire_blob(entry)
    local old = redis.call('HGET', entry, 'b')
    if old then redis.call('PEXPIRE', old, 60000) end
end
local function store(b, nsid, entry, key, value, is_blob, meta, exp)
    local old = redis.call('HMGET', entry, 'n', 'b', 'm', 'x', 'z')
    if old[2] then redis.call('PEXPIRE', old[2], 60000) end
    if old[1] then uncount(b, key, old[5], old[4]) end
    -- A plain value over a plain value is written over in place; anything else (a blob,
    -- metadata or an expiration before, a blob now) starts the entry afresh.
    if old[2] or old[3] or old[4] or (is_blob and old[1]) then redis.call('DEL', entry) end
    local stamp = feed(b, nsid, key)
    local size
    if is_blob then
        size = redis.call('STRLEN', value)
        redis.call('HSET', entry, 'b', value, 'n', stamp, 'z', size, 't', written)
    else
        size = #value
        redis.call('HSET', entry, 'v', value, 'n', stamp, 'z', size, 't', written)
    end
    count(b, key, size, exp)
    if meta ~= '' then redis.call('HSET', entry, 'm', meta) end
    if exp ~= '' then
        redis.call('HSET', entry, 'x', exp)
        -- Reads filter on the store's clock; this only reclaims memory, a little later.
        local ttl = math.max(1, math.ceil(tonumber(exp) - now + grace))
        redis.call('EXPIRE', entry, ttl)
        if is_blob then redis.call('EXPIRE', value, ttl) end
    elseif is_blob then
        redis.call('PERSIST', value)
    end
    -- An entry that was there is in the index already (both go together, and LIST prunes
    -- members whose entry Redis expired).
    if not old[1] then redis.call('ZADD', b.index, 0, key) end
    return stamp
end
"""

# Every put, plain or conditional, one or many: the puts that arrive together at one node are
# one script (see AsyncRedisStore.put). A unit is one namespace in one bucket: the bucket's four
# keys; as arguments its namespace id, then per entry its key name and ENTRY_ARGS fields: key,
# mode ('', 'absent', 'version'), expected stamp, value or blob key, '1' if blob, metadata or
# '', expiration or ''. Returns per unit 0 if the namespace is deleted, else each entry's stamp
# (false: its condition failed); then 1 if a waiter is to be signalled. The client publishes
# that signal on the node its waiters subscribe on: a publish here would reach them over the
# cluster bus, which now and then takes 40 ms (Redis 7.0).
ENTRY_ARGS = 7
WRITE = (
    MULTI_BUCKET
    + _PRELUDE
    + """
client_publishes = true
local todo = units(ARGV[6])
local alive = {}
for i, unit in ipairs(todo) do  -- every unit read before any is written (MULTI_BUCKET)
    alive[i] = not gone(bucket(unit.keys), unit.f[unit.at])
end
local out = {}
for i, unit in ipairs(todo) do
    local f = unit.f
    local b, nsid = bucket(unit.keys), f[unit.at]
    if not alive[i] then
        out[#out + 1] = 0
    else
        local stamps = {}
        for e = unit.at + 1, unit.at + unit.n - 1, 8 do
            local entry, key, mode, is_blob = f[e], f[e + 1], f[e + 2], f[e + 5] == '1'
            local ok = true
            if mode ~= '' then
                local h = redis.call('HMGET', entry, 'n', 'x')
                local live = h[1] and not expired(h[2])
                ok = not ((mode == 'absent' and live)
                    or (mode == 'version' and (not live or h[1] ~= f[e + 3])))
            end
            if ok then
                stamps[#stamps + 1] = store(b, nsid, entry, key, f[e + 4], is_blob,
                    f[e + 6], f[e + 7])
            else
                if is_blob then redis.call('DEL', f[e + 4]) end
                stamps[#stamps + 1] = false
            end
        end
        out[#out + 1] = stamps
    end
end
finish()
out[#out + 1] = published and 1 or 0
return out
"""
)

# KEYS[1..6] a bucket, KEYS[7..] entries; ARGV[6] namespace id, ARGV[7..] the entries' keys.
# A feed entry for each key that was there.
DELETE_MANY = (
    _PRELUDE
    + """
local b, nsid = bucket(KEYS), ARGV[6]
if gone(b, nsid) then return redis.error_reply('EDGEKV_NAMESPACE_GONE') end
for i = 7, #KEYS do
    local key = ARGV[i]
    local removed = redis.call('ZREM', b.index, key)
    local old = redis.call('HMGET', KEYS[i], 'n', 'x', 'z')
    if old[1] or removed == 1 then
        if old[1] then uncount(b, key, old[3], old[2]) end
        retire_blob(KEYS[i])
        redis.call('DEL', KEYS[i])
        feed(b, nsid, key)
    end
end
finish()
return 1
"""
)

# KEYS[1..6] a bucket, KEYS[7] entry; ARGV[6] namespace id, [7] key, [8] by, [9] expiration
# or ''. HINCRBY keeps Redis's own 64-bit arithmetic and refuses what is not the canonical
# decimal text of a 64-bit integer.
INCR = (
    _PRELUDE
    + """
local b, nsid = bucket(KEYS), ARGV[6]
if gone(b, nsid) then return redis.error_reply('EDGEKV_NAMESPACE_GONE') end
local entry, key, by, exp = KEYS[7], ARGV[7], ARGV[8], ARGV[9]
local f = redis.call('HMGET', entry, 'v', 'b', 'x', 'z')
if (not f[1] and not f[2]) or expired(f[3]) then
    store(b, nsid, entry, key, by, false, '', exp)
    finish()
    return by
end
if f[2] then return redis.error_reply('EDGEKV_NOT_AN_INTEGER') end
local done = redis.pcall('HINCRBY', entry, 'v', by)
if type(done) == 'table' and done.err then return redis.error_reply('EDGEKV_NOT_AN_INTEGER') end
local stamp = feed(b, nsid, key)
local value = redis.call('HGET', entry, 'v')
uncount(b, key, f[4], f[3])
redis.call('HSET', entry, 'n', stamp, 'z', #value, 't', written)
if exp ~= '' then
    redis.call('HSET', entry, 'x', exp)
    redis.call('EXPIRE', entry, math.max(1, math.ceil(tonumber(exp) - now + grace)))
end
count(b, key, #value, exp ~= '' and exp or f[3])
finish()
redis.call('ZADD', b.index, 0, key)
return value
"""
)

# KEYS[1] index; ARGV[1] lower bound, [2] upper bound (ZRANGEBYLEX syntax), [3] how many live
# keys are wanted, [4] now, [5] entry key prefix, [6] most members to look at.
# Returns {exhausted, last member looked at, key1, exp1, meta1, size1, written1, key2, ...};
# members whose entry is gone (expired and reclaimed by Redis) are pruned from the index on
# the way.
LIST = """
local lo, hi, want, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local prefix, cap = ARGV[5], tonumber(ARGV[6])
local out, found, seen, last, exhausted = {}, 0, 0, '', 0
while found < want and seen < cap do
    local batch = redis.call('ZRANGEBYLEX', KEYS[1], lo, hi, 'LIMIT', 0, 200)
    if #batch == 0 then exhausted = 1 break end
    for _, member in ipairs(batch) do
        seen = seen + 1
        last = member
        local f = redis.call('HMGET', prefix .. member, 'n', 'x', 'm', 'z', 't')
        if not f[1] then
            redis.call('ZREM', KEYS[1], member)
        elseif not (f[2] and tonumber(f[2]) <= now) then
            out[#out + 1] = member
            out[#out + 1] = f[2] or ''
            out[#out + 1] = f[3] or ''
            out[#out + 1] = f[4] or ''
            out[#out + 1] = f[5] or ''
            found = found + 1
            if found >= want then break end
        end
    end
    lo = '(' .. last
    if #batch < 200 and found < want then exhausted = 1 break end
end
local head = {exhausted, last}
for _, v in ipairs(out) do head[#head + 1] = v end
return head
"""

# KEYS[1] index, KEYS[2] deleted set, KEYS[3] totals, KEYS[4] expiring entries; ARGV[1]
# namespace id, ARGV[2] entry key prefix. Deletes up to 500 of a deleted namespace's entries
# per call; returns how many are left.
DROP_NAMESPACE = """
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
local members = redis.call('ZRANGE', KEYS[1], 0, 499)
for _, member in ipairs(members) do
    local entry = ARGV[2] .. member
    local blob = redis.call('HGET', entry, 'b')
    if blob then redis.call('DEL', blob) end
    redis.call('DEL', entry)
end
if #members > 0 then redis.call('ZREM', KEYS[1], unpack(members)) end
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1] totals, KEYS[2] expiring entries of a namespace in one bucket; ARGV[1] now, [2] most
# entries to take. Takes entries Redis has reclaimed (or will, their time is past) out of the
# totals; returns {keys, bytes, 1 if more may be due}.
FOLD = """
local limit = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, limit)
if #due > 0 then
    local db = 0
    for _, m in ipairs(due) do db = db + tonumber(string.match(m, '^(%d+):')) end
    redis.call('ZREM', KEYS[2], unpack(due))
    redis.call('HINCRBY', KEYS[1], 'k', -#due)
    redis.call('HINCRBY', KEYS[1], 'b', -db)
end
local t = redis.call('HMGET', KEYS[1], 'k', 'b')
return {tonumber(t[1] or '0'), tonumber(t[2] or '0'), #due == limit and 1 or 0}
"""

# The upgrade of a store written before sizes and totals were kept. KEYS[1] index, KEYS[2]
# totals, KEYS[3] expiring entries of a namespace in one bucket; ARGV[1] entry key prefix,
# [2] where to start (ZRANGEBYLEX syntax), [3] grace. Counts up to 500 entries that have no
# size yet (one written since has one, and is counted); returns {members seen, last member}.
COUNT_OLD = """
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, 500)
local dk, db = 0, 0
for _, key in ipairs(members) do
    local entry = ARGV[1] .. key
    local f = redis.call('HMGET', entry, 'n', 'z', 'b', 'x')
    if f[1] and not f[2] then
        local size = redis.call('HSTRLEN', entry, 'v')
        if f[3] then size = redis.call('STRLEN', f[3]) end
        redis.call('HSET', entry, 'z', size)
        dk, db = dk + 1, db + size
        if f[4] then
            redis.call('ZADD', KEYS[3], tonumber(f[4]) + tonumber(ARGV[3]),
                string.format('%d', size) .. ':' .. key)
        end
    end
end
if dk ~= 0 then
    redis.call('HINCRBY', KEYS[2], 'k', dk)
    redis.call('HINCRBY', KEYS[2], 'b', db)
end
return {#members, members[#members] or ''}
"""

# KEYS[1..6] a bucket; ARGV[6] namespace id: one feed entry with no key ("all of it").
FEED_NAMESPACE = (
    _PRELUDE
    + """
local stamp = feed(bucket(KEYS), ARGV[6], nil)
finish()
return stamp
"""
)

# Reads the feeds of several buckets of one node: a unit is a bucket's feed and stamp hash, and
# as argument the last id read from it. ARGV[1] count, ARGV[2] '1' if the reader is about to
# wait: it is subscribed to the channel, and field w of each stamp hash asks the next write
# to the bucket to publish (and clear it); ARGV[3] an origin whose changes of keys are left
# out ('': none): an edge has applied its own writes already, and under its own write load
# they are most of what it would read. Returns per unit {exists, last id, newest trimmed id,
# ids, namespaces, keys, last id read past or false, how many were left out}: the changes as
# three lists (an edge reads every change of every edge: three flat lists are the least work
# for the script and the reader); a key is nil for a change of the whole namespace.
FEED_READ = (
    MULTI_BUCKET
    + """
local count, watch, skip = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3]
local todo, out = units(ARGV[4]), {}
-- Every unit read before any is written (MULTI_BUCKET). A bucket's stamp hash holds its last
-- stamp (s) from its first write on: without it the bucket has no feed (never written, or
-- lost with its node's data), and a feed whose last stamp is not past the reader's position
-- has nothing to read.
local stamps = {}
for i, unit in ipairs(todo) do stamps[i] = redis.call('HMGET', unit.keys[2], 's', 't') end
for i, unit in ipairs(todo) do
    local feed, after, s = unit.keys[1], unit.f[unit.at], stamps[i]
    if watch then redis.call('HSET', unit.keys[2], 'w', '1') end
    if not s[1] then
        out[i] = {0, '0-0', '0-0', {}, {}, {}, false, 0}
    else
        local ids, namespaces, keys, to, m, n = {}, {}, {}, false, 0, 0
        if count > 0 and tonumber(s[1]) > tonumber(string.match(after, '^%d+')) then
            for _, item in ipairs(redis.call('XRANGE', feed, '(' .. after, '+', 'COUNT', count)) do
                local fields = item[2]  -- as `feed` adds them: ns <id>[, k <key>, o <origin>]
                n, to = n + 1, item[1]
                if fields[6] ~= skip then
                    m = m + 1
                    ids[m], namespaces[m], keys[m] = item[1], fields[2], fields[4] or false
                end
            end
        end
        out[i] = {1, s[1] .. '-0', s[2] or '0-0', ids, namespaces, keys, to, n - m}
    end
end
return out
"""
)

# KEYS[1] namespaces, KEYS[2] titles, KEYS[3] gone; ARGV[1] id, [2] title key, [3] namespace
# JSON. 1: created, 0: the title is taken, -1: the id is, -2: a deleted namespace had the id.
CREATE_NAMESPACE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return -2 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# ARGV[1] id, [2] old title key, [3] new title key, [4] new JSON. 0: no such namespace,
# -1: the title is taken.
RENAME_NAMESPACE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= ARGV[3] then
    if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return -1 end
    redis.call('HDEL', KEYS[2], ARGV[2])
    redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""

# KEYS[3] gone; ARGV[1] id, [2] title key.
DELETE_NAMESPACE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""
