"""tests/integration/test_guards.py: the blast-radius guard applies to every
Kafka-changing action: with more brokers down than pause_when_brokers_down, an
elect_leaders action is skipped with the reason and a guard.paused event is journaled,
while a `log` action still runs and a Streams mark is still made (real ZooKeeper, krsim
and the daemon)."""
import os
import tempfile

import krlib
import krzk

t = krzk.Checks("guards")
SECRET = "s"
RULES = """
- name: elect-on-rebalance
  match: {type: [instance.rebalance], broker.id: [{exists: true}]}
  actions:
    - log: {message: "rebalance for broker {{broker.id}}"}
    - elect_leaders: {brokers: ["{{broker.id}}"]}
    - mark_streams_reset: {apps: [orders-app], to: latest}
"""


@t.case
def brokers_down_pauses_kafka_changing_actions():
    zk = krzk.ZooKeeper.start()
    krzk.zk_mkdirp(zk.connect, "/g")
    sim = krzk.Sim(zk.connect + "/g", session_timeout_ms=4000)
    for b in (1, 2, 3, 4):
        sim.cmd("broker add %d b%d.example 9092 az%d" % (b, b, b % 3))
    sim.cmd("controller 1")
    sim.cmd("topic create orders 4 3")
    directory = tempfile.mkdtemp(prefix="kr-guard-")
    os.makedirs(os.path.join(directory, "rules"))
    with open(os.path.join(directory, "rules", "r.yaml"), "w") as f:
        f.write(RULES)
    d = krlib.Daemon.start({"rules_dir": "rules", "eventbridge": {"secret": SECRET},
                            "clusters": [{"name": "g", "zookeeper": zk.connect + "/g",
                                          "inventory": {"instances": {"i-0aaa": 1}},
                                          "bootstrap_servers": "127.0.0.1:9",
                                          "guards": {"pause_when_brokers_down": 1},
                                          "streams_apps": [{"application_id": "orders-app",
                                                            "input_topics": ["orders"],
                                                            "auto_reset": "never"}]}]},
                           directory=directory)
    t.ok(krzk.wait_until(lambda: (d.request("GET", "/v1/clusters/g")[1] or {}).get("brokers_alive") == 4,
                         krzk.tmout(10)), "the model sees 4 brokers")
    sim.cmd("broker kill 3 close")
    sim.cmd("broker kill 4 close")
    t.ok(krzk.wait_until(lambda: (d.request("GET", "/v1/clusters/g")[1] or {}).get("brokers_alive") == 2,
                         krzk.tmout(10)), "two brokers down")
    ev = {"version": "0", "id": "guard-1", "detail-type": "EC2 Instance Rebalance Recommendation",
          "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
          "region": "ap-northeast-2", "resources": [], "detail": {"instance-id": "i-0aaa"}}
    code, _, _ = d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": SECRET})
    t.eq(code, 202, "event accepted")
    inc = [i for i in d.request("GET", "/v1/incidents")[1] if i["rule"] == "elect-on-rebalance"]
    acts = {a["kind"]: a for a in (inc[0].get("actions", []) if inc else [])}
    t.eq(acts.get("log", {}).get("state"), "done", "a log action still runs")
    el = acts.get("elect_leaders", {})
    t.eq(el.get("state"), "skipped", "elect_leaders is skipped")
    t.ok(el.get("message", "").startswith("guard pause_when_brokers_down: 2 brokers of cluster g are down ([3,4]"),
         "and says why: %s" % el.get("message"))
    # journaled through the same group commit as webhooks: visible once durable
    ms = acts.get("mark_streams_reset", {})
    t.ok(ms.get("state") in ("running", "done"),
         "a Streams mark is still made in a large outage (its reset waits for the app's owners): %s"
         % ms.get("state"))
    guard = krzk.wait_until(lambda: [e for e in d.events() if e.get("type") == "guard.paused"], krzk.tmout(5))
    t.eq(len(guard), 1, "a guard.paused event was journaled")
    t.eq(guard[0].get("cluster") if guard else None, "g", "for the cluster")
    t.eq(d.stop(), 0, "clean stop")
    sim.stop()


t.finish()
