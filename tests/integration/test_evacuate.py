"""tests/integration/test_evacuate.py: the evacuation executor in the real daemon against a
real ZooKeeper and the Kafka cluster simulator (krsim, which plays the controller and logs
every reassignment znode it handled): batches that keep max_moves_per_broker, throttles set
and removed exactly (other config keys kept), a foreign reassignment waited for and never
overwritten, operator cancel mid-evacuation, SIGKILL of the daemon with a batch in flight
(no batch written twice), a blue -> green drain from a broker.left event, dry run writing
nothing, the brokers-down guard (guard.paused event) and preferred-leader election."""
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krlib  # noqa: E402
import krzk  # noqa: E402

t = krzk.Checks("evacuate")
TICK_MS = 500
SESSION_MS = 3000
TOKEN = "admin-secret"
ZK = krzk.ZooKeeper.start(tick_ms=TICK_MS)  # one server; each case has its own chroot
ONLY = sys.argv[1:]  # case names to run (all when empty)

RULES = """
- name: evacuate
  match: {type: [alert], labels.alertname: [Evacuate]}
  group_by: [labels.broker, labels.run]
  actions:
    - evacuate:
        brokers: ["{{labels.broker}}"]
        to: any
        throttle: 10MB/s
        max_moves_per_broker: 2
- name: evacuate-slow
  match: {type: [alert], labels.alertname: [EvacuateOneByOne]}
  group_by: [labels.broker, labels.run]
  actions:
    - evacuate: {brokers: ["{{labels.broker}}"], to: any, throttle: 1MB/s, max_moves_per_broker: 1}
- name: evacuate-dry
  match: {type: [alert], labels.alertname: [EvacuateDry]}
  group_by: [labels.broker]
  actions:
    - evacuate: {brokers: ["{{labels.broker}}"], to: any, dry_run: true}
- name: drain-on-broker-left
  match: {type: [broker.left], broker.stack: [blue]}
  group_by: [cluster]
  actions:
    - drain_stack: {from: blue, to: green, max_moves_per_broker: 3}
- name: elect
  match: {type: [alert], labels.alertname: [Elect]}
  group_by: [labels.broker, labels.run]
  actions:
    - elect_leaders: {brokers: ["{{labels.broker}}"]}
"""


def wait_for(what, fn, timeout=30):
    v = krzk.wait_until(fn, krzk.tmout(timeout), 0.1)
    t.ok(v, what)
    return v


def case(fn):
    if not ONLY or fn.__name__ in ONLY:
        t.case(fn)
    return fn


