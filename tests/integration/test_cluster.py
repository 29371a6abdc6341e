"""tests/integration/test_cluster.py: the cluster module against a real ZooKeeper, the
Kafka cluster simulator (krsim) and the real daemon: the model read at start, a broker
killed (real session expiry) -> broker.left with rack, stack and partition counts, the
broker back -> broker.joined, kresponder's own session expiring while a broker leaves
(the diff still reports it), and two clusters on two ZooKeeper servers with one stopped
(the other cluster and the intake keep working)."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krlib  # noqa: E402
import krzk  # noqa: E402

t = krzk.Checks("cluster")
TICK_MS = 500        # test servers' tickTime: sessions may be 1 s .. 10 s
SESSION_MS = 3000    # broker sessions and kresponder's own


def wait_for(what, fn, timeout=20):
    v = krzk.wait_until(fn, krzk.tmout(timeout), 0.05)
    t.ok(v, what)
    return v


def cluster(d, name):
    code, body, _ = d.request("GET", "/v1/clusters/" + name)
    return body if code == 200 else None


def events_of(d, type_, cluster_name=None):
    return [e for e in (d.events(1000) or [])
            if e.get("type") == type_ and (cluster_name is None or e.get("cluster") == cluster_name)]


def broker_events(d, type_, bid, cluster_name="orders"):
    return [e for e in events_of(d, type_, cluster_name) if e.get("broker", {}).get("id") == bid]


def zk_partitions(c):
    """{(topic, p): (replicas, leader)} read straight from ZooKeeper."""
    out = {}
    for topic in krzk.zk_ls(c, "/brokers/topics"):
        parts = krzk.zk_json(c, "/brokers/topics/" + topic)["partitions"]
        for p, reps in parts.items():
            st = krzk.zk_json(c, "/brokers/topics/%s/partitions/%s/state" % (topic, p))
            out[(topic, int(p))] = (reps, st["leader"], st["isr"])
    return out


def cluster_cfg(name, connect, **extra):
    c = {"name": name, "zookeeper": connect, "bootstrap_servers": "127.0.0.1:9092",
         "session_timeout": "%dms" % SESSION_MS,
         "stacks": {"blue": "1-1000", "green": "1001-2000"}}
    c.update(extra)
    return c


ZK = SIM = D = None


def test_model_loaded():
    global SIM, D
    c = ZK.connect
    SIM = krzk.Sim(c, controller_delay_ms=300, session_timeout_ms=SESSION_MS)
    for bid, rack in ((1, "az1"), (2, "az2"), (3, "az3"), (1001, "az1")):
        SIM.cmd("broker add %d b%d.kafka.example 9092 %s" % (bid, bid, rack))
    SIM.cmd("topic create orders 6 3")
    SIM.cmd("topic create payments 4 2")
    D = krlib.Daemon.start({"clusters": [cluster_cfg(
        "orders", c, inventory={"instances": {"i-0abc123": 2},
                                "alarm_name_regex": "kafka-orders-b(?P<broker>[0-9]+)-.*"})]})
    cl = wait_for("the model is loaded (synced)", lambda: (cluster(D, "orders") or {}).get("synced")
                  and cluster(D, "orders"))
    if not cl:
        return
    t.eq(cl["state"], "connected", "session connected")
    t.ok(cl["session_id"].startswith("0x") and int(cl["session_id"], 16) > 0, "session id shown")
    t.eq((cl["brokers_alive"], cl["brokers_total"]), (4, 4), "4 brokers alive of 4")
    t.eq((cl["topics"], cl["partitions"]), (2, 10), "2 topics, 10 partitions")
    t.eq((cl["under_replicated_partitions"], cl["offline_partitions"]), (0, 0),
         "nothing under-replicated or offline")
    t.eq(cl["controller"], 1, "controller is broker 1 (from /controller)")
    t.ok(isinstance(cl["load_ms"], int) and cl["load_ms"] >= 0, "load time reported")
    by_id = {b["id"]: b for b in cl["brokers"]}
    t.eq(sorted(by_id), [1, 2, 3, 1001], "brokers listed by id")
    t.eq((by_id[3]["host"], by_id[3]["port"], by_id[3]["rack"], by_id[3]["stack"], by_id[3]["alive"]),
         ("b3.kafka.example", 9092, "az3", "blue", True), "broker 3 host, port, rack, stack")
    t.eq(by_id[1001]["stack"], "green", "broker 1001 is in the green stack")
    t.eq(by_id[1]["epoch"], krzk.zk_stat(c, "/brokers/ids/1")["czxid"], "epoch is the czxid")
    t.eq(cl["stacks"], {"blue": "1-1000", "green": "1001-2000"}, "stacks from the config")
    t.eq(cl["guards"], {"max_concurrent_evacuations": 1, "pause_when_brokers_down": 2},
         "guard defaults")
    code, lst, _ = D.request("GET", "/v1/clusters")
    t.eq((code, [x["name"] for x in lst]), (200, ["orders"]), "GET /v1/clusters lists it")
    t.ok("brokers" not in lst[0], "the list has no broker details")
    code, body, _ = D.request("GET", "/v1/clusters/nope")
    t.eq(code, 404, "an unknown cluster is 404: %s" % body)
    code, body, _ = D.request("GET", "/readyz")
    t.eq((code, body["checks"].get("zookeeper")), (200, {"orders": "connected"}),
         "/readyz shows the session")
    t.eq(D.metric("cluster_brokers_alive", 'cluster="orders"'), 4, "metric brokers alive")
    t.eq(D.metric("cluster_session_state", 'cluster="orders",state="connected"'), 1,
         "metric session state connected")
    t.eq(events_of(D, "broker.joined"), [], "the first read announces no broker.joined")


def test_broker_left_and_joined():
    c = ZK.connect
    before = zk_partitions(c)
    held = sorted((tp for tp, (reps, _, _) in before.items() if 3 in reps))
    led = sorted((tp for tp, (_, leader, _) in before.items() if leader == 3))
    epoch = krzk.zk_stat(c, "/brokers/ids/3")["czxid"]
    t0 = time.monotonic()
    SIM.cmd("broker kill 3 expire")
    ev = wait_for("broker.left for broker 3 in /v1/events",
                  lambda: broker_events(D, "broker.left", 3), timeout=SESSION_MS / 1000 + 15)
    if not ev:
        return
    took = time.monotonic() - t0
    # the server expires a session `timeout` after its last ping (pings go every timeout/3),
    # rounded to ticks: well after a clean close (~0.05 s), possibly before `timeout`
    t.ok(took >= (SESSION_MS * 2 / 3 - TICK_MS) / 1000.0,
         "it came through the broker's session expiry (%.1fs)" % took)
    e = ev[0]
    t.eq((e["source"], e["state"], e["cluster"]), ("zookeeper", "firing", "orders"),
         "source zookeeper, firing, cluster")
    t.eq(e["id"], "zk:orders:%d-left" % epoch, "id is zk:<cluster>:<epoch>-left")
    t.eq(e["broker"], {"id": 3, "host": "b3.kafka.example", "port": 9092, "rack": "az3",
                       "stack": "blue", "epoch": epoch}, "broker with host, rack, stack, epoch")
    t.eq((e["partitions_held"], e["partitions_led"]), (len(held), len(led)),
         "partitions held %d and led %d, as in ZooKeeper before the kill" % (len(held), len(led)))
    t.eq(sorted((x["topic"], x["partition"]) for x in e["partitions"]["held"]), held,
         "the held list names them")
    t.eq(sorted((x["topic"], x["partition"]) for x in e["partitions"]["led"]), led,
         "the led list names them")
    t.eq(e["partitions"]["truncated"], False, "lists not truncated")
    cl = cluster(D, "orders")
    b3 = [b for b in cl["brokers"] if b["id"] == 3][0]
    t.eq((b3["alive"], cl["brokers_alive"], cl["brokers_total"]), (False, 3, 4),
         "broker 3 shown dead, 3 of 4 alive")
    t.ok(b3["since"].endswith("Z"), "since is an RFC 3339 time")
    # the controller (krsim) moved leaders and shrank ISRs; the model re-reads those states
    after = wait_for("the model sees the new leaders", lambda: zk_partitions(c) if all(
        st[1] != 3 for st in zk_partitions(c).values()) else None)
    cl = wait_for("under-replicated = partitions holding broker 3; none offline",
                  lambda: (lambda x: x if x["under_replicated_partitions"] == len(held)
                           and x["offline_partitions"] == 0 else None)(cluster(D, "orders")))
    t.eq(D.metric("cluster_broker_events_total", 'cluster="orders",type="broker.left"'), 1,
         "broker event counted")
    t.eq(D.metric("cluster_brokers_alive", 'cluster="orders"'), 3, "brokers alive metric follows")
    t.eq(D.metric("events_total", 'source="zookeeper",type="broker.left"'), 1,
         "the event went through the daemon's pipeline (journal, metrics)")
    # back
    SIM.cmd("broker restart 3")
    ev = wait_for("broker.joined for broker 3", lambda: broker_events(D, "broker.joined", 3))
    if ev:
        e = ev[0]
        new_epoch = krzk.zk_stat(c, "/brokers/ids/3")["czxid"]
        t.eq((e["state"], e["id"], e["broker"]["rack"], e["broker"]["stack"]),
             ("resolved", "zk:orders:%d-joined" % new_epoch, "az3", "blue"),
             "joined: resolved, new epoch in the id, same rack and stack")
        t.ok(new_epoch > epoch, "a new broker epoch")
    t.eq(len(broker_events(D, "broker.left", 3)), 1, "exactly one broker.left for the kill")
    # an unclean close: the znode goes at once
    SIM.cmd("broker kill 1001 close")
    wait_for("broker.left for 1001 (clean shutdown) with stack green",
             lambda: [e for e in broker_events(D, "broker.left", 1001)
                      if e["broker"]["stack"] == "green"])
    # journaled: the events are in the journal files
    jdir = os.path.join(D.dir, "journal")
    text = ""
    for fn in sorted(os.listdir(jdir)):
        with open(os.path.join(jdir, fn), "rb") as f:
            text += f.read().decode("utf-8", "replace")
    t.ok('"zk:orders:%d-left"' % epoch in text, "broker.left is in the journal")


def test_own_session_expiry():
    c = ZK.connect
    before = cluster(D, "orders")
    gone_epoch = krzk.zk_stat(c, "/brokers/ids/2")["czxid"]
    # Freeze kresponder long enough for ZooKeeper to expire its session, change the
    # cluster while it is away, then let it run again.
    D.signal(signal.SIGSTOP)
    try:
        time.sleep((SESSION_MS + 3 * TICK_MS) / 1000.0 + 0.5)
        SIM.cmd("broker kill 2 close")
        SIM.cmd("broker add 7 b7.kafka.example 9092 az2")
    finally:
        D.signal(signal.SIGCONT)
    ev = wait_for("zk.session_expired for the cluster", lambda: events_of(D, "zk.session_expired"))
    if ev:
        e = ev[0]
        t.eq((e["source"], e["cluster"], e["state"]), ("zookeeper", "orders", "firing"),
             "session_expired names the cluster")
        t.eq(e["zookeeper"]["session_id"], before["session_id"], "and the expired session")
    left = wait_for("broker 2 left while we were away: broker.left from the diff",
                    lambda: broker_events(D, "broker.left", 2))
    if left:
        t.eq((left[0]["id"], left[0]["broker"]["rack"], left[0]["broker"]["host"]),
             ("zk:orders:%d-left" % gone_epoch, "az2", "b2.kafka.example"),
             "with its last known host and rack")
    wait_for("broker 7 that came while we were away: broker.joined",
             lambda: broker_events(D, "broker.joined", 7))
    cl = wait_for("a new session, synced again", lambda: (lambda x: x if x["synced"] and
                  x["session_id"] != before["session_id"] else None)(cluster(D, "orders")))
    if cl:
        t.eq((cl["state"], cl["session_expiries"]), ("connected", 1), "connected, one expiry")
        t.eq(cl["brokers_alive"], 3, "brokers 1, 3, 7 alive")
    t.eq(D.metric("cluster_session_expiries_total", 'cluster="orders"'), 1, "expiry metric")
    # watches were re-armed on the new session
    SIM.cmd("broker kill 7 close")
    wait_for("watches re-armed: broker 7 leaving is seen", lambda: broker_events(D, "broker.left", 7))
    SIM.cmd("topic create late 3 2")
    wait_for("topic watch re-armed: a new topic appears in the model",
             lambda: (cluster(D, "orders") or {}).get("topics") == 3)
    t.eq(len(broker_events(D, "broker.left", 2)), 1, "the departure is reported once")
    t.eq(len(broker_events(D, "broker.left", 3)), 1, "the old one is not reported again")
    t.ok(any("from=connected to=disconnected" in l or "to=expired" in l for l in D.log()),
         "the session transitions are logged as from -> to")


def test_two_clusters_one_down():
    zk2 = krzk.ZooKeeper.start(tick_ms=TICK_MS)
    sim2 = krzk.Sim(zk2.connect, session_timeout_ms=SESSION_MS)
    sim2.cmd("broker add 11 c11.example 9092 az1")
    sim2.cmd("broker add 12 c12.example 9092 az2")
    sim2.cmd("topic create t2 2 2")
    SIM.cmd("broker add 21 b21.kafka.example 9092 az1")
    d = krlib.Daemon.start({"clusters": [cluster_cfg("a", ZK.connect),
                                         cluster_cfg("b", zk2.connect)]})
    ok = wait_for("both clusters synced", lambda: all(
        (cluster(d, n) or {}).get("synced") for n in ("a", "b")))
    if not ok:
        return
    zk2.stop()
    wait_for("cluster b's session is shown disconnected",
             lambda: (cluster(d, "b") or {}).get("state") in ("disconnected", "connecting"))
    code, body, _ = d.request("GET", "/readyz")
    t.eq(code, 503, "not ready while a ZooKeeper is down")
    t.eq(body["checks"]["zookeeper"]["a"], "connected", "readyz: a connected")
    t.ok(body["checks"]["zookeeper"]["b"] != "connected", "readyz: b not")
    t0 = time.monotonic()
    SIM.cmd("broker kill 21 close")
    ev = wait_for("cluster a still reports broker.left", lambda: broker_events(d, "broker.left", 21, "a"))
    t.ok(ev and time.monotonic() - t0 < krzk.tmout(5), "promptly (%.2fs)" % (time.monotonic() - t0))
    t0 = time.monotonic()
    code, body, _ = d.post_json("/hooks/alertmanager", {
        "version": "4", "status": "firing", "receiver": "kr", "groupKey": "{}:{}",
        "alerts": [{"status": "firing", "labels": {"alertname": "X", "instance": "h:9100"},
                    "startsAt": "2026-11-24T19:00:00Z", "fingerprint": "abc"}]})
    t.eq(code, 202, "the intake still answers: %s" % body)
    t.ok(time.monotonic() - t0 < krzk.tmout(2), "without waiting on the dead ZooKeeper")
    code, _, _ = d.request("GET", "/v1/clusters")
    t.eq(code, 200, "/v1/clusters answers")
    t.eq(cluster(d, "b")["brokers_alive"], 2, "b keeps its last known model")
    rc = d.stop()
    t.eq(rc, 0, "the daemon stops cleanly with a ZooKeeper down")
    sim2.stop()


def test_bad_config_refused():
    code = None
    try:
        krlib.Daemon.start({"clusters": [{"name": "x", "zookeeper": "nohostport"}]})
    except RuntimeError as e:
        code = str(e)
    t.ok(code and "zookeeper server \"nohostport\" must be host:port" in code,
         "a bad connect string stops the daemon with the reason: %s" % code)


def main():
    global ZK
    ZK = krzk.ZooKeeper.start(tick_ms=TICK_MS)
    for fn in (test_model_loaded, test_broker_left_and_joined, test_own_session_expiry,
               test_two_clusters_one_down, test_bad_config_refused):
        t.case(fn)
    if D:
        t.eq(D.stop(), 0, "daemon exits 0")
        if t.failed:
            print("---- daemon log (last 80 lines)")
            print("\n".join(D.log()[-80:]))
    t.finish()


if __name__ == "__main__":
    main()
