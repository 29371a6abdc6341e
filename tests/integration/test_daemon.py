"""tests/integration/test_daemon.py: the daemon's own endpoints, config errors, signals,
and that events survive a restart (journal replay)."""
import json
import os
import signal
import subprocess

import krlib
import krzk

t = krzk.Checks("daemon")


@t.case
def health_ready_metrics():
    d = krlib.Daemon.start()
    code, body, _ = d.request("GET", "/healthz")
    t.eq(code, 200, "healthz status")
    t.eq(body, {"status": "ok"}, "healthz body")
    code, body, _ = d.request("GET", "/readyz")
    t.eq(code, 200, "readyz status")
    t.eq(body["checks"]["journal"], "ok", "readyz journal check")
    code, text, hdrs = d.request("GET", "/metrics")
    t.eq(code, 200, "metrics status")
    t.ok(hdrs["Content-Type"].startswith("text/plain; version=0.0.4"), "prometheus content type")
    t.ok("# TYPE kresponder_http_requests_total counter" in text, "metrics has families")
    t.eq(d.metric("http_requests_total", 'endpoint="/healthz",code="200"'), 1.0,
         "the healthz request was counted")
    t.eq(d.events(), [], "no events yet")
    t.eq(d.stop(), 0, "clean exit on SIGTERM")


@t.case
def json_errors_for_404_405_and_bad_query():
    d = krlib.Daemon.start()
    code, body, _ = d.request("GET", "/nope")
    t.eq((code, body), (404, {"error": "no such endpoint: /nope"}), "404 is JSON")
    code, body, hdrs = d.request("POST", "/healthz", "")
    t.eq(code, 405, "405 on wrong method")
    t.eq(body, {"error": "method POST not allowed on /healthz"}, "405 is JSON")
    t.eq(hdrs.get("Allow"), "GET", "Allow header lists the methods")
    code, body, _ = d.request("GET", "/v1/events?limit=abc")
    t.eq((code, body), (400, {"error": "limit must be a positive integer"}), "bad limit")
    d.stop()


@t.case
def config_errors_are_file_line_col():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="kr-it-")
    path = os.path.join(tmp, "bad.yaml")
    with open(path, "w") as f:
        f.write("listen: 127.0.0.1:0\nsns:\n  verify: maybe\n")
    r = subprocess.run([krlib.BIN, "run", "-c", path], capture_output=True, text=True,
                       timeout=krzk.tmout(10))
    t.eq(r.returncode, 1, "run exits 1 on a bad config")
    t.eq(r.stderr.strip(), path + ":3:11: sns.verify must be true or false", "error text")
    r = subprocess.run([krlib.BIN, "check", "-c", path], capture_output=True, text=True)
    t.eq(r.returncode, 1, "check exits 1")
    r = subprocess.run([krlib.BIN, "check", "-c", os.path.join(krlib.SRCDIR, "kresponder.example.yaml")],
                       capture_output=True, text=True,
                       env=dict(os.environ, KRESPONDER_EVENTBRIDGE_SECRET="x", KRESPONDER_ADMIN_TOKEN="y",
                                KRESPONDER_SLACK_WEBHOOK="https://hooks.slack.com/services/T/B/X"))
    t.eq(r.returncode, 0, "the example config passes check: " + r.stderr)
    t.ok("7 rules in 3 files" in r.stdout or "rules in" in r.stdout, "check validates the shipped rules too: " + r.stdout)
    rules = os.path.join(tmp, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "bad.yaml"), "w") as f:
        f.write("- name: x\n  match: {type: [a]}\n  for: soon\n  actions: [{log: {}}]\n")
    with open(path, "w") as f:
        f.write("listen: 127.0.0.1:0\nrules_dir: rules\n")
    r = subprocess.run([krlib.BIN, "check", "-c", path], capture_output=True, text=True)
    t.eq(r.returncode, 1, "check exits 1 when a rule is broken")
    t.ok(r.stderr.startswith(os.path.join(rules, "bad.yaml") + ":3:8: "), "and names file:line:col: " + r.stderr)
    with open(os.path.join(rules, "bad.yaml"), "w") as f:
        f.write("- name: x\n  match: {type: [a]}\n  actions: [{page: {to: [oncall, \"{{labels.team}}\"]}}]\n")
    r = subprocess.run([krlib.BIN, "check", "-c", path], capture_output=True, text=True)
    t.eq((r.returncode, r.stderr.strip()),
         (1, os.path.join(rules, "bad.yaml") + ":1: rule x: page to \"oncall\": no such receiver in the config's receivers"),
         "a rule paging a receiver that is not configured is refused at load time")
    with open(path, "w") as f:
        f.write("listen: 127.0.0.1:0\nclusters:\n  - name: a\n    zookeeper: 127.0.0.1:2181\n    stacks: {blue: 1-1000, green: 900-2000}\n")
    r = subprocess.run([krlib.BIN, "check", "-c", path], capture_output=True, text=True)
    t.eq(r.returncode, 1, "check -c validates the clusters section: " + r.stderr.strip())
    t.ok(r.stderr.startswith(path + ":5:"), "with file:line:col: " + r.stderr.strip())
    r = subprocess.run([krlib.BIN, "check", "--reference"], capture_output=True, text=True)
    t.ok("| `sns.max_age` | duration | 1h |" in r.stdout, "the reference is generated from the table")


