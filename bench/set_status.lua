-- wrk script: POST /subscription/status/set with bodies that really change states.
--
-- Arguments (after `--`): key group mode pool prefix [stride modulus]
--   mode "email"   one email per request, from a pool of `pool` emails
--   mode "ext50"   50 external ids per request: consecutive batches from a pool of `pool` ids
--   mode "overlap" 50 external ids drawn at random from a pool of `pool` ids shared by every
--                  connection, in a random order, with a random state
--   mode "get50"   GET /subscription/status/get for 50 external ids, walking the pool like ext50
--   mode "user1"   GET /subscription/user/status for one external id, walking the pool
-- In "email" and "ext50" requests walk the pool in order and each pass flips the state
-- (subscribed, unsubscribed, subscribed ...), so against a group that is new at the start of the
-- run every request changes every state it names: the heaviest honest mix for the write path.
-- The pool is larger than the number of connections, so concurrent requests do not overlap.
-- With stride and modulus, entry n of the pool is profile (n * stride) % modulus, which spreads
-- the pool over a large table instead of a few neighbouring pages.

local counter = 0

function init(args)
  key, group, mode, pool, prefix = args[1], args[2], args[3], tonumber(args[4]), args[5]
  stride, modulus = tonumber(args[6] or "1"), tonumber(args[7] or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
  math.randomseed(os.time())
end

local function state_for(pass)
  if pass % 2 == 0 then return "subscribed" end
  return "unsubscribed"
end

local function body(state, field, values)
  return '{"subscription_group_id":"' .. group .. '","subscription_state":"' .. state
    .. '","' .. field .. '":' .. values .. '}'
end

local function id_list(ids)
  return '["' .. table.concat(ids, '","') .. '"]'
end

local function name(n)
  if modulus > 0 then n = (n * stride) % modulus end
  return prefix .. string.format("%d", n)
end

function request()
  local k = counter
  counter = counter + 1
  local payload
  if mode == "email" then
    local i = k % pool
    payload = body(state_for(math.floor(k / pool)), "email", '"' .. name(i) .. '@bench.example"')
  elseif mode == "get50" then
    local batches = math.floor(pool / 50)
    local b = k % batches
    local query = {}
    for j = 0, 49 do query[#query + 1] = "external_id=" .. name(b * 50 + j) end
    return wrk.format("GET", "/subscription/status/get?subscription_group_id=" .. group .. "&"
      .. table.concat(query, "&"))
  elseif mode == "user1" then
    return wrk.format("GET", "/subscription/user/status?external_id=" .. name(k % pool))
  elseif mode == "ext50" then
    local batches = math.floor(pool / 50)
    local b = k % batches
    local ids = {}
    for j = 0, 49 do ids[#ids + 1] = name(b * 50 + j) end
    payload = body(state_for(math.floor(k / batches)), "external_id", id_list(ids))
  else
    -- partial Fisher-Yates: 50 distinct ids of the pool, in random order
    local idx = {}
    for i = 0, pool - 1 do idx[i + 1] = i end
    local ids = {}
    for j = 1, 50 do
      local r = math.random(j, pool)
      idx[j], idx[r] = idx[r], idx[j]
      ids[j] = prefix .. idx[j]
    end
    payload = body(state_for(math.random(0, 1)), "external_id", id_list(ids))
  end
  return wrk.format(nil, nil, nil, payload)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"bad_status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