class Case:
    """One chroot on the shared ZooKeeper, a krsim on it and a daemon watching it."""

    def __init__(self, name, brokers, topics, delay_ms=300, cluster_extra=None, directory=None):
        self.name = name
        self.connect = ZK.connect + "/" + name
        self.sim = krzk.Sim(self.connect, controller_delay_ms=delay_ms, session_timeout_ms=SESSION_MS)
        for bid, rack in brokers:
            self.sim.cmd("broker add %d b%d.kafka.example 9092 %s" % (bid, bid, rack))
        for spec in topics:
            self.sim.cmd("topic create " + spec)
        self.cluster_extra = cluster_extra or {}
        self.dir = directory or tempfile.mkdtemp(prefix="kr-evac-")
        rdir = os.path.join(self.dir, "rules")
        os.makedirs(rdir, exist_ok=True)
        with open(os.path.join(rdir, "evacuate.yaml"), "w") as f:
            f.write(RULES)
        self.d = None

    def start(self):
        c = {"name": "orders", "zookeeper": self.connect, "session_timeout": "%dms" % SESSION_MS,
             "stacks": {"blue": "1-1000", "green": "1001-2000"}}
        c.update(self.cluster_extra)
        self.d = krlib.Daemon.start({"rules_dir": "rules", "admin": {"token": TOKEN}, "clusters": [c]},
                                    directory=self.dir)
        wait_for("%s: the model is loaded" % self.name, lambda: self.cluster().get("synced"))
        return self.d

    def cluster(self):
        code, body, _ = self.d.request("GET", "/v1/clusters/orders")
        return body if code == 200 else {}

    def alert(self, alertname, broker, run="1"):
        code, body, _ = self.d.post_json("/hooks/alertmanager", {
            "version": "4", "status": "firing", "receiver": "kr", "groupKey": "{}:{}",
            "alerts": [{"status": "firing",
                        "labels": {"alertname": alertname, "cluster": "orders", "broker": str(broker),
                                   "run": run},
                        "startsAt": "2026-11-24T19:00:00Z",
                        "fingerprint": "%s-%s-%s" % (alertname, broker, run)}]})
        t.eq(code, 202, "%s: alert %s accepted" % (self.name, alertname))

    def runs(self, kind):
        code, body, _ = self.d.request("GET", "/v1/incidents")
        out = []
        for inc in body if code == 200 else []:
            for a in inc.get("actions", []):
                if a["kind"] == kind:
                    a["incident"] = inc["id"]
                    out.append(a)
        return out

    def run_in(self, kind, states, timeout=60):
        def f():
            r = self.runs(kind)
            return r[0] if r and r[0]["state"] in states else None
        return krzk.wait_until(f, krzk.tmout(timeout), 0.1)

    def assignment(self):
        out = {}
        for topic in krzk.zk_ls(self.connect, "/brokers/topics"):
            for p, reps in krzk.zk_json(self.connect, "/brokers/topics/" + topic)["partitions"].items():
                st = krzk.zk_json(self.connect, "/brokers/topics/%s/partitions/%s/state" % (topic, p))
                out[(topic, int(p))] = (reps, st["isr"], st["leader"])
        return out

    def stop(self):
        if self.d:
            rc = self.d.stop()
            t.eq(rc, 0, "%s: the daemon stops cleanly (no leak or error under ASan)" % self.name)
            if rc != 0:
                print("".join(self.d.log()[-40:]))
        self.sim.stop()


def no_throttles(c):
    """krsim's throttles once it has read every config change notification (a broker
    applies a config change when it sees the notification, a little after the write)."""
    krzk.wait_until(lambda: c.sim.cmd("throttles") == {}, krzk.tmout(5), 0.1)
    return c.sim.cmd("throttles")


def moves_per_broker(before, znode_parts):
    """{broker: partition moves it takes part in} for one reassignment znode."""
    count = {}
    for p in znode_parts:
        old = before[(p["topic"], p["partition"])][0]
        new = p["replicas"]
        for b in set(old) ^ set(new):
            count[b] = count.get(b, 0) + 1
    return count


SIX = [(1, "az1"), (2, "az2"), (3, "az3"), (4, "az1"), (5, "az2"), (6, "az3")]