@t.case
def journal_dump():
    d = krlib.Daemon.start({"eventbridge": {"secret": "s"}})
    ev = {"version": "0", "id": "dump-1", "detail-type": "EC2 Instance Rebalance Recommendation",
          "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
          "region": "ap-northeast-2", "resources": [], "detail": {"instance-id": "i-0abc"}}
    t.eq(d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": "s"})[0], 202, "event accepted")
    d.stop()
    r = subprocess.run([krlib.BIN, "journal", "dump", os.path.join(d.dir, "journal")],
                       capture_output=True, text=True)
    t.eq(r.returncode, 0, "journal dump exits 0")
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    evs = [x for x in recs if x.get("kind") == "event"]
    t.eq([x["event"]["id"] for x in evs], ["eb:dump-1"], "the event record is there")
    t.eq([x["seq"] for x in recs], list(range(1, len(recs) + 1)), "sequence numbers are dense")
    r = subprocess.run([krlib.BIN, "journal", "dump"], capture_output=True, text=True)
    t.eq(r.returncode, 2, "usage error exits 2")
    r = subprocess.run([krlib.BIN, "journal", "dump", "/nonexistent-journal"], capture_output=True, text=True)
    t.eq((r.returncode, r.stderr.strip()), (1, "journal: no journal segments (journal-NNNNNNNN.log) in /nonexistent-journal"),
         "a directory without a journal is an error, so a bad backup does not look empty")


@t.case
def connection_cap_and_slow_clients():
    import http.client
    import socket
    import time
    d = krlib.Daemon.start({"http": {"max_connections": 2, "timeout": "1s"}})
    host, port = d.addr.rsplit(":", 1)
    c1 = http.client.HTTPConnection(host, int(port), timeout=5)
    c2 = http.client.HTTPConnection(host, int(port), timeout=5)
    for c in (c1, c2):
        c.request("GET", "/healthz")
        t.eq(c.getresponse().read(), b'{"status":"ok"}\n', "keep-alive connection served")
    c3 = http.client.HTTPConnection(host, int(port), timeout=5)
    c3.request("GET", "/healthz")
    r = c3.getresponse()
    t.eq(r.status, 503, "a third connection over http.max_connections=2 gets 503")
    t.eq(json.loads(r.read()), {"error": "too many connections (http.max_connections = 2)"}, "as JSON")
    c3.close()
    c1.close()
    time.sleep(0.2)
    c4 = http.client.HTTPConnection(host, int(port), timeout=5)
    c4.request("GET", "/healthz")
    t.eq(c4.getresponse().status, 200, "a slot freed by a closed connection is reused")
    c4.close()
    c2.close()
    # a slow client (headers never finished) does not stall others and is cut off
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.2)
    t0 = time.monotonic()
    code, _, _ = d.request("GET", "/healthz")
    t.eq(code, 200, "others are served while a client dawdles")
    t.ok(time.monotonic() - t0 < 0.5, "promptly")
    slow.settimeout(krzk.tmout(5))
    t0 = time.monotonic()
    try:
        data = slow.recv(100)
    except socket.timeout:
        data = None
    t.ok(data is not None and time.monotonic() - t0 < krzk.tmout(4), "the slow client is cut off by http.timeout (1s)")
    slow.close()
    d.stop()


@t.case
def busy_port_is_a_clear_error():
    d = krlib.Daemon.start()
    try:
        krlib.Daemon.start({"listen": d.addr})
        t.ok(False, "second daemon on the same port must fail")
    except RuntimeError as e:
        t.ok("cannot listen on " + d.addr in str(e), "says which address: %s" % e)
    d.stop()


t.finish()
