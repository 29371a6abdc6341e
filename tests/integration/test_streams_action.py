"""tests/integration/test_streams_action.py: mark_streams_reset in the real daemon, against
a real ZooKeeper, the Kafka cluster simulator (krsim: the brokers' registrations and the
partition assignments the cluster model reads) and librdkafka's mock cluster in its own
process (build/tests/tools/mockkafka: the Kafka protocol side the daemon's librdkafka
client talks to). A rule marks the `affected` apps when a broker leaves:

- broker 3 (which holds a partition of app's input topic) is killed: a mark for app, and
  only app, appears in GET /v1/streams-resets with the reset time = the broker.left
  event's time minus 10m; app's owners get a page with the exact steps;
- broker 4 (which holds only app-v2's changelog, a topic named "app-v2-...-changelog",
  i.e. also "app-" + "...-changelog") is killed: app-v2 is marked, app is not; app-v2 has
  auto_reset never, so its owners' page carries Kafka's own command line;
- the mock cannot describe groups, so app's mark waits and says why, and nothing is
  committed (read back from the mock with its own consumer);
- a restart resumes the marks from the journal; an operator cancel stops the wait; after
  the journal compacts, the marks come back from their snapshot records alone.

What this cannot reach, because the 2.0.2 mock does not answer it (group description with
members, offsets for times, topic deletion), is the reset itself: waiting while members
exist, the offsets for a time, the deletion of exactly the app's internal topics and the
dry run are driven through the action with the fake Kafka in
tests/unit/test_streams_action.c."""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krlib  # noqa: E402
import krreceiver  # noqa: E402
import krzk  # noqa: E402

t = krzk.Checks("streams_action")
TICK_MS = 500
SESSION_MS = 3000
MOCK = os.path.join(krzk.BUILD, "tests", "tools", "mockkafka")
TOKEN = "s3cret-admin"

APP_CL = "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
V2_CL = "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
# Who owns which topic, written by hand from the apps below (independent of the code):
# app-v2's changelog starts with "app-" but is app-v2's.
OWNER = {"orders": "app", APP_CL: "app", "clicks": "app-v2", V2_CL: "app-v2", "invoices": "billing"}
# topic -> {partition: replicas}
ASSIGN = {
    "orders": {0: [1, 2], 1: [2, 3], 2: [1, 2], 3: [2, 1]},
    APP_CL: {0: [1, 2]},
    "clicks": {0: [1, 2]},
    V2_CL: {0: [4]},
    "invoices": {0: [1, 2], 1: [2, 1]},
}


