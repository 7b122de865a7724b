-- pushwire's history read (docs/redis-design.md, "Reading a stream").
--
-- A stream's state and its newest messages after a cursor, atomically: the epoch, the
-- last id and the entries come from one point in the order of every publish, so an entry
-- can never be taken for a message of another epoch (a FLUSHALL and a publish between two
-- separate reads would do just that).
--
--   KEYS[1]  P{name}:meta  as in publish.lua
--   KEYS[2]  P{name}:log   as in publish.lua
--   ARGV[1]  after         the cursor: entries with ids above it are read
--   ARGV[2]  count         at most this many, the newest
--   ARGV[3]  candidate     the epoch, if this read begins the stream (11 characters of
--                          the URL-safe base64 alphabet, fresh from the node)
--   ARGV[4]  empty_ttl     milliseconds an empty stream begun by a read is kept
--
-- Returns {epoch, last, entries}: entries as XREVRANGE gives them, newest first,
-- [[0-N, [k, kind, d, data]], ...].
--
-- A read of a stream that does not exist begins it, so that every node that reads it
-- agrees on its epoch before its first message: a subscriber on one node and a publisher
-- on another then share one stream, and nobody is told of a reset that is not one. The
-- stream begun so expires after empty_ttl unless a publish comes (publish.lua PERSISTs
-- it), so that reads of names nobody publishes to do not fill Redis; each read of it
-- while empty starts the time again.

local meta, log = KEYS[1], KEYS[2]
local after, count, candidate = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local empty_ttl = tonumber(ARGV[4])

if not after or after < 0 or after % 1 ~= 0 then
  return redis.error_reply('ERR pushwire read: after must be a non-negative integer')
end
if not count or count < 1 or count % 1 ~= 0 then
  return redis.error_reply('ERR pushwire read: count must be an integer of at least 1')
end
if #candidate ~= 11 or not string.find(candidate, '^[%w_%-]+$') then
  return redis.error_reply('ERR pushwire read: the candidate epoch must be 11 URL-safe base64 characters')
end
if not empty_ttl or empty_ttl < 1 or empty_ttl % 1 ~= 0 then
  return redis.error_reply('ERR pushwire read: empty_ttl must be an integer of at least 1')
end

local state = redis.call('HMGET', meta, 'epoch', 'last')
local epoch, last = state[1], state[2]
if not epoch then
  epoch, last = candidate, '0'
  redis.call('HSET', meta, 'epoch', epoch, 'last', 0, 'bytes', 0)
  redis.call('DEL', log)
end
if last == '0' then
  redis.call('PEXPIRE', meta, empty_ttl)
end

-- Entry ids are message ids (publish.lua): the entries after the cursor begin at
-- 0-(after+1). Written with %d, as there.
local from = '0-' .. string.format('%d', after + 1)
local entries = redis.call('XREVRANGE', log, '+', from, 'COUNT', count)
return { epoch, tonumber(last), entries }
