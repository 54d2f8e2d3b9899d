//! Every Lua script clawshim runs on Redis, in one place. Each is one atomic operation on one
//! key (so it would also run on a cluster), takes the time from Redis (`TIME`: instances'
//! clocks may differ, the server's is the one they share), and is sent as `EVALSHA` (one round
//! trip; redis-rs loads it once on `NOSCRIPT`).

use std::sync::LazyLock;

use redis::Script;

/// GCRA (the generic cell rate algorithm, as `redis-cell`'s `CL.THROTTLE`): `KEYS[1]` holds
/// the theoretical arrival time in microseconds. `ARGV[1]`: microseconds between requests
/// (60 s / requests_per_minute); `ARGV[2]`: the burst (requests_per_minute, like the local
/// bucket's capacity). Returns 0 when admitted, else the microseconds until the next request
/// would be.
pub static RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return string.format('%d', allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return 0
",
    )
});

/// Take a lease: `KEYS[1]` is a sorted set of lease ids scored by expiry (ms). Expired
/// leases are removed first, then the lease `ARGV[1]` is added if fewer than `ARGV[2]` are
/// held, expiring in `ARGV[3]` ms. Returns 1 when taken, 0 when full. The set itself expires
/// with its last lease.
pub static LEASE_ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
",
    )
});

/// Renew lease `ARGV[1]` for `ARGV[2]` ms. A lease that is gone (it expired while Redis was
/// unreachable, or Redis restarted empty) is put back: its run is still going, so it still
/// holds a slot. Returns 1 when it was there, 0 when it was put back.
pub static LEASE_RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local added = redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if added == 1 then return 0 end
return 1
",
    )
});

/// Failed-auth check: `KEYS[1]` counts a client bucket's failures in a window that starts
/// with its first failure. Returns 0 while under `ARGV[1]`, else the window's remaining ms.
pub static FAILED_AUTH_CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left
",
    )
});

/// Failed-auth record: one more failure; the first of a window starts its `ARGV[1]` ms.
pub static FAILED_AUTH_RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
",
    )
});

/// Add tokens: `KEYS[1]` is an account's usage hash, fields `d:<day>` and `m:<month>`.
/// `ARGV[1]`, `ARGV[2]`: the current day's and month's fields; `ARGV[3]`: the tokens. Fields
/// of past periods are removed (the hash holds only the two current ones), and the hash
/// expires 40 days after its last write. Returns the month's new total.
pub static USAGE_ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[1], n)
local month = redis.call('HINCRBY', KEYS[1], ARGV[2], n)
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if field ~= ARGV[1] and field ~= ARGV[2] then redis.call('HDEL', KEYS[1], field) end
end
redis.call('EXPIRE', KEYS[1], 3456000)
return month
",
    )
});

/// Read an account's tokens: `KEYS[1]` its usage hash, `ARGV[1]`, `ARGV[2]` the day's and
/// the month's fields. Returns `{day, month}` (0 for a period without tokens).
pub static USAGE_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2])
return {tonumber(v[1] or '0'), tonumber(v[2] or '0')}
",
    )
});