class Mock:
    def __init__(self, *args):
        self.proc = subprocess.Popen([MOCK] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        krzk.on_cleanup(self.stop)
        line = self.proc.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError("mockkafka did not start: %s" % self.proc.stderr.read())
        self.bootstrap = line.strip()

    def committed(self, group, tps):
        out = subprocess.run([MOCK, "--connect", self.bootstrap, "--committed", group, ",".join(tps)],
                             capture_output=True, text=True, timeout=krzk.tmout(30))
        if out.returncode != 0:
            raise RuntimeError("mockkafka --committed: " + out.stderr)
        return json.loads(out.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(what, fn, timeout=20):
    v = krzk.wait_until(fn, krzk.tmout(timeout), 0.05)
    t.ok(v, what)
    return v


def marks(d, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    code, body, _ = d.request("GET", "/v1/streams-resets" + ("?" + qs if qs else ""))
    return body["resets"] if code == 200 else None


def ms(rfc3339):
    s = rfc3339.replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000)


def left_event(d, bid):
    evs = [e for e in (d.events(1000) or []) if e.get("type") == "broker.left"
           and e.get("broker", {}).get("id") == bid]
    return evs[0] if evs else None


def expected_apps(victim):
    touched = {topic for topic, parts in ASSIGN.items() for reps in parts.values() if victim in reps}
    return sorted({OWNER[tp] for tp in touched if tp in OWNER})


ZK = SIM = MK = RCV = D = None
DIR = None
CFG = None


def setup():
    global SIM, MK, RCV, D, DIR, CFG
    SIM = krzk.Sim(ZK.connect, controller_delay_ms=300, session_timeout_ms=SESSION_MS)
    for bid, rack in ((1, "az1"), (2, "az2"), (3, "az3"), (4, "az1")):
        SIM.cmd("broker add %d b%d.kafka.example 9092 %s" % (bid, bid, rack))
    for topic, parts in ASSIGN.items():
        spec = ";".join("%d=%s" % (p, ",".join(map(str, reps))) for p, reps in sorted(parts.items()))
        rf = len(next(iter(parts.values())))
        SIM.cmd("topic create %s %d %d %s" % (topic, len(parts), rf, spec))
    MK = Mock("--brokers", "3", "--topic", "orders:4:10", "--topic", APP_CL + ":1:3",
              "--topic", "clicks:1:5", "--topic", V2_CL + ":1:3", "--topic", "invoices:2:4",
              "--commit", "app:orders:0:4", "--commit", "app:orders:1:7")
    RCV = krreceiver.Receiver.start()
    DIR = tempfile.mkdtemp(prefix="kr-streams-action-")
    rules = os.path.join(DIR, "rules")
    os.mkdir(rules)
    with open(os.path.join(rules, "streams.yaml"), "w") as f:
        f.write("- name: streams-reset-on-broker-left\n"
                "  match: {source: [zookeeper], type: [broker.left]}\n"
                "  group_by: [cluster, broker.id]\n"
                "  actions:\n"
                "    - mark_streams_reset: {apps: affected, to: incident-10m}\n")
    CFG = {
        "rules_dir": rules,
        "admin": {"token": TOKEN},
        "receivers": [{"name": "orders-team", "webhook": {"url": RCV.url("/orders-team")}}],
        "clusters": [{
            "name": "orders", "zookeeper": ZK.connect, "bootstrap_servers": MK.bootstrap,
            "session_timeout": "%dms" % SESSION_MS,
            "streams_apps": [
                {"application_id": "app", "input_topics": ["orders"], "owners": ["orders-team"],
                 "auto_reset": "when-stopped", "poll_interval": "1s", "poll_max": "2s"},
                {"application_id": "app-v2", "input_topics": ["clicks"], "internal_topics": [V2_CL],
                 "owners": ["orders-team"], "auto_reset": "never"},
                {"application_id": "billing", "input_topics": ["invoices"]},
            ]}],
    }
    D = krlib.Daemon.start(CFG, directory=DIR)
    wait_for("the cluster model is loaded",
             lambda: (D.request("GET", "/v1/clusters/orders")[1] or {}).get("synced"))


def test_broker_with_input_partitions_marks_app():
    t.eq(expected_apps(3), ["app"], "broker 3 holds app's input partition orders-1 only")
    SIM.cmd("broker kill 3 expire")
    ev = wait_for("broker.left for broker 3", lambda: left_event(D, 3), timeout=SESSION_MS / 1000 + 15)
    got = wait_for("a mark appears in GET /v1/streams-resets", lambda: marks(D))
    if not ev or not got:
        return
    t.eq(sorted(m["application_id"] for m in got), expected_apps(3), "only app is marked")
    m = got[0]
    t.eq((m["cluster"], m["reason"]["broker"], m["reason"]["event_type"], m["reason"]["event_id"]),
         ("orders", 3, "broker.left", ev["id"]), "the reason: broker 3 left (the event)")
    t.eq(m["reset"]["to"], "datetime", "reset to a time")
    t.eq(ms(m["reset"]["time"]), ms(ev["time"]) - 10 * 60 * 1000,
         "the reset time is the incident's time minus 10m (%s vs event %s)" % (m["reset"]["time"], ev["time"]))
    t.eq(m["to"], "incident-10m", "as the rule said")
    t.eq(m["auto_reset"], "when-stopped", "auto_reset from streams_apps")
    t.eq(m["owners"], ["orders-team"], "owners from streams_apps")
    t.ok(m["id"].endswith("/app") and m["run"] in m["id"], "mark id is <run>/<app>: %s" % m["id"])
    one = D.request("GET", "/v1/streams-resets/" + m["id"])
    t.eq((one[0], one[1].get("application_id")), (200, "app"), "GET /v1/streams-resets/{id}")
    t.eq(D.request("GET", "/v1/streams-resets/nope")[0], 404, "an unknown mark is 404")
    # The mock cannot describe groups: app's mark waits, says why, polls again, and never acts.
    w = wait_for("app's mark is waiting-for-stop and says it cannot confirm the group is empty",
                 lambda: [x for x in marks(D, app="app")
                          if x["state"] == "waiting-for-stop" and x["polls"] >= 2
                          and "cannot confirm that group app has no members" in x["message"]],
                 timeout=15)
    if w:
        t.eq(w[0]["group"]["members"], None, "members unknown")
        t.ok(w[0]["waited_ms"] >= 1000, "how long it has waited is shown (%d ms)" % w[0]["waited_ms"])
    t.eq(MK.committed("app", ["orders:0", "orders:1", "orders:2", "orders:3"]),
         {"orders:0": 4, "orders:1": 7, "orders:2": None, "orders:3": None},
         "nothing was committed to a group that could not be confirmed empty")
    reqs = RCV.wait_requests(1, timeout=krzk.tmout(10))
    pages = [r["json"] for r in reqs if r.get("path") == "/orders-team" and
             "app " in (r.get("json") or {}).get("summary", "")]
    t.ok(pages, "app's owners were paged (webhook orders-team)")
    if pages:
        p = pages[0]
        t.eq(p["summary"], "Kafka Streams app app (orders) must be reset to %s: stop every instance"
             % m["reset"]["time"], "page summary")
        for want in ("Reason: incident %s: broker.left of broker 3 (b3.kafka.example, rack az3)" % m["incident"],
                     "1. Stop every instance of app (its consumer group app must have no members).",
                     "2. kresponder will then reset it: offsets of the input topics (orders) to %s" % m["reset"]["time"],
                     "3. Start the application with its local state cleaned: call KafkaStreams#cleanUp() "
                     "before KafkaStreams#start()"):
            t.ok(want in p["details"], "page details say: %s" % want)
    t.eq(D.metric("streams_marks", 'state="waiting-for-stop"'), 1, "metric: one mark waiting")


def test_app_v2_changelog_is_not_app():
    t.eq(expected_apps(4), ["app-v2"], "broker 4 holds only app-v2's changelog (named app-v2-...)")
    n_pages = len(RCV.requests())
    SIM.cmd("broker kill 4 expire")
    ev = wait_for("broker.left for broker 4", lambda: left_event(D, 4), timeout=SESSION_MS / 1000 + 15)
    got = wait_for("a mark for broker 4's incident", lambda: [m for m in marks(D) if m["reason"]["broker"] == 4])
    if not ev or not got:
        return
    t.eq(sorted(m["application_id"] for m in got), ["app-v2"], "app-v2 is marked, app is not")
    m = got[0]
    t.eq(m["state"], "marked", "auto_reset never: marked, nothing automatic")
    reqs = wait_for("app-v2's owners were paged", lambda: [r["json"] for r in RCV.requests()[n_pages:]
                                                           if "app-v2" in (r.get("json") or {}).get("summary", "")])
    if reqs:
        t_kafka = m["reset"]["time"].rstrip("Z")
        cmd = ("kafka-streams-application-reset.sh --bootstrap-servers %s --application-id app-v2 "
               "--input-topics clicks --internal-topics %s --to-datetime %s" % (MK.bootstrap, V2_CL, t_kafka))
        t.ok(cmd + " --dry-run\n" in reqs[0]["details"], "the page has Kafka's command, dry run first")
        t.ok("3. Reset it:\n" + cmd + "\n" in reqs[0]["details"], "then the command that resets")
        t.eq(m["command"], cmd, "GET shows the same command")
    run = [r for r in D.request("GET", "/v1/incidents/" + m["incident"])[1].get("actions", [])
           if r.get("kind") == "mark_streams_reset"]
    t.ok(run and run[0]["state"] == "done" and "app-v2: marked (manual reset)" in run[0]["message"],
         "the run is done once app-v2 is marked: %s" % (run and run[0]))


def test_restart_resumes_and_cancel_stops():
    global D
    before = {m["id"]: m for m in marks(D)}
    t.eq(D.stop(), 0, "daemon stops")
    D = krlib.Daemon.start_with(D.config_path, DIR)
    after = {m["id"]: m for m in marks(D) or []}
    t.eq(sorted(after), sorted(before), "the marks are back after a restart")
    for mid, m in before.items():
        a = after.get(mid, {})
        t.eq((a.get("state"), a.get("reset"), a.get("waiting_since")),
             (m["state"], m["reset"], m["waiting_since"]), "mark %s resumes as it was" % mid)
    app = [m for m in before.values() if m["application_id"] == "app"][0]
    polls0 = [m for m in marks(D) if m["id"] == app["id"]][0]["polls"]
    wait_for("app's mark polls the group again after the restart",
             lambda: [m for m in marks(D) if m["id"] == app["id"] and m["polls"] > polls0
                      and m["state"] == "waiting-for-stop"], timeout=15)
    code, body, _ = D.request("POST", "/v1/incidents/%s/cancel" % app["incident"],
                              headers={"Authorization": "Bearer " + TOKEN})
    t.ok(code in (200, 202), "operator cancel accepted: %s %s" % (code, body))
    c = wait_for("the mark is cancelled", lambda: [m for m in marks(D) if m["id"] == app["id"]
                                                    and m["state"] == "cancelled"])
    if c:
        polls = c[0]["polls"]
        time.sleep(krzk.tmout(2.5))
        t.eq([m for m in marks(D) if m["id"] == app["id"]][0]["polls"], polls, "polling stopped")
    t.eq(D.metric("streams_resets_total", 'result="cancelled"'), 1, "metric: one cancelled")
    # one mark alone: POST /v1/streams-resets/{id}/cancel (admin token)
    v2 = [m for m in before.values() if m["application_id"] == "app-v2"][0]
    path = "/v1/streams-resets/%s/cancel" % v2["id"]
    t.eq(D.request("POST", path)[0], 401, "cancel without the token: 401")
    t.eq(D.request("GET", path)[0], 405, "GET on cancel: 405")
    code, body, _ = D.request("POST", path, headers={"Authorization": "Bearer " + TOKEN})
    t.eq((code, body.get("state")), (200, "cancelled"), "app-v2's mark cancelled alone: %s" % body)
    code, body, _ = D.request("POST", path, headers={"Authorization": "Bearer " + TOKEN})
    t.eq((code, body.get("error")), (409, "mark %s is already cancelled" % v2["id"]), "again: 409")
    code, _, _ = D.request("POST", "/v1/streams-resets/nope/0/x/cancel", headers={"Authorization": "Bearer " + TOKEN})
    t.eq(code, 404, "an unknown mark: 404")
    t.eq(D.request("POST", "/v1/streams-resets/" + v2["id"])[0], 405, "POST on a mark: 405")
    t.eq(MK.committed("app", ["orders:0", "orders:1"]), {"orders:0": 4, "orders:1": 7},
         "still nothing committed")


def eb_event(n):
    return {"version": "0", "id": "sa-%05d" % n, "detail-type": "EC2 Instance Rebalance Recommendation",
            "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
            "region": "ap-northeast-2",
            "resources": ["arn:aws:ec2:ap-northeast-2:123456789012:instance/i-%04d" % n],
            "detail": {"instance-id": "i-%04d" % n}}


def segments():
    return sorted(f for f in os.listdir(os.path.join(DIR, "journal")) if f.startswith("journal-"))


def test_marks_survive_compaction():
    """The journal compacts (snapshot, older segments removed): the marks come back from
    their snapshot records alone."""
    global D
    # polls counts asks; only those that saw the group change are journaled
    strip = lambda ms_: {m["id"]: {k: v for k, v in m.items() if k not in ("waited", "waited_ms", "polls")}
                         for m in ms_}
    before = strip(marks(D))
    t.eq(D.stop(), 0, "daemon stops")
    cfg = dict(CFG, eventbridge={"secret": "s"}, log_level="warn",
               journal={"segment_size": "64KiB", "compact_after": 2})
    D = krlib.Daemon.start(cfg, directory=DIR)
    for n in range(400):
        code, _, _ = D.post_json("/hooks/eventbridge", eb_event(n), {"X-Kresponder-Secret": "s"})
        if code != 202:
            t.ok(False, "event %d accepted (%d)" % (n, code))
            break
    t.ok(krzk.wait_until(lambda: len(segments()) <= 3, krzk.tmout(15)),
         "older segments were removed by compaction: %s" % segments())
    with open(os.path.join(DIR, "journal", segments()[0])) as f:
        head = f.read()
    t.ok('"kind":"snapshot.begin"' in head.split("\n")[0], "the oldest segment left starts with a snapshot")
    t.ok('"kind":"streams.snapshot"' in head, "the snapshot holds the marks (streams.snapshot)")
    t.ok('"kind":"streams.mark"' not in head, "and not their original records")
    D.kill()
    D = krlib.Daemon.start(cfg, directory=DIR)
    t.eq(strip(marks(D) or []), before, "every mark is the same after a restart from the snapshot")


def main():
    global ZK
    ZK = krzk.ZooKeeper.start(tick_ms=TICK_MS)
    try:
        setup()
    except Exception as e:  # noqa: BLE001
        t.ok(False, "setup: %s" % e)
        t.finish()
        return
    for fn in (test_broker_with_input_partitions_marks_app, test_app_v2_changelog_is_not_app,
               test_restart_resumes_and_cancel_stops, test_marks_survive_compaction):
        t.case(fn)
    if D:
        t.eq(D.stop(), 0, "daemon exits 0")
        if t.failed:
            print("---- daemon log (last 80 lines)")
            print("\n".join(D.log()[-80:]))
    t.finish()


if __name__ == "__main__":
    main()
