-- pushwire's publish script (docs/redis-design.md, "The publish script").
--
-- One publish to one channel, atomically: Redis runs one script at a time, so the ids of a
-- channel are 1, 2, 3 ... across every node that publishes to it, with no clock involved.
-- Loaded with SCRIPT LOAD and run with EVALSHA (loaded again after a NOSCRIPT error).
--
--   KEYS[1]  P{name}:meta  hash: epoch (11 characters), last (the last id given),
--                          bytes (the data bytes retained in the log)
--   KEYS[2]  P{name}:log   stream: entry 0-N for message N, fields k (kind) and d (data)
--   ARGV[1]  data          the message, binary-safe, as published
--   ARGV[2]  kind          't' (text) or 'j' (a JSON payload)
--   ARGV[3]  max_count     messages the log keeps, at least 1
--   ARGV[4]  max_bytes     data bytes the log keeps (the newest message is kept whatever
--                          its size)
--   ARGV[5]  candidate     the epoch, if this publish begins the stream: 11 characters
--                          of the URL-safe base64 alphabet, fresh from the node
--   ARGV[6]  channel       the pub/sub channel, P{name}
--
-- Returns {id, epoch}. PUBLISHes <epoch><kind><id> <data> on the channel: 11 bytes of
-- epoch, one byte of kind, the id in decimal, one space, the data untouched.
--
-- Runs on Redis 5.0 and later (streams; HSET of several fields is 4.0). Not a shebang
-- script (Redis 7.0's "#!lua"), so that 5.0 and 6.x load it too.

local meta, log = KEYS[1], KEYS[2]
local data, kind, candidate, channel = ARGV[1], ARGV[2], ARGV[5], ARGV[6]
local max_count, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])

-- Every argument is checked before the first write: Redis does not roll a script back,
-- so an error after a write would leave an id taken and no message for it.
if kind ~= 't' and kind ~= 'j' then
  return redis.error_reply("ERR pushwire publish: kind must be 't' or 'j'")
end
if not max_count or max_count < 1 or max_count % 1 ~= 0 then
  return redis.error_reply('ERR pushwire publish: max_count must be an integer of at least 1')
end
if not max_bytes or max_bytes < 0 or max_bytes % 1 ~= 0 then
  return redis.error_reply('ERR pushwire publish: max_bytes must be a non-negative integer')
end
if #candidate ~= 11 or not string.find(candidate, '^[%w_%-]+$') then
  return redis.error_reply('ERR pushwire publish: the candidate epoch must be 11 URL-safe base64 characters')
end

-- Numbers are Lua 5.1 doubles here, and tostring() (or ..) writes one past 10^14 as
-- "1e+14": every number that goes into an entry id or a message is written with %d.
local function decimal(n)
  return string.format('%d', n)
end

-- 1. The stream's epoch. Missing means a new channel, or a Redis that lost the channel
-- (FLUSHALL, a new empty server, an evicted key, an empty stream that expired): the
-- candidate begins a new stream, and a log left from the lost one is dropped so that its
-- entries cannot mix into the new one.
local state = redis.call('HMGET', meta, 'epoch', 'last')
local epoch = state[1]
if not epoch then
  epoch = candidate
  redis.call('HSET', meta, 'epoch', epoch, 'last', 0, 'bytes', 0)
  redis.call('DEL', log)
elseif state[2] == '0' then
  -- Begun by a read (read.lua), which lets an empty stream expire: with a message in
  -- it, the stream is kept.
  redis.call('PERSIST', meta)
end

-- 2. The next id, and 3. the entry, under its explicit id 0-id: entry ids are then message
-- ids, and a history read after cursor N is XRANGE log 0-(N+1) +, with no index.
local id = redis.call('HINCRBY', meta, 'last', 1)
redis.call('XADD', log, '0-' .. decimal(id), 'k', kind, 'd', data)
local bytes = redis.call('HINCRBY', meta, 'bytes', #data)

-- 4. Trim, oldest first, while the log holds more than max_count messages or more than
-- max_bytes of data, never the newest. The work is bounded by what this publish pushes
-- out: one entry, as a rule, when the log is full.
local count = redis.call('XLEN', log)
local next_oldest = '-'
while count > 1 and (count > max_count or bytes > max_bytes) do
  -- Enough entries for the count limit at once; the byte limit may ask for more rounds.
  local want = math.min(math.max(count - max_count, 1), 100)
  local oldest = redis.call('XRANGE', log, next_oldest, '+', 'COUNT', want)
  local doomed, freed = {}, 0
  for _, entry in ipairs(oldest) do
    if count - #doomed <= 1 or (count - #doomed <= max_count and bytes - freed <= max_bytes) then
      break
    end
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'd' then
        freed = freed + #fields[i + 1]
      end
    end
    doomed[#doomed + 1] = entry[1]
  end
  if #doomed == 0 then
    break
  end
  redis.call('XDEL', log, unpack(doomed))
  count = count - #doomed
  bytes = redis.call('HINCRBY', meta, 'bytes', -freed)
  -- The entry after the last one deleted (ids are 0-N): no exclusive range, which is 6.2.
  local last_deleted = tonumber(string.sub(doomed[#doomed], 3))
  next_oldest = '0-' .. decimal(last_deleted + 1)
end
-- With only the newest left, its size is the exact count: this mends a bytes figure that
-- drifted from the log (a log deleted by hand under a kept meta), at the cost of one write.
if count == 1 and bytes ~= #data then
  redis.call('HSET', meta, 'bytes', #data)
end

-- 5. The message, for every node subscribed to the channel.
redis.call('PUBLISH', channel, epoch .. kind .. decimal(id) .. ' ' .. data)

-- 6. The id and the stream it belongs to, for the publisher.
return { id, epoch }