@case
def batches_and_throttles():
    c = Case("batches", SIX, ["orders 12 3", "payments 6 2"])
    krzk.zk_create(c.connect, "/config/topics/orders", json.dumps(
        {"version": 1, "config": {"retention.ms": "3600000"}}))
    c.start()
    before = c.assignment()
    on3 = sorted(tp for tp, (reps, _, _) in before.items() if 3 in reps)
    c.alert("Evacuate", 3)
    run = c.run_in("evacuate", ("done", "failed", "cancelled"))
    t.ok(run, "the evacuation finished")
    if not run:
        return
    t.eq(run["state"], "done", "evacuation done: %s" % run["message"])
    det = run.get("detail", {})
    t.eq(det.get("partitions_total"), len(on3), "the plan moves every partition on broker 3")
    t.eq(det.get("partitions_moved"), len(on3), "every partition moved and checked")
    t.eq(det.get("batches_done"), det.get("batches_total"), "every batch done")
    t.eq([b["state"] for b in det.get("batches", [])], ["done"] * det.get("batches_total", -1),
         "batch states in the detail")
    seen = c.sim.cmd("reassignments")
    t.eq(len(seen), det.get("batches_total"), "one znode per batch (krsim saw %d)" % len(seen))
    worst = max((max(moves_per_broker(before, z["partitions"]).values()) for z in seen), default=0)
    t.ok(worst <= 2, "never more than max_moves_per_broker=2 moves per broker in one znode (max %d)" % worst)
    listed = [(p["topic"], p["partition"]) for z in seen for p in z["partitions"]]
    t.eq(sorted(listed), on3, "each moved partition written exactly once")
    t.eq(len({z["czxid"] for z in seen}), len(seen), "each batch is a new znode")
    after = c.assignment()
    t.eq([tp for tp, (reps, _, _) in after.items() if 3 in reps], [], "no replica left on broker 3")
    t.ok(all(sorted(isr) == sorted(reps) for reps, isr, _ in after.values()), "ISR == replicas everywhere")
    t.eq({tp: v[0] for tp, v in after.items() if tp not in on3},
         {tp: v[0] for tp, v in before.items() if tp not in on3}, "no other partition moved")
    # throttles: set while moving, all removed at the end, other keys kept
    log = c.sim.cmd("throttle-log")
    rates = [e for e in log if e["entity"].startswith("brokers/") and
             e["config"].get("leader.replication.throttled.rate") == "10000000"]
    t.ok(rates, "broker throttle rates were set (10MB/s = 10000000)")
    lists = [e for e in log if e["entity"] == "topics/orders" and
             "leader.replication.throttled.replicas" in e["config"]]
    t.ok(lists and all(":3" in e["config"]["leader.replication.throttled.replicas"] for e in lists),
         "leader throttle lists name the pre-move replicas (broker 3)")
    t.ok(lists and all(":3" not in e["config"].get("follower.replication.throttled.replicas", "")
                       for e in lists), "follower lists name destinations only")
    # brokers apply config changes when they see the notification: give krsim a moment
    t.eq(no_throttles(c), {}, "every throttle removed at the end (krsim throttles)")
    cfg = krzk.zk_json(c.connect, "/config/topics/orders")
    t.eq(cfg["config"], {"retention.ms": "3600000"}, "the topic's own config kept, throttle keys gone")
    t.eq(krzk.zk_exists(c.connect, "/admin/reassign_partitions"), False, "no reassignment left")
    t.eq(c.d.metric("evacuation_batches_total", 'cluster="orders"'), len(seen), "metric batches")
    t.eq(c.d.metric("evacuation_partitions_moved_total", 'cluster="orders"'), len(on3), "metric partitions moved")
    code, inc, _ = c.d.request("GET", "/v1/incidents/" + run["incident"])
    t.ok(code == 200 and any("written to /admin/reassign_partitions" in p["message"]
                             for p in inc["actions"][0]["progress"]),
         "progress messages in GET /v1/incidents/{id}")
    c.stop()


@case
def foreign_reassignment_waited_for():
    c = Case("foreign", SIX, ["orders 6 3"])
    c.start()
    # a reassignment someone else started (invalid for the controller, so it stays)
    foreign = '{"version":1,"partitions":[{"topic":"elsewhere","partition":0,"replicas":[1,2]'
    krzk.zk_create(c.connect, "/admin/reassign_partitions", foreign)
    c.alert("Evacuate", 3)
    run = wait_for("the run reports it waits for the foreign reassignment",
                   lambda: next((r for r in c.runs("evacuate") if "did not start" in r["message"]), None))
    time.sleep(1.5)
    t.eq(krzk.zk_get(c.connect, "/admin/reassign_partitions"), foreign, "the foreign znode is never overwritten")
    t.eq(c.runs("evacuate")[0]["state"], "running", "still running while it waits")
    t.eq(c.sim.cmd("reassignments"), [], "nothing written meanwhile")
    krzk.zk_delete(c.connect, "/admin/reassign_partitions")
    run = c.run_in("evacuate", ("done", "failed", "cancelled"))
    t.ok(run and run["state"] == "done", "done once the foreign reassignment is gone: %s" % (run or {}).get("message"))
    t.eq([tp for tp, (reps, _, _) in c.assignment().items() if 3 in reps], [], "broker 3 evacuated")
    c.stop()


