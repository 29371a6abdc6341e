"""tests/integration/test_receiver.py: the test receiver (build/tests/tools/receiver):
address line, JSON-lines records, scripted statuses, Retry-After, --hang, --delay-ms,
--pretty for Slack Block Kit and PagerDuty Events v2, argument errors, clean stop."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krreceiver  # noqa: E402
import krzk  # noqa: E402

t = krzk.Checks("receiver")

# A Slack incoming-webhook message with Block Kit blocks (api.slack.com/reference/block-kit).
SLACK = {
    "text": "Broker 1003 (i-0abc1234) failed its EC2 status check",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Broker 1003 evacuating"}},
        {"type": "section",
         "text": {"type": "mrkdwn", "text": "*orders-prod*: StatusCheckFailed_System"},
         "fields": [{"type": "mrkdwn", "text": "*Broker:*\n1003"},
                    {"type": "mrkdwn", "text": "*Instance:*\ni-0abc1234"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "kresponder incident 42"}]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Incident"},
             "url": "http://kr.example/v1/incidents/42"}]},
    ],
}
# A PagerDuty Events API v2 trigger (developer.pagerduty.com, events-API-v2).
PD = {
    "routing_key": "R0UT1NGKEYSECRET",
    "event_action": "trigger",
    "dedup_key": "orders-prod/broker/1003",
    "payload": {"summary": "Broker 1003 failed its EC2 status check",
                "source": "kresponder", "severity": "critical",
                "component": "kafka", "group": "orders-prod",
                "custom_details": {"broker": 1003, "actions": ["evacuate"]}},
    "links": [{"href": "http://kr.example/v1/incidents/42", "text": "Incident 42"}],
}


def send(r, method, path, body=None, headers=(), timeout=None):
    """Returns (status, headers dict lower-case, body text); raises on timeout."""
    host, port = r.addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout or krzk.tmout(10))
    try:
        c.putrequest(method, path)
        data = body.encode() if isinstance(body, str) else body
        for k, v in headers:
            c.putheader(k, v)
        if data is not None:
            c.putheader("Content-Length", str(len(data)))
        c.endheaders(data)
        resp = c.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        c.close()


def test_records_and_script():
    r = krreceiver.Receiver.start(script="500,429,200", retry_after="3")
    host, port = r.addr.rsplit(":", 1)
    t.eq(host, "127.0.0.1", "the first stdout line is the bound address")
    t.ok(int(port) > 0, "with the port the kernel chose: " + port)
    got = []
    for i in range(4):
        code, hdrs, _ = send(r, "POST", "/services/T0/B0/XX?attempt=%d" % i,
                             json.dumps(SLACK),
                             [("Content-Type", "application/json"), ("X-Dup", "a"),
                              ("X-Dup", "b")])
        got.append((code, hdrs.get("retry-after")))
    t.eq(got, [(500, "3"), (429, "3"), (200, "3"), (200, "3")],
         "statuses follow the script, the last repeats; Retry-After on every answer")
    recs = r.requests()
    t.eq(len(recs), 4, "one JSON line per request")
    t.eq([x["seq"] for x in recs], [1, 2, 3, 4], "seq counts requests")
    t.eq([x["status"] for x in recs], [500, 429, 200, 200], "status answered is recorded")
    x = recs[1]
    t.eq((x["method"], x["path"], x["query"]), ("POST", "/services/T0/B0/XX", "attempt=1"),
         "method, path and query")
    t.eq(x["headers"]["content-type"], "application/json", "header names are lower-case")
    t.eq(x["headers"]["x-dup"], "a, b", "repeated headers are joined")
    t.eq(x["body"], json.dumps(SLACK), "raw body kept")
    t.eq(x["json"], SLACK, "json is the parsed body")
    t.ok(x["time"].endswith("Z") and "T" in x["time"], "time is RFC 3339 UTC: " + x["time"])
    t.eq(r.stop(), 0, "SIGTERM exits 0")


def test_bodies_of_every_kind():
    r = krreceiver.Receiver.start(status=202, body='{"status":"success"}')
    code, _, body = send(r, "GET", "/sns/confirm?Token=abc&x=%2F")
    t.eq((code, body), (202, '{"status":"success"}'), "--status and --body shape the answer")
    send(r, "POST", "/hook", "plain text, not json", [("Content-Type", "text/plain")])
    send(r, "POST", "/bin", b"\xff\xfe\x00a")
    send(r, "PUT", "/put", "[1,2]")
    recs = r.requests()
    t.eq((recs[0]["method"], recs[0]["query"], recs[0]["body"], recs[0]["json"]),
         ("GET", "Token=abc&x=%2F", "", None), "a GET: raw query, empty body, json null")
    t.eq((recs[1]["body"], recs[1]["json"]), ("plain text, not json", None),
         "a text body is kept, json null")
    t.eq((recs[2]["body"], recs[2]["body_base64"], recs[2]["json"]), (None, "//4AYQ==", None),
         "a non-UTF-8 body is given as base64")
    t.eq((recs[3]["method"], recs[3]["json"]), ("PUT", [1, 2]), "a JSON array body parses")
    t.eq(r.stop(), 0, "stops cleanly")


def test_hang_never_answers_and_stop_still_works():
    r = krreceiver.Receiver.start(hang=True)
    t0 = time.monotonic()
    try:
        send(r, "POST", "/hook", "{}", timeout=0.5)
        t.ok(False, "--hang answered")
    except (socket.timeout, TimeoutError):
        t.ok(time.monotonic() - t0 >= 0.45, "--hang: the client times out, no answer")
    # a client that stays connected while the receiver stops
    s = socket.create_connection(tuple([r.addr.rsplit(":", 1)[0],
                                        int(r.addr.rsplit(":", 1)[1])]))
    s.sendall(b"POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    krzk.wait_until(lambda: len(r.requests()) >= 2, krzk.tmout(5))
    recs = r.requests()
    t.eq([(x["path"], x["status"]) for x in recs], [("/hook", None), ("/held", None)],
         "held requests are recorded with status null")
    t0 = time.monotonic()
    t.eq(r.stop(), 0, "SIGTERM with held requests exits 0")
    t.ok(time.monotonic() - t0 < krzk.tmout(3), "and promptly")
    s.close()


def test_delay():
    r = krreceiver.Receiver.start(delay_ms=300, script="503,200")
    t0 = time.monotonic()
    code, _, _ = send(r, "GET", "/a")
    took = time.monotonic() - t0
    t.eq(code, 503, "delayed answer keeps the script")
    t.ok(0.29 <= took < krzk.tmout(3), "answered after --delay-ms (%.3f s)" % took)
    # a client that leaves before the answer: the receiver goes on
    try:
        send(r, "GET", "/gone", timeout=0.05)
    except (socket.timeout, TimeoutError):
        pass
    time.sleep(0.4)
    code, _, _ = send(r, "GET", "/b")
    t.eq(code, 200, "still serving after a client left early")
    t.eq([x["path"] for x in r.requests()], ["/a", "/gone", "/b"], "all three recorded")
    t.eq(r.stop(), 0, "stops cleanly")


def test_pretty():
    r = krreceiver.Receiver.start(pretty=True)
    send(r, "POST", "/services/T0/B0/XX", json.dumps(SLACK))
    send(r, "POST", "/v2/enqueue", json.dumps(PD))
    send(r, "POST", "/other", "hello\x01world")
    t.eq(r.stop(), 0, "stops cleanly")
    out = r.stdout()
    want_slack = [
        "[slack] /services/T0/B0/XX",
        "  # Broker 1003 evacuating",
        "  *orders-prod*: StatusCheckFailed_System",
        "    - *Broker:* 1003",
        "    - *Instance:* i-0abc1234",
        "  ----",
        "  > kresponder incident 42",
        "  [Incident] -> http://kr.example/v1/incidents/42",
    ]
    want_pd = [
        "[pagerduty] /v2/enqueue TRIGGER dedup_key=orders-prod/broker/1003 severity=critical",
        "  summary: Broker 1003 failed its EC2 status check",
        "  source: kresponder",
        "  component: kafka",
        "  group: orders-prod",
        '  details: {"actions":["evacuate"],"broker":1003}',
        "  link: Incident 42 <http://kr.example/v1/incidents/42>",
    ]
    t.eq(out, want_slack + want_pd + ["[webhook] POST /other hello.world"],
         "Slack blocks, the PagerDuty event and other bodies are printed readably")
    t.ok(not any("R0UT1NGKEYSECRET" in line for line in out), "the routing key is not printed")


def test_bad_arguments():
    cases = [
        (["--listen", "127.0.0.1:0", "--script", "500,abc"], "--script wants"),
        (["--listen", "127.0.0.1:0", "--script", "99"], "--script wants"),
        (["--listen", "127.0.0.1:0", "--status", "600"], "--status wants"),
        (["--listen", "nohost"], "--listen wants HOST:PORT"),
        (["--out", "/tmp/x.jsonl"], "--listen HOST:PORT is required"),
        (["--listen", "127.0.0.1:0", "--bogus", "1"], "unknown option --bogus"),
        (["--listen", "127.0.0.1:0", "--out", "/nonexistent/dir/x.jsonl"], "cannot open"),
    ]
    for args, want in cases:
        p = subprocess.run([krreceiver.RECEIVER] + args, capture_output=True, text=True,
                           timeout=krzk.tmout(10))
        t.ok(p.returncode == 2 and want in p.stderr,
             "%s: exit 2 with %r (got %d: %s)" % (" ".join(args), want, p.returncode,
                                                  p.stderr.strip().splitlines()[0]
                                                  if p.stderr.strip() else ""))


def test_sigint():
    r = krreceiver.Receiver.start()
    send(r, "GET", "/x")
    r.proc.send_signal(signal.SIGINT)
    t.eq(r.proc.wait(krzk.tmout(5)), 0, "SIGINT exits 0")


for fn in (test_records_and_script, test_bodies_of_every_kind,
           test_hang_never_answers_and_stop_still_works, test_delay, test_pretty,
           test_bad_arguments, test_sigint):
    t.case(fn)
t.finish()
