"""tests/integration/test_sim.py: the ZooKeeper test bed itself: zk.sh (one server and a
3-node ensemble with leader failover), zkcli, and the Kafka cluster simulator krsim
(broker registration, expiry, topics, reassignment, preferred election, throttles)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krzk  # noqa: E402

t = krzk.Checks("sim")
ZK = None
SIM = None


def test_zkcli_basics():
    c = ZK.connect
    t.eq(krzk.zk_create(c, "/t", '{"version":1}'), "/t", "create prints the path")
    t.eq(krzk.zk_get(c, "/t"), '{"version":1}', "get returns the data")
    rc, _, err = krzk.zkcli(c, "create", "/t/a/b", "x", check=False)
    t.eq(rc, 1, "create under a missing parent exits 1 (no node)")
    krzk.zk_mkdirp(c, "/t/a/b")
    t.eq(krzk.zk_ls(c, "/t/a"), ["b"], "mkdirp creates the parents")
    t.eq(krzk.zk_get(c, "/t/a"), "", "mkdirp nodes have no data")
    krzk.zk_set(c, "/t/a/b", "hello")
    st = krzk.zk_stat(c, "/t/a/b")
    t.eq((st["version"], st["dataLength"], st["ephemeralOwner"]), (1, 5, 0),
         "stat after one set: version 1, 5 bytes, not ephemeral")
    t.ok(st["mzxid"] > st["czxid"], "stat: mzxid moved past czxid after set")
    s1 = krzk.zk_create(c, "/t/seq-", "d", "sequential")
    s2 = krzk.zk_create(c, "/t/seq-", "d", "sequential")
    t.eq((s1, s2), ("/t/seq-0000000001", "/t/seq-0000000002"),
         "sequential names have the 10-digit suffix (the parent's cversion counts /t/a too)")
    e = krzk.zk_create(c, "/t/eph", "e", "ephemeral")
    t.eq(krzk.zk_exists(c, e), False, "an ephemeral goes with zkcli's session")
    rc, _, _ = krzk.zkcli(c, "set", "/t/a/b", "x", "7", check=False)
    t.eq(rc, 2, "set with a wrong version exits 2")
    t.eq(krzk.zk_dump(c, "/t"), {"/t": '{"version":1}', "/t/a": None, "/t/a/b": "hello",
                                  "/t/seq-0000000001": "d", "/t/seq-0000000002": "d"},
         "dump is {path: data}, null for null data")
    big = json.dumps({"k": "v" * 300000})
    krzk.zk_set(c, "/t", big)
    t.eq(krzk.zk_get(c, "/t"), big, "a 300 kB value reads back whole")
    krzk.zk_rmr(c, "/t")
    t.eq(krzk.zk_exists(c, "/t"), False, "rmr removes the tree")
    t.eq(krzk.zk_get(c, "/nope"), None, "get of a missing node: exit 1")
    t0 = time.monotonic()
    t.eq(krzk.zk_wait_gone(c, "/nope", 5000) is not None, True, "wait-gone of a missing node")
    krzk.zk_create(c, "/w", "")
    t.eq(krzk.zk_wait_gone(c, "/w", 300), None, "wait-gone times out while the node stays")
    t.ok(time.monotonic() - t0 < krzk.tmout(5), "wait-gone timeout is honoured")
    rc, _, err = krzk.zkcli("127.0.0.1:1", "ls", "/", check=False, connect_timeout_ms=500)
    t.eq(rc, 2, "an unreachable server exits 2")
    t.ok("could not connect" in err, "and says so: " + err.strip())


def test_ensemble_leader_kill():
    ens = krzk.ZooKeeper.start_ensemble()
    c = ens.connect
    t.eq(len(c.split(",")), 3, "ensemble connect string has 3 servers")
    modes = sorted(ens.four_letter("srvr", int(hp.rsplit(":", 1)[1])).split("Mode: ")[1].split()[0]
                   for hp in c.split(","))
    t.eq(modes, ["follower", "follower", "leader"], "one leader, two followers")
    krzk.zk_create(c, "/before", "1")
    before = krzk.zk_stat(c, "/before")["czxid"]
    killed = ens.kill_leader()
    t.ok(killed in (1, 2, 3), "kill-leader names the node it killed")
    # clients carry on with the two survivors once a new leader is elected
    ok = krzk.wait_until(lambda: krzk.zkcli(c, "create", "/after", "2", check=False)[0] in (0,),
                         krzk.tmout(20), 0.2)
    t.ok(ok, "writes succeed again after the leader was killed")
    new = ens.leader()
    t.ok(new is not None and new != killed, "a new leader was elected (%s, was %s)" % (new, killed))
    after = krzk.zk_stat(c, "/after")["czxid"]
    t.ok((after >> 32) > (before >> 32), "the zxid epoch moved on: %x -> %x" % (before, after))
    t.eq(krzk.zk_get(c, "/before"), "1", "data written before the failover is still there")
    ens.stop()



TICK_MS = 500          # the test server's tickTime: sessions expire within timeout + tick
SESSION_MS = 3000      # broker sessions (ZooKeeper allows 2..20 ticks)


def wait_for(what, fn, timeout=10):
    v = krzk.wait_until(fn, krzk.tmout(timeout))
    t.ok(v, what)
    return v


def state(c, topic, p):
    return krzk.zk_json(c, "/brokers/topics/%s/partitions/%d/state" % (topic, p))


def test_sim_registers_brokers_like_kafka():
    global SIM
    c = ZK.connect
    SIM = krzk.Sim(c, controller_delay_ms=1500, session_timeout_ms=SESSION_MS)
    t0 = int(time.time() * 1000)
    owners = {}
    for i, rack in ((1, "az1"), (2, "az2"), (3, "az3")):
        r = SIM.cmd("broker add %d b%d.kafka.example 9092 %s" % (i, i, rack))
        t.ok(r.startswith("broker %d registered czxid " % i), "broker add answers: " + r)
        reg = krzk.zk_json(c, "/brokers/ids/%d" % i)
        ts = reg.pop("timestamp", None)
        t.eq(reg, {"features": {}, "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
                   "endpoints": ["PLAINTEXT://b%d.kafka.example:9092" % i], "jmx_port": -1,
                   "port": 9092, "host": "b%d.kafka.example" % i, "version": 5, "rack": rack},
             "broker %d registration is BrokerIdZNode v5 JSON" % i)
        t.ok(isinstance(ts, str) and ts.isdigit() and abs(int(ts) - t0) < 60000,
             "timestamp is a string of milliseconds (%r)" % ts)
        st = krzk.zk_stat(c, "/brokers/ids/%d" % i)
        t.eq(st["version"], 1, "data version 1 (create with null data + setData, as Kafka)")
        t.ok(st["ephemeralOwner"] != 0, "registration is ephemeral")
        owners[i] = st["ephemeralOwner"]
        t.eq(str(st["czxid"]), r.rsplit(" ", 1)[1], "the answer names the czxid (broker epoch)")
    t.eq(len(set(owners.values())), 3, "one ZooKeeper session per broker")
    t.eq(krzk.zk_ls(c, "/brokers/ids"), ["1", "2", "3"], "three brokers registered")
    for path in ("/brokers/topics", "/config/changes", "/config/brokers", "/config/topics",
                 "/admin/delete_topics", "/isr_change_notification"):
        t.ok(krzk.zk_exists(c, path), "top-level path %s exists (createTopLevelPaths)" % path)
    ctl = wait_for("the first broker up became controller",
                   lambda: krzk.zk_json(c, "/controller"))
    if ctl:
        t.eq((ctl["version"], ctl["brokerid"]), (1, 1), "/controller v1 names broker 1")
        t.eq(krzk.zk_stat(c, "/controller")["ephemeralOwner"], owners[1],
             "/controller is ephemeral on broker 1's session")
    t.ok(SIM.cmd("broker add 1 x 1", check=False).startswith("err broker 1 is already running"),
         "adding a running broker again is refused")
    t.ok(SIM.cmd("frobnicate", check=False).startswith("err unknown command"),
         "unknown commands get an err line")


def test_sim_topics():
    c = ZK.connect
    r = SIM.cmd("topic create orders 6 3")
    t.eq(r["topic"], "orders", "topic create answers with the assignment")
    topic = krzk.zk_json(c, "/brokers/topics/orders")
    t.eq(sorted(topic), ["adding_replicas", "partitions", "removing_replicas", "topic_id", "version"],
         "topic znode has the v3 keys")
    t.eq((topic["version"], topic["adding_replicas"], topic["removing_replicas"]), (3, {}, {}),
         "version 3, no reassignment")
    tid = topic["topic_id"]
    t.ok(len(tid) == 22 and all(ch.isalnum() or ch in "-_" for ch in tid) and tid[0] != "-",
         "topic_id is a 22-char base64url Uuid (%s)" % tid)
    t.eq(topic["partitions"], r["partitions"], "znode and answer agree")
    parts = topic["partitions"]
    t.eq(sorted(parts), [str(i) for i in range(6)], "six partitions, string keys")
    t.ok(all(sorted(v) == [1, 2, 3] for v in parts.values()),
         "rack-aware: every partition on all three racks")
    t.eq(sorted(v[0] for v in parts.values()), [1, 1, 2, 2, 3, 3], "preferred leaders balanced")
    epoch = int(krzk.zk_get(c, "/controller_epoch"))
    for p in range(6):
        st = state(c, "orders", p)
        t.eq(st, {"controller_epoch": epoch, "leader": parts[str(p)][0], "version": 1,
                  "leader_epoch": 0, "isr": parts[str(p)]}, "orders-%d state" % p)
    t.eq(krzk.zk_stat(c, "/brokers/topics/orders/partitions/0/state")["ephemeralOwner"], 0,
         "partition state is PERSISTENT")
    r = SIM.cmd("topic create payments 2 3 0=1,2,3;1=2,3,1")
    t.eq(krzk.zk_json(c, "/brokers/topics/payments")["partitions"], {"0": [1, 2, 3], "1": [2, 3, 1]},
         "an explicit assignment is written as given")
    t.ok(SIM.cmd("topic create bad 2 3 0=1,2,3", check=False).startswith("err assignment lists 1"),
         "an assignment missing partitions is refused")
    t.ok(SIM.cmd("topic create big 1 4", check=False).startswith("err replication factor 4"),
         "RF above the broker count is refused")
    t.ok(SIM.cmd("topic create orders 1 1", check=False).startswith("err topic orders already exists"),
         "a topic cannot be created twice")


def test_sim_controller_move():
    c = ZK.connect
    before = int(krzk.zk_get(c, "/controller_epoch"))
    r = SIM.cmd("controller 2")
    t.eq(r, "controller 2 epoch %d" % (before + 1), "controller answers with the new epoch")
    ctl = krzk.zk_json(c, "/controller")
    t.eq(ctl["brokerid"], 2, "/controller names broker 2")
    t.ok(ctl["timestamp"].isdigit(), "controller timestamp is a string of digits")
    t.eq(krzk.zk_stat(c, "/controller")["ephemeralOwner"],
         krzk.zk_stat(c, "/brokers/ids/2")["ephemeralOwner"], "on broker 2's session")
    t.eq(int(krzk.zk_get(c, "/controller_epoch")), before + 1, "/controller_epoch incremented")


def test_sim_broker_expiry_and_return():
    c = ZK.connect
    led_by_3 = [p for p in range(6) if state(c, "orders", p)["leader"] == 3]
    old = {p: state(c, "orders", p) for p in range(6)}
    czxid = krzk.zk_stat(c, "/brokers/ids/3")["czxid"]
    t0 = time.monotonic()
    t.ok("session expires" in SIM.cmd("broker kill 3 expire"), "kill expire answers")
    waited = krzk.zk_wait_gone(c, "/brokers/ids/3", krzk.tmout(30) * 1000)
    took = time.monotonic() - t0
    t.ok(waited is not None, "broker 3's registration disappears")
    bound = (SESSION_MS + TICK_MS) / 1000.0 * krzk.tmout_mult() + 0.5
    t.ok(took <= bound, "it went within session timeout + tickTime: %.2fs <= %.2fs" % (took, bound))
    # the server counts from the client's last ping (sent every timeout/3 when idle), so
    # expiry comes between 2/3 x timeout and timeout + tick after the kill
    t.ok(took >= SESSION_MS / 1000.0 * 0.5,
         "through expiry, not a delete or close: %.2fs >= 0.5 x session timeout" % took)
    wait_for("the controller moved leadership off broker 3 and shrank the ISRs",
             lambda: all(3 not in state(c, "orders", p)["isr"] for p in range(6)))
    for p in range(6):
        st = state(c, "orders", p)
        want_leader = old[p]["leader"] if p not in led_by_3 else \
            [b for b in old[p]["isr"] if b != 3][0]
        t.eq((st["leader"], st["leader_epoch"]), (want_leader, old[p]["leader_epoch"] + 1),
             "orders-%d: leader from the ISR, leader_epoch+1" % p)
    t.ok(len(led_by_3) == 2, "broker 3 led two partitions before")
    t.eq(SIM.status()["brokers_alive"], [1, 2], "status: brokers 1 and 2 alive")

    r = SIM.cmd("broker restart 3")
    new_czxid = int(r.rsplit(" ", 1)[1])
    t.ok(new_czxid > czxid, "restart registers anew: new czxid (broker epoch) %d > %d" % (new_czxid, czxid))
    wait_for("broker 3 rejoined every ISR",
             lambda: all(3 in state(c, "orders", p)["isr"] for p in range(6)))
    t.eq(SIM.status()["brokers_alive"], [1, 2, 3], "status: all alive again")


def test_sim_preferred_election():
    c = ZK.connect
    parts = krzk.zk_json(c, "/brokers/topics/orders")["partitions"]
    wrong = [p for p in range(6) if state(c, "orders", p)["leader"] != parts[str(p)][0]]
    t.eq(len(wrong), 2, "two partitions are not led by their preferred replica after the failover")
    krzk.zk_create(c, "/admin/preferred_replica_election",
                   json.dumps({"version": 1, "partitions": [{"topic": "orders", "partition": p}
                                                            for p in wrong]}))
    wait_for("the election znode is deleted",
             lambda: not krzk.zk_exists(c, "/admin/preferred_replica_election"))
    for p in wrong:
        t.eq(state(c, "orders", p)["leader"], parts[str(p)][0], "orders-%d led by its first replica" % p)


def test_sim_reassignment():
    c = ZK.connect
    SIM.cmd("topic create moving 2 2 0=1,2;1=2,3")
    before = state(c, "moving", 0)
    krzk.zk_mkdirp(c, "/admin")
    krzk.zk_create(c, "/admin/reassign_partitions", json.dumps(
        {"version": 1, "partitions": [{"topic": "moving", "partition": 0, "replicas": [3, 1]},
                                      {"topic": "nosuch", "partition": 0, "replicas": [1]}]}))
    moving = wait_for("during the move the topic znode holds target + original",
                      lambda: (lambda j: j if j["adding_replicas"] else None)(
                          krzk.zk_json(c, "/brokers/topics/moving")), 5)
    if moving:
        t.eq(moving["partitions"]["0"], [3, 1, 2], "partitions = target + original")
        t.eq((moving["adding_replicas"], moving["removing_replicas"]), ({"0": [3]}, {"0": [2]}),
             "adding/removing replicas set")
        t.eq(moving["partitions"]["1"], [2, 3], "other partitions untouched")
    znode = krzk.zk_json(c, "/admin/reassign_partitions")
    t.eq(znode, {"version": 1, "partitions": [{"topic": "moving", "partition": 0, "replicas": [3, 1]}]},
         "the failed partition (missing topic) was removed from the znode")
    # a setData on an existing reassignment is ignored, as by Kafka's controller
    krzk.zk_set(c, "/admin/reassign_partitions", json.dumps(
        {"version": 1, "partitions": [{"topic": "moving", "partition": 1, "replicas": [1, 2]}]}))
    gone = krzk.zk_wait_gone(c, "/admin/reassign_partitions", krzk.tmout(15) * 1000)
    t.ok(gone is not None, "the controller deletes the znode when every partition is done")
    topic = krzk.zk_json(c, "/brokers/topics/moving")
    t.eq((topic["partitions"]["0"], topic["adding_replicas"], topic["removing_replicas"]),
         ([3, 1], {}, {}), "at the end: the target list, both maps empty")
    t.eq(topic["partitions"]["1"], [2, 3], "the setData on the znode was not applied")
    st = state(c, "moving", 0)
    t.eq((st["leader"], st["isr"], st["leader_epoch"]), (3, [3, 1], before["leader_epoch"] + 1),
         "state: first target replica leads, ISR = target, leader_epoch+1")
    # invalid JSON is logged and left alone
    krzk.zk_create(c, "/admin/reassign_partitions", "not json")
    SIM.cmd("sync")
    time.sleep(0.3)
    SIM.cmd("sync")
    t.eq(krzk.zk_get(c, "/admin/reassign_partitions"), "not json", "an invalid reassignment stays")
    t.ok("Ignoring partition reassignment due to invalid json" in SIM.log_tail(50),
         "and is logged as Kafka logs it")
    krzk.zk_delete(c, "/admin/reassign_partitions")


def test_sim_throttles():
    c = ZK.connect
    rate = {"leader.replication.throttled.rate": "1048576",
            "follower.replication.throttled.rate": "1048576"}
    krzk.zk_create(c, "/config/brokers/1", json.dumps({"version": 1, "config": rate}))
    n1 = krzk.zk_create(c, "/config/changes/config_change_",
                        json.dumps({"version": 2, "entity_path": "brokers/1"}), "sequential")
    t.ok(n1.startswith("/config/changes/config_change_") and n1[-10:].isdigit(),
         "notification is a sequential node: " + n1)
    topic_cfg = {"leader.replication.throttled.replicas": "0:1,0:2",
                 "follower.replication.throttled.replicas": "0:3", "retention.ms": "1000"}
    krzk.zk_create(c, "/config/topics/payments", json.dumps({"version": 1, "config": topic_cfg}))
    krzk.zk_create(c, "/config/changes/config_change_",
                   json.dumps({"version": 2, "entity_path": "topics/payments"}), "sequential")
    want = {"brokers/1": rate, "topics/payments": {k: v for k, v in topic_cfg.items()
                                                   if "throttled" in k}}
    got = krzk.wait_until(lambda: (lambda j: j if j == want else None)(SIM.cmd("throttles")),
                          krzk.tmout(5))
    t.eq(got or SIM.cmd("throttles"), want, "throttles recorded per entity (throttle keys only)")
    t.ok("event=config_change" in SIM.log_tail(20), "each change is logged on stderr")
    krzk.zk_set(c, "/config/brokers/1", json.dumps({"version": 1, "config": {}}))
    krzk.zk_create(c, "/config/changes/config_change_",
                   json.dumps({"version": 2, "entity_path": "brokers/1"}), "sequential")
    got = krzk.wait_until(lambda: "brokers/1" not in SIM.cmd("throttles"), krzk.tmout(5))
    t.ok(got, "a removed throttle disappears")
    t.eq(len(SIM.cmd("throttle-log")), 3, "three notifications in the log")


def test_sim_controller_failover_and_bulk():
    c = ZK.connect
    epoch = int(krzk.zk_get(c, "/controller_epoch"))
    SIM.cmd("broker kill 2 close")
    t.eq(krzk.zk_exists(c, "/brokers/ids/2"), False, "a clean close removes the znode at once")
    ctl = wait_for("the controller role moved when broker 2 went",
                   lambda: (lambda j: j if j and j["brokerid"] != 2 else None)(
                       krzk.zk_json(c, "/controller")))
    if ctl:
        t.eq(ctl["brokerid"], 1, "the lowest running broker took over")
        t.eq(int(krzk.zk_get(c, "/controller_epoch")), epoch + 1, "epoch incremented")
    SIM.cmd("broker restart 2")
    r = SIM.cmd("bulk topics 50 total:240 3 bench-")
    t.eq((r["topics"], r["partitions"]), (50, 240), "bulk created 50 topics / 240 partitions")
    names = [n for n in krzk.zk_ls(c, "/brokers/topics") if n.startswith("bench-")]
    t.eq(len(names), 50, "50 bench topics in ZooKeeper")
    t.eq(len(krzk.zk_ls(c, "/brokers/topics/bench-0/partitions")), 5, "240/50: the first get 5")
    t.eq(len(krzk.zk_ls(c, "/brokers/topics/bench-49/partitions")), 4, "the last get 4")
    t.ok(state(c, "bench-49", 3)["leader"] in (1, 2, 3), "bulk partitions have states")
    st = SIM.status()
    t.eq((st["topics"], st["partitions"]), (53, 250), "status counts topics and partitions")
    t.eq(SIM.stop(), 0, "krsim exits cleanly after all of it (ASan: no leaks)")


def test_sim_frozen_broker_and_server_restart():
    c = ZK.connect + "/frozen"
    sim = krzk.Sim(c, session_timeout_ms=SESSION_MS)
    sim.cmd("broker add 1 f1 9092")
    sim.cmd("broker add 2 f2 9092")
    czxid = krzk.zk_stat(c, "/brokers/ids/1")["czxid"]
    pid = sim.status()["brokers"]["1"]["pid"]
    t.ok(pid > 0, "status names the broker's session holder process")
    # a broker frozen past its session timeout (long GC pause) loses its registration,
    # then re-registers with a new epoch when it wakes up, as Kafka brokers do
    t0 = time.monotonic()
    krzk.freeze(pid, (SESSION_MS + TICK_MS) / 1000.0 + 1.0)
    t.ok(time.monotonic() - t0 >= SESSION_MS / 1000.0, "frozen longer than the session timeout")
    new = krzk.wait_until(lambda: (lambda st: st if st and st["czxid"] != czxid else None)(
        krzk.zk_stat(c, "/brokers/ids/1")), krzk.tmout(10))
    t.ok(new, "the woken broker registered again with a new czxid (broker epoch)")
    t.ok("event=broker_session_expired broker=1 reregistered=yes" in sim.log_tail(20),
         "the holder logged the expiry and the new registration")
    # a server restart with its data kept is a connection loss, not an expiry
    owner2 = krzk.zk_stat(c, "/brokers/ids/2")["ephemeralOwner"]
    ZK.restart()
    st = krzk.wait_until(lambda: krzk.zk_stat(c, "/brokers/ids/2"), krzk.tmout(10))
    t.ok(st and st["ephemeralOwner"] == owner2,
         "after a server restart the broker's session and registration are still there")
    t.eq(sim.stop(), 0, "krsim exits cleanly")


def test_sim_json_v4_and_chroot():
    c = ZK.connect + "/kafka-v4"
    sim = krzk.Sim(c, broker_json_version=4, session_timeout_ms=SESSION_MS)
    sim.cmd("broker add 7 old.example 9093")
    reg = krzk.zk_json(c, "/brokers/ids/7")
    t.eq(sorted(reg), ["endpoints", "host", "jmx_port", "listener_security_protocol_map", "port",
                       "timestamp", "version"], "v4: no features, no rack when none is set")
    t.eq(reg["version"], 4, "version 4")
    t.ok(krzk.zk_exists(ZK.connect, "/kafka-v4/brokers/ids/7"), "the chroot was created")
    t.eq(sim.stop(), 0, "krsim exits cleanly")
    t.eq(krzk.zk_exists(c, "/brokers/ids/7"), False, "quit closes the broker sessions")


def test_ensemble_with_sim():
    ens = krzk.ZooKeeper.start_ensemble(tick_ms=TICK_MS)
    c = ens.connect
    sim = krzk.Sim(c, session_timeout_ms=6000)
    sim.cmd("broker add 1 e1 9092")
    owner = krzk.zk_stat(c, "/brokers/ids/1")["ephemeralOwner"]
    killed = ens.kill_leader()
    t.ok(killed in (1, 2, 3), "ensemble leader %d killed" % killed)
    r = krzk.wait_until(lambda: sim.cmd("topic create after-failover 1 1", check=False).startswith("ok")
                        or None, krzk.tmout(20), 0.5)
    t.ok(r, "the simulator keeps working through the failover")
    t.eq(krzk.zk_stat(c, "/brokers/ids/1")["ephemeralOwner"], owner,
         "the broker's session (and registration) survived the failover")
    sim.stop()
    ens.stop()


def main():
    global ZK
    if not os.path.exists(krzk.ZKCLI):
        print("missing %s: run make first" % krzk.ZKCLI)
        print("RESULT sim passed=0 failed=1")
        sys.exit(1)
    ZK = krzk.ZooKeeper.start(tick_ms=TICK_MS)
    t.ok(ZK.connect.startswith("127.0.0.1:"), "zk.sh start prints 127.0.0.1:PORT")
    t.eq(ZK.four_letter("ruok"), "imok", "the server answers ruok")
    cases = [test_zkcli_basics, test_ensemble_leader_kill]
    if os.path.exists(krzk.KRSIM):
        cases += [test_sim_registers_brokers_like_kafka, test_sim_topics, test_sim_controller_move,
                  test_sim_broker_expiry_and_return, test_sim_preferred_election,
                  test_sim_reassignment, test_sim_throttles, test_sim_controller_failover_and_bulk,
                  test_sim_frozen_broker_and_server_restart, test_sim_json_v4_and_chroot,
                  test_ensemble_with_sim]
    for fn in cases:
        t.case(fn)
        if fn.__name__.startswith("test_sim_registers") and SIM is None:
            break
    ZK.stop()
    t.finish()


if __name__ == "__main__":
    main()
