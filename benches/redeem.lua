-- wrk script: one redemption of 1 cent per request, each with its own Idempotency-Key.
-- Needs the environment variables BEARER and KP_TOKEN (set by benches/load.sh).
local counter, tid, threads = 0, 0, {}
local bearer = os.getenv("BEARER")
local token = os.getenv("KP_TOKEN")
local prefix = tostring(os.time())

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tid = wrk.thread:get("tid") or 0
end

function request()
  counter = counter + 1
  local body = '{"token": "' .. token .. '", "amount_cents": 1, "category": "sport", "description": "bench"}'
  return wrk.format("POST", "/api/v1/redemptions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. bearer,
    ["Idempotency-Key"] = string.format("bench-%s-%d-%d", prefix, tid, counter),
  }, body)
end
