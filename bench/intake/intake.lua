-- bench/intake/intake.lua: the wrk script of the intake benchmark. One script, three modes
-- (the first script argument), so every target gets the same wrk work per request:
--   sns FILE T [START]
--                kresponder POST /hooks/sns: the signed notifications of FILE (gen.py:
--                "MessageId<TAB>TopicArn<TAB>body" a line); thread t of T sends lines
--                t, t+T, t+2T, ... in a cycle, so no two threads ever send the same message.
--                START ("i0,i1,...", from the previous run's "next=") makes a run continue
--                where the last one stopped, so a warm-up does not replay fresh messages
--   amhook RUN   kresponder POST /hooks/alertmanager: an Alertmanager v4 webhook with one
--                firing alert whose labels and fingerprint are new on every request
--   amapi RUN    Alertmanager POST /api/v2/alerts: the same alert as Prometheus posts it
-- RUN is a run tag (a number) that keeps fingerprints distinct across runs and warm-ups.
-- Every response's status is counted; done() prints one "BENCH ..." line with the totals.

local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

local mode, reqs, nreqs, seq, run, starts
statuses = {}
next_i = 1 -- global: done() reads it from each thread

function init(args)
   mode = args[1]
   seq = 0
   local nth = tonumber(args[3]) or 1
   if mode == "sns" then
      local k = 0
      for v in string.gmatch(args[4] or "", "[^,]+") do
         if k == tid then
            next_i = tonumber(v)
         end
         k = k + 1
      end
      reqs = {}
      local n = 0
      for line in io.lines(args[2]) do
         if n % nth == tid then
            local id, topic, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
            table.insert(reqs, wrk.format("POST", nil, {
               ["Content-Type"] = "text/plain; charset=UTF-8",
               ["x-amz-sns-message-type"] = "Notification",
               ["x-amz-sns-message-id"] = id,
               ["x-amz-sns-topic-arn"] = topic,
               ["User-Agent"] = "Amazon Simple Notification Service Agent",
            }, body))
         end
         n = n + 1
      end
      nreqs = #reqs
      if nreqs == 0 then
         error("no requests for thread " .. tid .. " in " .. args[2])
      end
      next_i = (next_i - 1) % nreqs + 1
   elseif mode == "amhook" or mode == "amapi" then
      run = tonumber(args[2]) or 0
      starts = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
   else
      error("mode must be sns, amhook or amapi")
   end
end

-- The alert of request `k` of this thread, as Alertmanager's webhook (v4) carries it or as
-- Prometheus posts it to /api/v2/alerts: same labels, annotations, startsAt, generatorURL.
local function alert_parts(k)
   local broker = k % 100000
   local labels = string.format('{"alertname":"UnderReplicatedPartitions","cluster":"orders-prod",'
      .. '"broker_id":"%d","instance":"10.%d.%d.%d:9308","severity":"critical","bench":"%d-%d"}',
      broker, tid, math.floor(k / 65536) % 256, math.floor(k / 256) % 256, k % 256, run, tid)
   local annotations = string.format('{"summary":"UnderReplicatedPartitions on broker %d"}', broker)
   return labels, annotations
end

local gen_url = "http://prometheus:9090/graph?g0.expr=kafka_server_replicamanager_underreplicatedpartitions%3E0"

function request()
   if mode == "sns" then
      local r = reqs[next_i]
      next_i = next_i % nreqs + 1
      return r
   end
   seq = seq + 1
   local labels, annotations = alert_parts(seq)
   local body
   if mode == "amhook" then
      body = '{"version":"4","groupKey":"{}:{alertname=\\"UnderReplicatedPartitions\\"}",'
         .. '"truncatedAlerts":0,"status":"firing","receiver":"kresponder",'
         .. '"groupLabels":{"alertname":"UnderReplicatedPartitions"},'
         .. '"commonLabels":' .. labels .. ',"commonAnnotations":' .. annotations .. ','
         .. '"externalURL":"http://alertmanager:9093","alerts":[{"status":"firing","labels":' .. labels
         .. ',"annotations":' .. annotations .. ',"startsAt":"' .. starts
         .. '","endsAt":"0001-01-01T00:00:00Z","generatorURL":"' .. gen_url
         .. string.format('","fingerprint":"%04x%04x%08x"}]}', run % 65536, tid, seq)
   else
      body = '[{"labels":' .. labels .. ',"annotations":' .. annotations .. ',"startsAt":"' .. starts
         .. '","generatorURL":"' .. gen_url .. '"}]'
   end
   return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts, total, ok = {}, 0, 0
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      for code, n in pairs(s) do
         counts[code] = (counts[code] or 0) + n
         total = total + n
         if code >= 200 and code < 300 then
            ok = ok + n
         end
      end
   end
   local nexts = {}
   for _, t in ipairs(threads) do
      table.insert(nexts, tostring(t:get("next_i")))
   end
   local codes = {}
   for code, n in pairs(counts) do
      table.insert(codes, string.format("%d:%d", code, n))
   end
   table.sort(codes)
   local e = summary.errors
   io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "counted=%d ok=%d non2xx=%d socket_errors=%d statuses=%s next=%s\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, total, ok, total - ok,
      e.connect + e.read + e.write + e.timeout, table.concat(codes, ","), table.concat(nexts, ",")))
end
