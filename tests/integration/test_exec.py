"""tests/integration/test_exec.py: the `exec` action through the real daemon: an
Alertmanager alert for broker 3 fires rules whose programs run without a shell of ours,
read the event JSON on stdin, and whose output lands in the run's detail (GET
/v1/incidents/{id}) and in the journal (it survives a restart); failures, timeouts,
operator cancel, a daemon stopped or killed mid-run (the program is killed, or the run is
failed and never run again)."""
import json
import os
import signal
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("exec")
AM_TOKEN = "am-token"
ADMIN = "admin-secret"

RULES = """
- name: exec-echo
  match: {type: [alert], labels.alertname: [EchoBroker]}
  group_by: [broker.id]
  actions:
    - exec: {argv: [/bin/sh, -c, "echo broker {{broker.id}}"], timeout: 5s}
- name: exec-stdin
  match: {type: [alert], labels.alertname: [CatEvent]}
  group_by: [broker.id]
  actions:
    - exec: {argv: [/bin/sh, -c, "cat; echo \\"$KRESPONDER_INCIDENT $KRESPONDER_RUN $PATH\\" >&2", "{{broker.id}}"]}
- name: exec-fails
  match: {type: [alert], labels.alertname: [FailBroker]}
  group_by: [broker.id]
  actions:
    - exec: {argv: [/bin/sh, -c, "echo cannot reach broker $0 >&2; exit 3", "{{broker.id}}"]}
- name: exec-slow
  match: {type: [alert], labels.alertname: [SlowBroker]}
  group_by: [broker.id]
  actions:
    - exec: {argv: [/bin/sleep, "60"], timeout: 300ms}
- name: exec-long
  match: {type: [alert], labels.alertname: [LongBroker]}
  group_by: [broker.id]
  actions:
    - exec: {argv: [/bin/sleep, "60"], timeout: 30s}
"""


def am_payload(alertname, fingerprint, broker=3):
    """An Alertmanager webhook (version 4) with one firing alert, as Alertmanager sends it."""
    alert = {"status": "firing",
             "labels": {"alertname": alertname, "cluster": "orders-prod", "broker_id": str(broker),
                        "instance": "10.0.1.%d:9308" % broker, "severity": "critical"},
             "annotations": {"summary": "%s on broker %d" % (alertname, broker)},
             "startsAt": "2026-11-24T19:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
             "fingerprint": fingerprint}
    return {"version": "4", "groupKey": "{}:{alertname=\"%s\"}" % alertname, "truncatedAlerts": 0,
            "status": "firing", "receiver": "kresponder", "groupLabels": {"alertname": alertname},
            "commonLabels": {"alertname": alertname, "cluster": "orders-prod"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": [alert]}


def start(directory=None):
    directory = directory or tempfile.mkdtemp(prefix="kr-exec-")
    rdir = os.path.join(directory, "rules")
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, "exec.yaml"), "w") as f:
        f.write(RULES)
    return krlib.Daemon.start({"rules_dir": "rules", "alertmanager": {"token": AM_TOKEN},
                               "admin": {"token": ADMIN}}, directory=directory)


RULE_OF = {"EchoBroker": "exec-echo", "CatEvent": "exec-stdin", "FailBroker": "exec-fails",
           "SlowBroker": "exec-slow", "LongBroker": "exec-long"}


def incident_ids(d, rule):
    code, body, _ = d.request("GET", "/v1/incidents")
    return {i["id"] for i in body if i["rule"] == rule} if code == 200 else set()


def fire(d, alertname, fingerprint, broker=3):
    """Posts one firing alert; returns the id of the incident it opened (or None)."""
    rule = RULE_OF[alertname]
    before = incident_ids(d, rule)
    code, body, _ = d.post_json("/hooks/alertmanager", am_payload(alertname, fingerprint, broker),
                                {"Authorization": "Bearer " + AM_TOKEN})
    t.eq(code, 202, "%s alert accepted" % alertname)
    new = incident_ids(d, rule) - before
    return new.pop() if len(new) == 1 else None


def action(d, iid):
    code, body, _ = d.request("GET", "/v1/incidents/" + iid)
    acts = body.get("actions", []) if code == 200 else []
    return acts[0] if acts else {}


def wait_final(d, iid, seconds):
    return krzk.wait_until(lambda: action(d, iid).get("state") in ("done", "failed", "cancelled"),
                           krzk.tmout(seconds)) and action(d, iid)


def pid_of(act):
    """The program's pid, from the "started ... (pid N, timeout ...)" progress message."""
    for p in act.get("progress", []):
        m = p["message"]
        if m.startswith("started ") and "(pid " in m:
            return int(m.split("(pid ")[1].split(",")[0])
    return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return ") Z " not in f.read()
    except OSError:
        return False


