"""tests/integration/test_plan_cli.py: `kresponder plan` end to end.

1. Golden cases: every tests/golden/plan/<case>/args is run as `kresponder plan <args>`
   from tests/golden/plan; stdout, stderr and the exit code must equal the case's
   `stdout`, `stderr` and `rc` files byte for byte (KR_GOLDEN_UPDATE=1 rewrites them, to
   be reviewed by hand before committing).
2. The printed plan is checked as a reassignment document Kafka accepts: version 1,
   partitions sorted by topic then partition, each with topic, partition, replicas.
3. --zookeeper: a real ZooKeeper holding the znodes a ZooKeeper-mode Kafka cluster writes
   (/brokers/ids/<id> v5 JSON, /brokers/topics/<t> v3 JSON) gives the same plan as the
   equivalent snapshot; a topic under reassignment is refused.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krzk  # noqa: E402

SRCDIR = krzk.SRCDIR
BIN = os.path.join(SRCDIR, os.environ.get("KR_BIN", "bin/kresponder"))
GOLDEN = os.path.join(SRCDIR, "tests", "golden", "plan")
UPDATE = os.environ.get("KR_GOLDEN_UPDATE") == "1"

t = krzk.Checks("plan_cli")


def plan(args, cwd=GOLDEN, timeout=60):
    p = subprocess.run([BIN, "plan"] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=krzk.tmout(timeout))
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path) as f:
        return f.read()


def check_reassignment_shape(name, text):
    doc = json.loads(text)
    t.eq(sorted(doc.keys()), ["partitions", "version"], name + ": top-level keys")
    t.eq(doc["version"], 1, name + ": version 1")
    keys = [(p["topic"], p["partition"]) for p in doc["partitions"]]
    t.ok(keys == sorted(keys) and len(set(keys)) == len(keys),
         name + ": partitions sorted by topic then partition, each once")
    t.ok(all(list(p.keys()) == ["topic", "partition", "replicas"] and
             all(isinstance(r, int) for r in p["replicas"]) and
             len(set(p["replicas"])) == len(p["replicas"]) for p in doc["partitions"]),
         name + ": every entry is {topic, partition, replicas} without duplicates")


def test_golden():
    cases = sorted(d for d in os.listdir(GOLDEN)
                   if os.path.isfile(os.path.join(GOLDEN, d, "args")))
    t.ok(len(cases) >= 10, "golden cases found (%d)" % len(cases))
    for case in cases:
        d = os.path.join(GOLDEN, case)
        args = read(os.path.join(d, "args")).split()
        rc, out, err = plan(args)
        if UPDATE:
            for name, text in (("stdout", out), ("stderr", err), ("rc", "%d\n" % rc)):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
        t.eq(rc, int(read(os.path.join(d, "rc"))), case + ": exit code")
        t.eq(out, read(os.path.join(d, "stdout")), case + ": stdout")
        t.eq(err, read(os.path.join(d, "stderr")), case + ": stderr")
        if rc == 0:
            check_reassignment_shape(case, out)
        else:
            t.eq(out, "", case + ": nothing on stdout when planning fails")


def test_plan_is_deterministic_and_input_order_free():
    snap = json.loads(read(os.path.join(GOLDEN, "fleet", "snapshot.json")))
    rev = dict(snap, brokers=list(reversed(snap["brokers"])),
               partitions=list(reversed(snap["partitions"])))
    path = os.path.join(krzk.tempfile.mkdtemp(prefix="kr-plan-"), "rev.json")
    with open(path, "w") as f:
        json.dump(rev, f)
    a = plan(["drain", "--from", "blue", "--to", "green", "--snapshot",
              "fleet/snapshot.json"])
    b = plan(["drain", "--from", "blue", "--to", "green", "--snapshot", path])
    t.eq(a[0], 0, "drain plans")
    t.eq(a[1], b[1], "reversed input order gives the same plan")


# ---------------------------------------------------------------- ZooKeeper

BROKERS = [(1, "az1"), (2, "az2"), (4, "az1"), (5, "az2"), (6, "az3"),
           (1001, "az1"), (1002, "az2"), (1003, "az3")]     # 3 is dead: no znode
TOPICS = {
    "orders": {"0": [1, 3, 5], "1": [2, 4, 6], "2": [3, 5, 1], "3": [4, 6, 2]},
    "payments": {"0": [2, 4], "1": [3, 5]},
}


def broker_json(bid, rack):
    """What KafkaZkClient.registerBroker writes for a 2.7+ broker (v5)."""
    return json.dumps({"features": {}, "listener_security_protocol_map":
                       {"PLAINTEXT": "PLAINTEXT"},
                       "endpoints": ["PLAINTEXT://b%d.example:9092" % bid],
                       "jmx_port": -1, "port": 9092, "host": "b%d.example" % bid,
                       "version": 5, "timestamp": "1700000000000", "rack": rack})


def topic_json(parts, adding=None):
    return json.dumps({"version": 3, "topic_id": "AAAAAAAAAAAAAAAAAAAAAA",
                       "partitions": parts, "adding_replicas": adding or {},
                       "removing_replicas": {}})


def test_zookeeper_matches_snapshot():
    try:
        zk = krzk.ZooKeeper.start()
    except Exception as e:  # no JRE or zookeeper package: say so, fail
        t.ok(False, "start ZooKeeper: %s" % e)
        return
    root = "/kafka-a"  # a chroot, as the fleet runs one ensemble per cluster
    for bid, rack in BROKERS:
        krzk.zk_mkdirp(zk.connect, root + "/brokers/ids")
        # persistent here: zkcli's session ends at once (brokers hold ephemerals)
        krzk.zk_create(zk.connect, "%s/brokers/ids/%d" % (root, bid), broker_json(bid, rack))
    krzk.zk_mkdirp(zk.connect, root + "/brokers/topics")
    for topic, parts in TOPICS.items():
        krzk.zk_create(zk.connect, "%s/brokers/topics/%s" % (root, topic), topic_json(parts))
        krzk.zk_mkdirp(zk.connect, "%s/brokers/topics/%s/partitions/0" % (root, topic))
    snap = {"brokers": [{"id": b, "rack": r} for b, r in BROKERS],
            "partitions": [{"topic": tp, "partition": int(p), "replicas": reps}
                           for tp, parts in TOPICS.items() for p, reps in parts.items()]}
    path = os.path.join(zk.dir, "snap.json")
    with open(path, "w") as f:
        json.dump(snap, f)
    for args in (["evacuate", "--brokers", "3"],
                 ["evacuate", "--brokers", "3,6", "--to", "any"],
                 ["drain", "--from", "blue", "--to", "green"]):
        stacks = ["--stacks", "blue=1-1000,green=1001-2000"]
        rz, oz, ez = plan(args + stacks + ["--zookeeper", zk.connect + root])
        rs, os_, es = plan(args + stacks + ["--snapshot", path])
        name = " ".join(args)
        t.eq(rz, 0, name + ": plans from ZooKeeper (stderr: %s)" % ez.strip())
        t.eq(oz, os_, name + ": same plan from ZooKeeper as from the snapshot")
        t.eq(ez, es, name + ": same summary")
        if rz == 0:
            check_reassignment_shape(name, oz)
    # the dead broker 3 (no znode) is evacuated; the live ones stay
    rz, oz, _ = plan(["evacuate", "--brokers", "3", "--to", "any", "--zookeeper",
                      zk.connect + root])
    doc = json.loads(oz) if rz == 0 else {"partitions": []}
    t.eq(sorted((p["topic"], p["partition"]) for p in doc["partitions"]),
         [("orders", 0), ("orders", 2), ("payments", 1)], "only partitions on broker 3 move")
    # a reassignment in progress: refuse
    krzk.zk_set(zk.connect, root + "/brokers/topics/payments",
                topic_json({"0": [2, 4], "1": [1003, 3, 5]}, adding={"1": [1003]}))
    rz, oz, ez = plan(["evacuate", "--brokers", "3", "--to", "any", "--zookeeper",
                       zk.connect + root])
    t.eq(rz, 1, "a topic under reassignment: exit 1")
    t.eq(ez, "plan: payments-1 is being reassigned (adding_replicas not empty): wait "
             "until the reassignment ends\n", "a topic under reassignment: the reason")
    t.eq(oz, "", "a topic under reassignment: no plan")
    # an empty chroot: nothing known, so broker 3 is not in the cluster
    rz, _, ez = plan(["evacuate", "--brokers", "3", "--zookeeper", zk.connect + "/empty"])
    t.eq((rz, ez), (1, "plan: broker 3 is not in the cluster: it is neither registered nor a "
                       "replica of any partition\n"), "empty cluster: unknown broker")
    zk.stop()


t.case(test_golden)
t.case(test_plan_is_deterministic_and_input_order_free)
t.case(test_zookeeper_matches_snapshot)
t.finish()
