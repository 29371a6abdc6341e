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


def main():
    global ZK
    if not os.path.exists(krzk.ZKCLI):
        print("missing %s: run make first" % krzk.ZKCLI)
        print("RESULT sim passed=0 failed=1")
        sys.exit(1)
    ZK = krzk.ZooKeeper.start()
    t.ok(ZK.connect.startswith("127.0.0.1:"), "zk.sh start prints 127.0.0.1:PORT")
    t.eq(ZK.four_letter("ruok"), "imok", "the server answers ruok")
    for fn in (test_zkcli_basics, test_ensemble_leader_kill):
        t.case(fn)
    ZK.stop()
    t.finish()


if __name__ == "__main__":
    main()