@t.case
def echo_broker_id_and_journal():
    directory = tempfile.mkdtemp(prefix="kr-exec-")
    d = start(directory)
    iid = fire(d, "EchoBroker", "a1")
    t.ok(iid, "an incident was opened for broker 3")
    act = wait_final(d, iid, 5)
    t.eq(act.get("kind"), "exec", "the action is exec")
    t.eq(act.get("state"), "done", "it is done")
    t.eq(act.get("message"), "exit 0", "with its exit status as the message")
    t.eq(act.get("params", {}).get("argv"), ["/bin/sh", "-c", "echo broker 3"], "argv rendered from the event")
    det = act.get("detail", {})
    t.eq(det.get("stdout"), "broker 3\n", "stdout captured")
    t.eq((det.get("exit"), det.get("stderr"), det.get("timed_out")), (0, "", False), "exit 0, no stderr")
    t.ok(isinstance(det.get("duration_ms"), int) and 0 <= det["duration_ms"] < krzk.tmout(5000),
         "duration measured: %r" % det.get("duration_ms"))
    t.eq(d.metric("actions_total", 'kind="exec",result="running"'), 1.0,
         "counted when dispatched (it was running then)")
    d.stop()
    with open(os.path.join(directory, "journal", sorted(os.listdir(os.path.join(directory, "journal")))[-1])) as f:
        journal = f.read()
    t.ok('"stdout":"broker 3\\n"' in journal, "the output is in the journal")
    d = start(directory)
    again = action(d, iid)
    t.eq((again.get("state"), again.get("detail", {}).get("stdout")), ("done", "broker 3\n"),
         "and comes back from it after a restart")
    t.eq(len([p for p in again.get("progress", []) if p["message"].startswith("started ")]), 1,
         "the program was not run again")
    d.stop()


@t.case
def event_json_on_stdin_and_environment():
    d = start()
    iid = fire(d, "CatEvent", "b1")
    act = wait_final(d, iid, 5)
    t.eq(act.get("state"), "done", "done")
    det = act.get("detail", {})
    out = det.get("stdout", "")
    t.ok(out.endswith("\n") and out.count("\n") == 1, "one line of JSON on stdin: %r" % out[:80])
    try:
        ev = json.loads(out)
    except ValueError:
        ev = {}
    events = d.events() or []
    mine = [e for e in events if e.get("id") == ev.get("id")]
    t.ok(ev.get("id", "").startswith("am:b1:"), "the event read on stdin is the alert: %r" % ev.get("id"))
    t.eq(mine[0] if mine else None, ev, "exactly the normalized event GET /v1/events shows")
    t.eq(ev.get("broker"), {"id": 3}, "with its broker")
    t.eq(det.get("stderr"), "%s %s/0 /usr/bin:/bin\n" % (iid, iid),
         "KRESPONDER_INCIDENT, KRESPONDER_RUN and PATH set for the program")
    d.stop()


@t.case
def failure_timeout_and_cancel():
    d = start()
    iid = fire(d, "FailBroker", "c1")
    act = wait_final(d, iid, 5)
    t.eq((act.get("state"), act.get("message")), ("failed", "exit 3"), "exit 3 fails the run")
    t.eq(act.get("detail", {}).get("stderr"), "cannot reach broker 3\n", "stderr captured")
    t.eq(d.metric("actions_total", 'kind="exec",result="running"'), 1.0, "one exec dispatched")

    t0 = time.monotonic()
    iid = fire(d, "SlowBroker", "c2")
    act = wait_final(d, iid, 5)
    took = time.monotonic() - t0
    t.eq((act.get("state"), act.get("message")), ("failed", "killed by signal 15 after timeout 300ms"),
         "a program past its timeout is killed")
    t.ok(took < krzk.tmout(2.5), "within the timeout plus a little (%.2fs)" % took)
    t.eq(act.get("detail", {}).get("timed_out"), True, "detail says timed_out")
    msgs = [p["message"] for p in act.get("progress", [])]
    t.ok("timeout 300ms: SIGTERM sent" in msgs, "progress names the SIGTERM: %r" % msgs)

    iid = fire(d, "LongBroker", "c3")
    t.ok(krzk.wait_until(lambda: pid_of(action(d, iid)), krzk.tmout(3)), "the long program started")
    pid = pid_of(action(d, iid))
    t.ok(pid and alive(pid), "its process is alive")
    code, body, _ = d.request("POST", "/v1/incidents/%s/cancel" % iid, "", {"Authorization": "Bearer " + ADMIN})
    t.eq(code, 200, "operator cancel accepted")
    act = wait_final(d, iid, 5)
    t.eq((act.get("state"), act.get("message")), ("cancelled", "cancelled: killed by signal 15"),
         "the run is cancelled and the program stopped")
    t.ok(pid and not alive(pid), "the process is gone")
    d.stop()


@t.case
def daemon_stop_and_crash_mid_run():
    directory = tempfile.mkdtemp(prefix="kr-exec-")
    d = start(directory)
    iid = fire(d, "LongBroker", "d1")
    t.ok(krzk.wait_until(lambda: pid_of(action(d, iid)), krzk.tmout(3)), "running")
    pid = pid_of(action(d, iid))
    t.eq(d.stop(), 0, "the daemon stops cleanly with a program running")
    t.ok(pid and krzk.wait_until(lambda: not alive(pid), krzk.tmout(3)),
         "and does not leave the program behind")
    d = start(directory)
    act = action(d, iid)
    t.eq((act.get("state"), act.get("message")), ("failed", "interrupted by a restart; not run again"),
         "after the restart the interrupted run is failed, not re-run")
    t.eq(d.metric("actions_total", 'kind="exec",result="running"'), 0.0, "nothing dispatched again")

    iid = fire(d, "LongBroker", "d2", broker=4)
    t.ok(krzk.wait_until(lambda: pid_of(action(d, iid)), krzk.tmout(3)), "a second one runs")
    pid = pid_of(action(d, iid))
    d.kill()  # SIGKILL: nothing can clean up; the program is orphaned in its own group
    if pid and alive(pid):
        os.killpg(pid, signal.SIGKILL)
    d = start(directory)
    act = action(d, iid)
    t.eq((act.get("state"), act.get("message")), ("failed", "interrupted by a restart; not run again"),
         "SIGKILL mid-run: failed after restart, never run twice")
    t.eq(len([p for p in act.get("progress", []) if p["message"].startswith("started ")]), 1,
         "started exactly once")
    d.stop()


t.finish()
