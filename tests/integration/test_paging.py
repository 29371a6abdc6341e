"""tests/integration/test_paging.py: pages from the real daemon to local receivers
(build/tests/tools/receiver standing in for Slack and PagerDuty): exact bodies of a
status-check incident (trigger, follow-up, resolve), 500 then 200, 429 with Retry-After,
a receiver down while incidents fire then up (all delivered, in order), a restart with a
full outbox (nothing lost, nothing twice), and a receiver that never answers does not
slow the intake."""
import copy
import json
import os
import re
import socket
import tempfile
import time

import krlib
import krreceiver
import krzk

t = krzk.Checks("paging")
SECRET = "eb-secret"
ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"
SUMMARY = "EC2 status check failed: {{alarm.name}} ({{instance.id}})"

with open(os.path.join(krlib.SRCDIR, "tests/golden/decode/eb_alarm_status_check.json")) as f:
    ALARM = json.load(f)
with open(os.path.join(krlib.SRCDIR, "tests/golden/decode/eb_alarm_resolved.json")) as f:
    ALARM_OK = json.load(f)


def rules(receivers, second=None):
    actions = ["    - page: {to: [%s], severity: critical, summary: \"%s\", details: \"Alarm {{alarm.metric}} on {{instance.id}}\"}"
               % (", ".join(receivers), SUMMARY)]
    if second:
        actions.append("    - " + second)
    return ("- name: page-on-status-check\n"
            "  match: {type: [instance.impaired], alarm.metric: [{prefix: StatusCheckFailed}]}\n"
            "  group_by: [alarm.name]\n"
            "  actions:\n" + "\n".join(actions) + "\n")


def start(receivers, rule_text, directory=None, outbox=None):
    directory = directory or tempfile.mkdtemp(prefix="kr-page-")
    os.makedirs(os.path.join(directory, "rules"), exist_ok=True)
    with open(os.path.join(directory, "rules", "page.yaml"), "w") as f:
        f.write(rule_text)
    cfg = {"rules_dir": "rules", "eventbridge": {"secret": SECRET}, "receivers": receivers,
           "public_url": "https://kresponder.example.com",
           "outbox": dict({"retry_min": "100ms", "retry_max": "500ms", "timeout": "2s",
                           "followup_interval": "0"}, **(outbox or {}))}
    return krlib.Daemon.start(cfg, directory=directory)


def alarm(name, eid, resolved=False):
    ev = copy.deepcopy(ALARM_OK if resolved else ALARM)
    ev["id"] = eid
    ev["detail"]["alarmName"] = name
    ev["resources"] = ["arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:" + name]
    return ev


def post(d, ev):
    t0 = time.monotonic()
    code, _, _ = d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": SECRET})
    t.eq(code, 202, "event %s accepted" % ev["id"])
    return time.monotonic() - t0


def incident(d):
    code, body, _ = d.request("GET", "/v1/incidents")
    return body[0] if code == 200 and body else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def slack(name, url, **kw):
    return {"name": name, "slack": dict({"url": url, "channel": "#kafka-oncall"}, **kw)}


def pagerduty(name, url):
    return {"name": name, "pagerduty": {"url": url, "routing_key": {"env": "KR_TEST_PD_KEY"}}}


os.environ["KR_TEST_PD_KEY"] = ROUTING_KEY
NAME = "kafka-orders-prod-broker-1003-system-check"
INSTANCE_LINK = ("https://ap-northeast-2.console.aws.amazon.com/ec2/home?region=ap-northeast-2"
                 "#InstanceDetails:instanceId=i-0a1b2c3d4e5f60718")
ALARM_LINK = ("https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
              "#alarmsV2:alarm/kafka-orders-prod-broker-1003-system-check")


