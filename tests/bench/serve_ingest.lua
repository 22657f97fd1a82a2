-- wrk script (tests/bench/serve.sh): each request one new Alertmanager
-- alert (a fingerprint of its own), about 1 KB, POST /hooks/alertmanager
-- with the bearer token of $RB_BENCH_TOKEN; $RB_BENCH_PREFIX keeps the
-- fingerprints of two wrk runs apart. wrk -t1: one thread, one counter.
local n = 0
local prefix = os.getenv("RB_BENCH_PREFIX") or "p"
local token = os.getenv("RB_BENCH_TOKEN") or ""
local pad = string.rep("x", 560)

request = function()
  n = n + 1
  local fp = prefix .. "-" .. n
  local body = '{"version":"4","groupKey":"{}:{alertname=\\"BenchIngest\\"}","truncatedAlerts":0,'
    .. '"status":"firing","receiver":"runbook","groupLabels":{"alertname":"BenchIngest"},'
    .. '"commonLabels":{"alertname":"BenchIngest"},"commonAnnotations":{},'
    .. '"externalURL":"http://alertmanager:9093","alerts":[{"status":"firing",'
    .. '"labels":{"alertname":"BenchIngest","instance":"' .. fp .. '","severity":"warning"},'
    .. '"annotations":{"summary":"' .. pad .. '"},"startsAt":"2026-01-01T00:00:00Z",'
    .. '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph",'
    .. '"fingerprint":"' .. fp .. '"}]}'
  return wrk.format("POST", "/hooks/alertmanager",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