@case
def cancel_mid_evacuation():
    c = Case("cancel", SIX, ["orders 12 3"], delay_ms=2000)
    c.start()
    c.alert("EvacuateOneByOne", 3)
    run = wait_for("batch 1 written", lambda: next((r for r in c.runs("evacuate")
                                                   if (r.get("detail") or {}).get("batches", [{}])[0].get("state") == "written"), None))
    if not run:
        return
    total = run["detail"]["batches_total"]
    t.ok(total > 2, "several batches planned (%d)" % total)
    t.ok(c.sim.cmd("throttles") != {}, "throttles are set while batch 1 moves")
    code, _, _ = c.d.request("POST", "/v1/incidents/%s/cancel" % run["incident"], "",
                             {"Authorization": "Bearer " + TOKEN})
    t.eq(code, 200, "cancel accepted")
    run = c.run_in("evacuate", ("done", "failed", "cancelled"))
    t.eq((run or {}).get("state"), "cancelled", "the run ends cancelled: %s" % (run or {}).get("message"))
    det = (run or {}).get("detail", {})
    t.eq(det.get("batches_done"), 1, "it stopped after the batch in flight")
    t.eq(len(c.sim.cmd("reassignments")), 1, "no batch written after the cancel")
    t.eq(no_throttles(c), {}, "throttles removed on cancel")
    t.eq(krzk.zk_exists(c.connect, "/admin/reassign_partitions"), False, "no reassignment left")
    c.stop()


@case
def restart_mid_evacuation():
    c = Case("restart", SIX, ["orders 12 3", "payments 4 3"], delay_ms=1500)
    c.start()
    before = c.assignment()
    on3 = sorted(tp for tp, (reps, _, _) in before.items() if 3 in reps)
    c.alert("Evacuate", 3)
    ok = wait_for("a batch is in flight", lambda: krzk.zk_exists(c.connect, "/admin/reassign_partitions"))
    if not ok:
        return
    c.d.kill()  # SIGKILL with the batch in the znode
    in_flight = len(c.sim.cmd("reassignments"))
    c.d = None
    c.start()
    run = c.run_in("evacuate", ("done", "failed", "cancelled"), timeout=90)
    t.eq((run or {}).get("state"), "done", "the evacuation finishes after the restart: %s" % (run or {}).get("message"))
    t.ok(run and any("resuming after a restart" in p["message"] for p in run["progress"]),
         "the run was resumed, not started again")
    seen = c.sim.cmd("reassignments")
    listed = [(p["topic"], p["partition"]) for z in seen for p in z["partitions"]]
    t.eq(sorted(listed), on3, "every partition written exactly once across the restart")
    t.ok(len(seen) >= in_flight, "batches before the kill kept (%d then %d)" % (in_flight, len(seen)))
    t.eq([tp for tp, (reps, _, _) in c.assignment().items() if 3 in reps], [], "broker 3 evacuated")
    t.eq(no_throttles(c), {}, "throttles removed")
    c.stop()


@case
def clean_stop_mid_batch():
    c = Case("stop", SIX, ["orders 6 3"], delay_ms=2000)
    c.start()
    c.alert("Evacuate", 3)
    ok = wait_for("a batch is in flight", lambda: krzk.zk_exists(c.connect, "/admin/reassign_partitions"))
    if not ok:
        return
    rc = c.d.stop()  # SIGTERM with ZooKeeper calls and watches in flight
    t.eq(rc, 0, "the daemon stops cleanly with a batch in flight")
    c.d = None
    c.start()
    run = c.run_in("evacuate", ("done", "failed", "cancelled"), timeout=60)
    t.eq((run or {}).get("state"), "done", "and finishes after the restart: %s" % (run or {}).get("message"))
    listed = [(p["topic"], p["partition"]) for z in c.sim.cmd("reassignments") for p in z["partitions"]]
    t.eq(len(listed), len(set(listed)), "no partition written twice")
    c.stop()


