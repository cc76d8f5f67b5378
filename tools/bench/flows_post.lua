-- wrk script for flowd's benchmark: POST /flows batches of BATCH fresh-looking records (env FLOWS_BATCH).
local batch = tonumber(os.getenv("FLOWS_BATCH") or "1")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format('{"src_app":"app%d","dest_app":"dst%d","vpc_id":"vpc-0","hour":%d,"bytes_rx":100,"bytes_tx":200}',
                             math.random(1000), i, math.random(0, 23))
  end
  return wrk.format(nil, "/flows", nil, "[" .. table.concat(parts, ",") .. "]")
end