@t.case
def trigger_followup_resolve_bodies():
    rs = krreceiver.Receiver.start()
    rp = krreceiver.Receiver.start(status=202, body='{"status":"success","message":"Event processed"}')
    d = start([slack("oncall", rs.url("/services/T0/B0/faketoken")), pagerduty("pd", rp.url("/v2/enqueue"))],
              rules(["oncall", "pd"], 'exec: {argv: ["/bin/sleep", "1"]}'))
    post(d, alarm(NAME, "status-1"))
    s = rs.wait_requests(1, krzk.tmout(10))
    p = rp.wait_requests(1, krzk.tmout(10))
    inc = incident(d)
    iid = inc["id"]
    summary = "EC2 status check failed: %s (i-0a1b2c3d4e5f60718)" % NAME
    exec_pid = re.search(r"\(pid (\d+),", json.dumps(s[0]["json"]))
    exec_pid = exec_pid.group(1) if exec_pid else "?"  # the one variable part
    links = ("kresponder \u00b7 incident `%s` \u00b7 <https://kresponder.example.com/v1/incidents/%s|Incident in kresponder>"
             " \u00b7 <%s|EC2 instance i-0a1b2c3d4e5f60718> \u00b7 <%s|CloudWatch alarm %s>"
             % (iid, iid, INSTANCE_LINK, ALARM_LINK, NAME))
    want = {
        "text": "CRITICAL: %s (incident %s)" % (summary, iid),
        "channel": "#kafka-oncall",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: CRITICAL: " + summary, "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Alarm StatusCheckFailed_System on i-0a1b2c3d4e5f60718"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Instance*\ni-0a1b2c3d4e5f60718 (ap-northeast-2)"},
                {"type": "mrkdwn", "text": "*Alarm*\n%s (StatusCheckFailed_System, ALARM)" % NAME},
                {"type": "mrkdwn", "text": "*Time*\n" + s[0]["json"]["blocks"][2]["fields"][2]["text"].split("\n")[1]},
                {"type": "mrkdwn", "text": "*Incident*\n`%s`\nrule `page-on-status-check`" % iid}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Actions*\n\u2022 `page` running: started\n"
                                         "\u2022 `exec` running: started /bin/sleep 1 (pid %s, timeout 30s)" % exec_pid}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": links}]},
        ]}
    t.eq(s[0]["json"], want, "the Slack trigger body")
    t.eq(s[0]["method"], "POST", "POSTed")
    t.eq(s[0]["path"], "/services/T0/B0/faketoken", "to the webhook's path")
    t.eq(s[0]["headers"].get("content-type"), "application/json", "as JSON")
    pd = p[0]["json"]
    t.eq(sorted(pd), ["client", "dedup_key", "event_action", "links", "payload", "routing_key"], "PagerDuty members")
    t.eq((pd["routing_key"], pd["event_action"], pd["dedup_key"], pd["client"]),
         (ROUTING_KEY, "trigger", iid, "kresponder"), "PagerDuty trigger: key from the environment, dedup_key = incident")
    pl = pd["payload"]
    t.eq({k: pl[k] for k in ("summary", "source", "severity", "class")},
         {"summary": summary, "source": "i-0a1b2c3d4e5f60718", "severity": "critical", "class": "instance.impaired"},
         "PagerDuty payload")
    t.eq(pl["custom_details"]["event"]["alarm"]["name"], NAME, "custom_details carries the event")
    t.ok("raw" not in pl["custom_details"]["event"], "but not the raw payload")
    t.eq([(a["kind"], a["state"]) for a in pl["custom_details"]["actions"]], [("page", "running"), ("exec", "running")],
         "and the actions")
    t.eq(pd["links"][1]["href"], INSTANCE_LINK, "links to the EC2 console")
    # the page run ends when both are delivered
    t.ok(krzk.wait_until(lambda: incident(d)["actions"][0]["state"] == "done", krzk.tmout(5)), "the page run is done")
    run = d.request("GET", "/v1/incidents/" + iid)[1]["actions"][0]
    t.eq(run.get("message"), "paged oncall (slack), pd (pagerduty)", "and says where it paged")
    # exec ends after 1 s: a Slack follow-up; PagerDuty is not bothered with progress
    s = rs.wait_requests(2, krzk.tmout(10))
    fu = s[1]["json"]
    t.eq(fu["text"], "Update on incident %s: %s \u2014 exec done: exit 0" % (iid, summary), "follow-up text")
    t.eq(fu["blocks"][0]["text"]["text"], "*Update* \u00b7 %s\n\u2022 exec done: exit 0" % summary, "follow-up update lines")
    t.eq(fu["blocks"][1]["text"]["text"], "*Actions*\n\u2022 `page` done: paged oncall (slack), pd (pagerduty)\n"
         "\u2022 `exec` done: exit 0", "follow-up action states")
    # the alarm goes back to OK: the incident resolves, both get the resolve
    post(d, alarm(NAME, "status-1-ok", resolved=True))
    s = rs.wait_requests(3, krzk.tmout(10))
    p = rp.wait_requests(2, krzk.tmout(10))
    t.eq(p[1]["json"], {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": iid},
         "PagerDuty resolve with the same dedup_key")
    t.eq(s[2]["json"]["blocks"][0]["text"]["text"], ":white_check_mark: RESOLVED: " + summary, "Slack resolved header")
    t.ok(s[2]["json"]["blocks"][1]["text"]["text"].startswith("Incident `%s` resolved at " % iid), "and when")
    t.eq(len(p), 2, "PagerDuty got exactly trigger and resolve")
    t.eq(d.metric("pages_sent_total", 'receiver="oncall"'), 3.0, "metric: 3 sent to Slack")
    t.eq(d.metric("outbox_depth", 'receiver="pd"'), 0.0, "metric: PagerDuty outbox empty")
    # the routing key and the webhook URL are secrets: never in the journal
    journal = "".join(open(os.path.join(d.dir, "journal", f)).read()
                      for f in os.listdir(os.path.join(d.dir, "journal")) if f.startswith("journal-"))
    t.ok('"outbox.add"' in journal and '"outbox.sent"' in journal, "messages are journaled and marked sent")
    t.ok(ROUTING_KEY not in journal and "/services/T0/B0/faketoken" not in journal, "no secret in the journal")
    t.eq(d.stop(), 0, "the daemon stops cleanly (under ASan: no leak, no error)")
    t.ok(not [l for l in d.log() if "Sanitizer" in l or "runtime error" in l], "no sanitizer report")
    rs.stop()
    rp.stop()


def time_of(req):
    import datetime
    return datetime.datetime.fromisoformat(req["time"].replace("Z", "+00:00")).timestamp()


@t.case
def second_page_of_an_incident_says_its_own_words():
    # e.g. the on-call paged by the rule, then a Streams app's owners paged by
    # mark_streams_reset: each trigger carries its own summary and details
    r1 = krreceiver.Receiver.start()
    r2 = krreceiver.Receiver.start()
    second = 'page: {to: [owners], severity: warning, summary: "Owners: reset {{instance.id}}", details: "Step 1. stop"}'
    d = start([slack("oncall", r1.url("/oncall")), slack("owners", r2.url("/owners"))], rules(["oncall"], second))
    post(d, alarm(NAME, "two-pages-1"))
    a = r1.wait_requests(1, krzk.tmout(10))
    b = r2.wait_requests(1, krzk.tmout(10))
    head = lambda req: req["json"]["blocks"][0]["text"]["text"] if req and req.get("json") else None
    t.eq(head(a[0]) if a else None, ":red_circle: CRITICAL: EC2 status check failed: %s (i-0a1b2c3d4e5f60718)" % NAME,
         "the on-call's trigger has the first page's summary")
    t.eq(head(b[0]) if b else None, ":warning: WARNING: Owners: reset i-0a1b2c3d4e5f60718",
         "the owners' trigger has its own summary and severity")
    t.ok(b and "Step 1. stop" in json.dumps(b[0]["json"]), "and its own details")
    d.stop()
    r1.stop()
    r2.stop()


@t.case
def retry_500_then_200_and_429_retry_after():
    rs = krreceiver.Receiver.start(script="500,200")
    rp = krreceiver.Receiver.start(script="429,202", retry_after="2")
    d = start([slack("oncall", rs.url("/s")), pagerduty("pd", rp.url("/e"))], rules(["oncall", "pd"]))
    post(d, alarm(NAME, "retry-1"))
    s = rs.wait_requests(2, krzk.tmout(10))
    t.eq([r["status"] for r in s], [500, 200], "Slack: 500, then retried and 200")
    t.eq(s[0]["json"], s[1]["json"], "the same message again")
    p = rp.wait_requests(2, krzk.tmout(10))
    gap = time_of(p[1]) - time_of(p[0])
    t.ok(gap >= 1.9, "PagerDuty: 429 with Retry-After: 2 waited %.2fs (>= 2 s; backoff alone is 100-500 ms)" % gap)
    t.eq(p[0]["json"], p[1]["json"], "the same event again")
    t.ok(krzk.wait_until(lambda: d.metric("pages_sent_total", 'receiver="pd"') == 1.0, krzk.tmout(5)), "metric: sent")
    t.eq(d.metric("pages_retried_total", 'receiver="oncall"'), 1.0, "metric: one Slack retry")
    t.eq(d.metric("pages_retried_total", 'receiver="pd"'), 1.0, "metric: one PagerDuty retry")
    d.stop()
    rs.stop()
    rp.stop()


@t.case
def client_error_fails_at_once_and_is_reported():
    rs = krreceiver.Receiver.start(status=404, body="no_service")
    d = start([slack("oncall", rs.url("/s"))], rules(["oncall"]))
    post(d, alarm(NAME, "c4xx-1"))
    rs.wait_requests(1, krzk.tmout(10))
    t.ok(krzk.wait_until(lambda: incident(d)["actions"][0]["state"] == "failed", krzk.tmout(5)), "the page run failed")
    run = d.request("GET", "/v1/incidents/" + incident(d)["id"])[1]["actions"][0]
    t.eq(run.get("message"), "page to oncall (slack) failed: HTTP 404: no_service", "saying what the receiver answered")
    time.sleep(0.8)
    t.eq(len(rs.requests()), 1, "a 404 is not retried")
    t.eq(d.metric("pages_failed_total", 'receiver="oncall",reason="rejected"'), 1.0, "metric: failed, rejected")
    d.stop()
    rs.stop()


@t.case
def receiver_down_then_up_and_restart_with_full_outbox():
    port = free_port()
    url = "http://127.0.0.1:%d/s" % port
    directory = tempfile.mkdtemp(prefix="kr-page-")
    d = start([slack("oncall", url)], rules(["oncall"]), directory=directory)
    names = ["alarm-%d" % i for i in range(4)]
    for i, n in enumerate(names[:2]):
        post(d, alarm(n, "down-%d" % i))
    t.ok(krzk.wait_until(lambda: d.metric("outbox_depth", 'receiver="oncall"') == 2.0, krzk.tmout(5)),
         "two pages wait while the receiver is down")
    t.ok(krzk.wait_until(lambda: d.metric("pages_retried_total", 'receiver="oncall"') >= 2, krzk.tmout(5)),
         "and are retried")
    t.ok(d.metric("outbox_oldest_age_seconds", 'receiver="oncall"') > 0, "the oldest one's age is exported")
    t.eq(d.stop(), 0, "stops cleanly with a full outbox and attempts in flight")  # a restart with a full outbox
    d = start([slack("oncall", url)], rules(["oncall"]), directory=directory)
    for i, n in enumerate(names[2:]):
        post(d, alarm(n, "down-%d" % (i + 2)))
    t.ok(krzk.wait_until(lambda: d.metric("outbox_depth", 'receiver="oncall"') == 4.0, krzk.tmout(5)),
         "after the restart the two are still there, and two more")
    r = krreceiver.Receiver.start(listen="127.0.0.1:%d" % port)
    reqs = r.wait_requests(4, krzk.tmout(10))
    got = [q["json"]["blocks"][2]["fields"][1]["text"].split("\n")[1].split(" (")[0] for q in reqs]
    t.eq(got, names, "all delivered once the receiver is up, in the order the incidents fired")
    t.ok(krzk.wait_until(lambda: d.metric("outbox_depth", 'receiver="oncall"') == 0.0, krzk.tmout(5)), "outbox empty")
    d.stop()
    d = start([slack("oncall", url)], rules(["oncall"]), directory=directory)
    time.sleep(1.0)
    t.eq(len(r.requests()), 4, "another restart sends nothing twice")
    t.eq(d.stop(), 0, "the daemon stops cleanly")
    r.stop()


@t.case
def hanging_receiver_does_not_slow_the_intake():
    r = krreceiver.Receiver.start(hang=True)
    d = start([slack("oncall", r.url("/s"))], rules(["oncall"]), outbox={"timeout": "1s"})
    worst = 0.0
    for i in range(60):
        worst = max(worst, post(d, alarm("hang-%d" % i, "hang-%d" % i)))
    t.ok(len(r.requests()) >= 1, "the receiver got a page and never answers")
    t.ok(worst < 0.25, "every intake POST stayed fast while pages hang (worst %.1f ms)" % (worst * 1000))
    t.ok(krzk.wait_until(lambda: d.metric("pages_retried_total", 'receiver="oncall"') >= 1, krzk.tmout(5)),
         "the hung attempt timed out and is retried")
    code, _, _ = d.request("GET", "/healthz", timeout=1)
    t.eq(code, 200, "the daemon answers")
    t.eq(d.stop(), 0, "and stops cleanly with a request hanging")
    r.stop()


t.finish()