@case
def drain_blue_to_green_on_broker_left():
    blue_green = [(1, "az1"), (2, "az2"), (3, "az3"), (1001, "az1"), (1002, "az2"), (1003, "az3")]
    c = Case("drain", blue_green, ["orders 8 3 " + ";".join("%d=1,2,3" % p for p in range(8)),
                                   "payments 4 2 0=1,2;1=2,3;2=3,1;3=1,3"])
    c.start()
    c.sim.cmd("broker kill 2 expire")
    run = c.run_in("drain_stack", ("done", "failed", "cancelled"), timeout=90)
    t.eq((run or {}).get("state"), "done", "drain done: %s" % (run or {}).get("message"))
    after = c.assignment()
    t.eq(sorted(b for reps, _, _ in after.values() for b in reps if b < 1000), [],
         "no replica left on the blue stack")
    t.ok(all(len(set(reps)) == len(reps) for reps, _, _ in after.values()), "no duplicate replicas")
    t.eq({tp: len(v[0]) for tp, v in after.items()}, {("orders", p): 3 for p in range(8)} |
         {("payments", p): 2 for p in range(4)}, "replication factors kept")
    ev = [e for e in c.d.events(200) if e.get("type") == "broker.left"]
    t.ok(ev and ev[0]["broker"]["id"] == 2, "started by broker.left of broker 2")
    c.stop()


@case
def one_evacuation_at_a_time():
    c = Case("concurrency", SIX, ["orders 12 3"], delay_ms=800)
    c.start()
    c.alert("Evacuate", 3)
    c.alert("Evacuate", 4)
    waiting = wait_for("the second evacuation waits for a slot",
                       lambda: [r for r in c.runs("evacuate") if "max_concurrent_evacuations" in r["message"]])
    t.ok(waiting and waiting[0]["state"] == "running" and not waiting[0].get("detail"),
         "it waits before planning (it will plan from the model the first one leaves)")
    t.eq(c.d.metric("evacuations_running", 'cluster="orders"'), 1, "one evacuation holds the slot")

    def both_done():
        r = c.runs("evacuate")
        return len(r) == 2 and all(x["state"] in ("done", "failed", "cancelled") for x in r) and r
    runs = krzk.wait_until(both_done, krzk.tmout(90), 0.2)
    t.eq(sorted(x["state"] for x in runs or []), ["done", "done"], "both evacuations done")
    seen = c.sim.cmd("reassignments")
    # each znode belongs to one evacuation, and the second's znodes all come after the first's
    first = next(x for x in runs if "max_concurrent_evacuations" not in "".join(p["message"] for p in x["progress"]))
    second = next(x for x in runs if x is not first)
    n1 = first["detail"]["batches_total"]
    t.eq(len(seen), n1 + second["detail"]["batches_total"], "every batch of both written once")
    firsts = {(p["topic"], p["partition"]) for p in first["detail"]["reassignment"]["partitions"]}
    t.ok(all((p["topic"], p["partition"]) in firsts for z in seen[:n1] for p in z["partitions"]),
         "the waiting evacuation wrote nothing before the first had finished")
    t.eq([tp for tp, (reps, _, _) in c.assignment().items() if 3 in reps or 4 in reps], [],
         "brokers 3 and 4 evacuated")
    c.stop()


