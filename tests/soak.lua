-- wrk script for the soak test: a mix of the API's queries, round robin.
local paths = {
  "/telemetry/GetMetric?switch_id=sw-05&metric=latency",
  "/telemetry/ListMetrics",
  "/telemetry/GetMetric?switch_id=sw-10&metric=port_xmit_data",
  "/telemetry/performance",
  "/telemetry/ListMetrics?metric=latency,temperature&limit=5&offset=3",
  "/health",
  "/telemetry/counters",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
