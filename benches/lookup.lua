-- wrk script: voucher lookups (the scan before a redemption). Needs BEARER and KP_TOKEN.
local bearer = os.getenv("BEARER")
local token = os.getenv("KP_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. bearer
wrk.body = '{"token": "' .. token .. '"}'
