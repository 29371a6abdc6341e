"""tests/integration/test_cluster_restart.py: a broker that leaves ZooKeeper while
kresponder is down is still reported (broker.left) after the restart, once, from the
broker set journaled before the stop (real ZooKeeper, krsim and the daemon)."""
import os
import tempfile

import krlib
import krzk

t = krzk.Checks("cluster_restart")


def left(d, bid):
    return [e for e in (d.events() or []) if e.get("type") == "broker.left"
            and (e.get("broker") or {}).get("id") == bid]


@t.case
def departure_while_down_is_reported():
    zk = krzk.ZooKeeper.start()
    krzk.zk_mkdirp(zk.connect, "/r")
    sim = krzk.Sim(zk.connect + "/r", session_timeout_ms=4000)
    for b in (1, 2, 3):
        sim.cmd("broker add %d b%d.example 9092 az%d" % (b, b, b))
    sim.cmd("topic create orders 3 3")
    directory = tempfile.mkdtemp(prefix="kr-crestart-")
    cfg = {"clusters": [{"name": "r", "zookeeper": zk.connect + "/r", "stacks": {"blue": "1-1000"}}]}
    d = krlib.Daemon.start(cfg, directory=directory)
    t.ok(krzk.wait_until(lambda: (d.request("GET", "/v1/clusters/r")[1] or {}).get("synced"), krzk.tmout(10)),
         "the model is loaded")
    t.eq(d.stop(), 0, "kresponder stops")
    sim.cmd("broker kill 2 close")          # gone while kresponder is down
    d = krlib.Daemon.start(cfg, directory=directory)
    got = krzk.wait_until(lambda: left(d, 2), krzk.tmout(10))
    t.eq(len(got), 1, "broker.left for broker 2 after the restart")
    if got:
        b = got[0]["broker"]
        t.eq((b.get("host"), b.get("rack"), b.get("stack")), ("b2.example", "az2", "blue"),
             "with its last known host, rack and stack")
    t.eq(left(d, 1) + left(d, 3), [], "brokers still there are not reported")
    t.eq(d.stop(), 0, "stops again")
    d = krlib.Daemon.start(cfg, directory=directory)
    t.ok(krzk.wait_until(lambda: (d.request("GET", "/v1/clusters/r")[1] or {}).get("synced"), krzk.tmout(10)),
         "loaded again")
    t.eq(len(left(d, 2)), 1, "a further restart does not report it twice")
    t.eq(d.metric("events_duplicate_total"), 0.0, "nor even offers it again")
    t.eq(d.stop(), 0, "clean stop")
    sim.stop()


t.finish()