@case
def dry_run_writes_nothing():
    c = Case("dry", SIX, ["orders 6 3"])
    c.start()
    c.alert("EvacuateDry", 3)
    run = c.run_in("evacuate", ("done", "failed", "cancelled", "skipped"))
    t.eq((run or {}).get("state"), "done", "dry run done: %s" % (run or {}).get("message"))
    t.ok(run and "dry run" in run["message"] and "nothing was written" in run["message"], "message says so")
    det = (run or {}).get("detail", {})
    t.ok(det.get("dry_run") is True and det.get("reassignment", {}).get("version") == 1 and
         det["reassignment"]["partitions"], "the detail holds the reassignment JSON")
    t.ok(all(3 not in p["replicas"] for p in det.get("reassignment", {}).get("partitions", [])),
         "the planned replicas avoid broker 3")
    t.eq(c.sim.cmd("reassignments"), [], "no reassignment written")
    t.eq(krzk.zk_exists(c.connect, "/admin/reassign_partitions"), False, "no znode")
    t.eq(c.sim.cmd("throttle-log"), [], "no config change")
    c.stop()


@case
def guard_brokers_down():
    c = Case("guard", SIX, ["orders 6 3"])
    c.start()
    for b in (4, 5, 6):
        c.sim.cmd("broker kill %d close" % b)
    wait_for("three brokers down in the model", lambda: c.cluster().get("brokers_alive") == 3)
    c.alert("Evacuate", 3)
    run = c.run_in("evacuate", ("done", "failed", "cancelled"))
    t.eq((run or {}).get("state"), "failed", "the evacuation is refused")
    t.ok(run and "pause_when_brokers_down" in run["message"] and "3 brokers" in run["message"],
         "with the guard named: %s" % (run or {}).get("message"))
    ev = wait_for("a guard.paused event is journaled and listed",
                  lambda: [e for e in c.d.events(200) if e.get("type") == "guard.paused"])
    if ev:
        t.eq((ev[0]["source"], ev[0]["cluster"], ev[0]["guard"]["name"]),
             ("kresponder", "orders", "pause_when_brokers_down"), "event source, cluster, guard")
        t.eq(sorted(ev[0]["guard"]["detail"]["down"]), [4, 5, 6], "the down brokers listed")
    t.eq(c.sim.cmd("reassignments"), [], "nothing written")
    t.eq(c.d.metric("guard_trips_total", 'cluster="orders",guard="pause_when_brokers_down"'), 1, "metric")
    c.stop()


@case
def elect_leaders_after_return():
    c = Case("elect", [(1, "az1"), (2, "az2"), (3, "az3")],
             ["orders 6 3 0=2,1,3;1=2,3,1;2=1,2,3;3=2,1,3;4=3,1,2;5=2,3,1"])
    c.start()
    c.sim.cmd("broker kill 2 close")
    wait_for("leaders moved off broker 2",
             lambda: all(st[2] != 2 for st in c.assignment().values()))
    c.sim.cmd("broker restart 2")
    wait_for("broker 2 back in the ISRs",
             lambda: all(2 in st[1] for st in c.assignment().values()))
    pref2 = sorted(tp for tp, (reps, _, _) in c.assignment().items() if reps[0] == 2)
    t.ok(all(c.assignment()[tp][2] != 2 for tp in pref2), "broker 2 leads none of its preferred partitions")
    c.alert("Elect", 2)
    run = c.run_in("elect_leaders", ("done", "failed", "cancelled"))
    t.eq((run or {}).get("state"), "done", "election done: %s" % (run or {}).get("message"))
    t.eq(sorted((run or {}).get("detail", {}).get("partitions", []), key=lambda p: (p["topic"], p["partition"])),
         [{"topic": tp[0], "partition": tp[1]} for tp in pref2], "the election listed the preferred partitions of 2")
    after = c.assignment()
    t.eq([after[tp][2] for tp in pref2], [2] * len(pref2), "broker 2 leads them again")
    t.eq(krzk.zk_exists(c.connect, "/admin/preferred_replica_election"), False, "znode gone")
    c.stop()


t.finish()
