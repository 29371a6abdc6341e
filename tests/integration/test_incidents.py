"""tests/integration/test_incidents.py: rules → incidents → action runs in the real
daemon: `for` timers, resolve before `for`, repeats counted not re-acted, operator cancel
and pause (bearer token), reload (SIGHUP and POST /v1/reload; a broken set keeps the old
one), and incidents, runs and pending timers surviving a SIGKILL restart."""
import json
import os
import signal
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("incidents")
SECRET = "eb-secret"
TOKEN = "admin-secret"

RULES = """
- name: log-on-stopping
  match: {type: [instance.stopping]}
  for: 1s
  group_by: [instance.id]
  actions:
    - log: {message: "instance {{instance.id}} is stopping ({{type}})"}
- name: log-on-stopped
  match: {type: [instance.stopped]}
  for: 3s
  group_by: [instance.id]
  actions:
    - log: {message: "stopped {{instance.id}}"}
- name: evacuate-on-terminated
  match: {type: [instance.terminated]}
  group_by: [instance.id]
  actions:
    - log: {message: "terminated {{instance.id}}"}
    - evacuate: {brokers: ["3"], to: same-stack}
"""


def ec2(state, instance, eid):
    return {"version": "0", "id": eid, "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
            "region": "ap-northeast-2",
            "resources": ["arn:aws:ec2:ap-northeast-2:123456789012:instance/" + instance],
            "detail": {"instance-id": instance, "state": state}}


def start(directory=None, rules=RULES, extra=None):
    directory = directory or tempfile.mkdtemp(prefix="kr-inc-")
    rdir = os.path.join(directory, "rules")
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, "test.yaml"), "w") as f:
        f.write(rules)
    cfg = {"rules_dir": "rules", "eventbridge": {"secret": SECRET}, "admin": {"token": TOKEN}}
    cfg.update(extra or {})
    return krlib.Daemon.start(cfg, directory=directory)


def post(d, state, instance, eid):
    code, body, _ = d.post_json("/hooks/eventbridge", ec2(state, instance, eid), {"X-Kresponder-Secret": SECRET})
    t.eq(code, 202, "event %s accepted" % eid)


def incidents(d, rule=None):
    code, body, _ = d.request("GET", "/v1/incidents")
    return [i for i in body if rule is None or i["rule"] == rule]


def admin(d, path, token=TOKEN):
    return d.request("POST", path, "", {"Authorization": "Bearer " + token} if token else {})


@t.case
def for_then_fire_then_resolve():
    d = start()
    post(d, "stopping", "i-0aaa", "e-1")
    inc = incidents(d, "log-on-stopping")
    t.eq(len(inc), 1, "one incident opened")
    t.eq(inc[0]["state"], "pending", "pending while `for` runs")
    t.ok(krzk.wait_until(lambda: incidents(d, "log-on-stopping")[0]["state"] == "firing", krzk.tmout(5)),
         "firing once `for` (1s) has passed")
    one = d.request("GET", "/v1/incidents/" + inc[0]["id"])[1]
    acts = one.get("actions", [])
    t.eq([a["kind"] for a in acts], ["log"], "the log action ran")
    t.eq(acts[0]["state"] if acts else None, "done", "and is done")
    t.eq(acts[0]["message"] if acts else None, "instance i-0aaa is stopping (instance.stopping)",
         "with its template rendered from the event")
    post(d, "stopping", "i-0aaa", "e-2")
    one = d.request("GET", "/v1/incidents/" + inc[0]["id"])[1]
    t.eq(len(one["actions"]), 1, "a repeated firing event does not act again")
    t.eq(d.metric("actions_total", 'kind="log",result="done"'), 1.0, "one action counted")
    post(d, "running", "i-0aaa", "e-3")
    t.eq(incidents(d, "log-on-stopping")[0]["state"], "resolved", "running resolves it")
    code, body, _ = d.request("GET", "/v1/incidents/inc-nope")
    t.eq((code, body), (404, {"error": "no such incident: inc-nope"}), "unknown incident → 404")
    d.stop()


@t.case
def resolve_before_for_cancels():
    d = start()
    post(d, "stopped", "i-0bbb", "e-10")
    t.eq(incidents(d, "log-on-stopped")[0]["state"], "pending", "pending (for: 3s)")
    post(d, "running", "i-0bbb", "e-11")
    inc = incidents(d, "log-on-stopped")[0]
    t.eq(inc["state"], "cancelled", "a resolve before `for` ends cancels")
    time.sleep(krzk.tmout(3.5))
    t.eq(incidents(d, "log-on-stopped")[0]["state"], "cancelled", "and nothing fires later")
    t.eq(d.request("GET", "/v1/incidents/" + inc["id"])[1].get("actions", []), [], "no action ran")
    d.stop()


@t.case
def operator_cancel_and_pause():
    d = start()
    post(d, "stopped", "i-0ccc", "e-20")
    iid = incidents(d, "log-on-stopped")[0]["id"]
    code, body, hdrs = admin(d, "/v1/incidents/%s/cancel" % iid, token=None)
    t.eq(code, 401, "cancel without a token → 401")
    code, _, _ = admin(d, "/v1/incidents/%s/cancel" % iid, token="wrong")
    t.eq(code, 401, "wrong token → 401")
    code, body, _ = admin(d, "/v1/incidents/%s/cancel" % iid)
    t.eq((code, body.get("state")), (200, "cancelled"), "cancelled by the operator")
    code, body, _ = admin(d, "/v1/incidents/%s/cancel" % iid)
    t.eq(code, 409, "cancelling again → 409")
    code, body, _ = admin(d, "/v1/pause")
    t.eq((code, body), (200, {"paused": True}), "paused")
    post(d, "terminated", "i-0ddd", "e-21")
    inc = incidents(d, "evacuate-on-terminated")[0]
    one = d.request("GET", "/v1/incidents/" + inc["id"])[1]
    states = {a["kind"]: (a["state"], a["message"]) for a in one.get("actions", [])}
    t.eq(states.get("log", ("?",))[0], "done", "paging/logging goes on while paused")
    ev = states.get("evacuate", ("?", ""))
    t.eq(ev[0], "skipped", "a Kafka-changing action is skipped while paused")
    t.ok(ev[1].startswith('paused (POST /v1/pause): would have run evacuate {"brokers":["3"],"to":"same-stack"}'),
         "and says what it would have done: %s" % ev[1])
    code, body, _ = admin(d, "/v1/resume")
    t.eq((code, body), (200, {"paused": False}), "resumed")
    d.stop()


@t.case
def rate_limit_per_target():
    d = start(extra={"guards": {"max_actions_per_target": 2, "window": "1h"}})
    for n, inst in enumerate(["i-0r1", "i-0r2", "i-0r3"]):
        post(d, "terminated", inst, "e-rl-%d" % n)
    runs = []
    for inc in sorted(incidents(d, "evacuate-on-terminated"), key=lambda i: i["started"]):
        one = d.request("GET", "/v1/incidents/" + inc["id"])[1]
        runs += [(a["state"], a["message"]) for a in one.get("actions", []) if a["kind"] == "evacuate"]
    t.eq(len(runs), 3, "three evacuations dispatched for broker 3")
    skipped = [m for st, m in runs if st == "skipped"]
    t.eq(len(skipped), 1, "exactly one (the third) is skipped by the per-target rate limit: %s" % runs)
    t.ok(skipped == ["rate limit: -/broker 3 already had 2 Kafka-changing actions within 1h (guards.max_actions_per_target)"],
         "and says why: %s" % skipped)
    d.stop()


@t.case
def reload_keeps_old_rules_on_error():
    directory = tempfile.mkdtemp(prefix="kr-inc-")
    d = start(directory)
    bad = os.path.join(directory, "rules", "broken.yaml")
    with open(bad, "w") as f:
        f.write("- name: broken\n  match: {type: [x]}\n  actions:\n    - evacuat: {brokers: [1]}\n")
    d.signal(signal.SIGHUP)
    t.ok(krzk.wait_until(lambda: d.metric("rule_reloads_total", 'result="failed"') == 1.0, krzk.tmout(5)),
         "SIGHUP with a broken file: reload failed")
    t.eq(d.metric("rules_loaded"), 3.0, "the old rules stay")
    code, body, _ = admin(d, "/v1/reload")
    t.eq(code, 422, "POST /v1/reload with a broken file → 422")
    t.ok(bad + ":4:7: unknown action kind \"evacuat\"" in body.get("errors", ""),
         "names file:line:col: %s" % body.get("errors"))
    post(d, "stopping", "i-0eee", "e-30")
    t.eq(len(incidents(d, "log-on-stopping")), 1, "the old rules still match")
    os.unlink(bad)
    with open(os.path.join(directory, "rules", "more.yaml"), "w") as f:
        f.write("- name: extra\n  match: {type: [instance.rebalance]}\n  actions: [{log: {message: x}}]\n")
    code, body, _ = admin(d, "/v1/reload")
    t.eq((code, body), (200, {"rules": 4, "files": 2}), "a good reload swaps the set in")
    t.eq(incidents(d, "log-on-stopping")[0]["state"] in ("pending", "firing"), True, "incidents survive a reload")
    d.stop()


@t.case
def restart_keeps_incidents_runs_and_timers():
    directory = tempfile.mkdtemp(prefix="kr-inc-")
    d = start(directory)
    post(d, "terminated", "i-0fff", "e-40")     # fires at once: log done, evacuate has no executor yet
    post(d, "stopped", "i-0999", "e-41")        # pending for 3s
    fired = incidents(d, "evacuate-on-terminated")[0]
    before = d.request("GET", "/v1/incidents/" + fired["id"])[1]
    d.kill()
    d = start(directory)
    after = d.request("GET", "/v1/incidents/" + fired["id"])[1]
    t.eq(after.get("state"), "firing", "a firing incident is still firing after SIGKILL + restart")
    t.eq([(a["kind"], a["state"]) for a in after.get("actions", [])],
         [(a["kind"], a["state"]) for a in before.get("actions", [])], "its runs are restored, not re-run")
    t.eq(d.metric("actions_total", 'kind="log",result="done"'), 0.0, "no action ran again after restart")
    pending = incidents(d, "log-on-stopped")
    t.eq([p["state"] for p in pending], ["pending"], "the pending incident is restored")
    t.ok(krzk.wait_until(lambda: incidents(d, "log-on-stopped")[0]["state"] == "firing", krzk.tmout(6)),
         "and fires when the rest of its `for` has passed")
    d.stop()


t.finish()
