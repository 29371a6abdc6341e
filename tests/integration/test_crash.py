"""tests/integration/test_crash.py: SIGKILL the daemon at random points under load,
restart it, and prove from the journal that every acknowledged (202) event is present
exactly once and every action ran exactly once (issue 8's crash test)."""
import json
import os
import random
import subprocess
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("crash")
SECRET = "s"
RULES = """
- name: log-rebalance
  match: {type: [instance.rebalance]}
  group_by: [instance.id]
  actions:
    - log: {message: "rebalance {{instance.id}}"}
"""
KILLS = int(os.environ.get("KR_CRASH_KILLS", "6"))
random.seed(int(os.environ.get("KR_CRASH_SEED", "7")))

directory = tempfile.mkdtemp(prefix="kr-crash-")
os.makedirs(os.path.join(directory, "rules"))
with open(os.path.join(directory, "rules", "r.yaml"), "w") as f:
    f.write(RULES)
CONFIG = {"rules_dir": "rules", "eventbridge": {"secret": SECRET}, "log_level": "warn"}

load = krlib.EventBridgeLoad(SECRET, "crash", timeout=2)
acked = load.acked


@t.case
def kill_under_load():
    load.start()
    for i in range(KILLS):
        d = krlib.Daemon.start(CONFIG, directory=directory)
        load.addr = d.addr
        time.sleep(random.uniform(0.2, 0.8))
        d.kill()  # SIGKILL, mid-load
        load.addr = None
    load.stop(5)
    t.ok(len(acked) > 50, "load was acknowledged across %d kills (%d events)" % (KILLS, len(acked)))

    # a final clean start replays everything and resumes; then stop and read the journal
    d = krlib.Daemon.start(CONFIG, directory=directory)
    sample = sorted(acked)[:5]
    for eid in sample:
        n = int(eid.split("-")[-1])
        code, body, _ = d.post_json("/hooks/eventbridge", load.event(n), {"X-Kresponder-Secret": SECRET})
        t.eq((code, body.get("duplicates")), (202, 1), "an acknowledged event resent after the crashes is a duplicate")
    d.stop()
    r = subprocess.run([krlib.BIN, "journal", "dump", os.path.join(directory, "journal")],
                       capture_output=True, text=True)
    t.eq(r.returncode, 0, "the journal reads back after %d SIGKILLs: %s" % (KILLS, r.stderr.strip()))
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    ids = [x["event"]["id"] for x in recs if x.get("kind") == "event"]
    missing = acked - set(ids)
    t.eq(sorted(missing), [], "every acknowledged event is in the journal")
    dup = [i for i in set(ids) if ids.count(i) > 1] if len(ids) < 20000 else []
    t.eq(dup, [], "no event is journaled twice")
    starts = [x["run"] for x in recs if x.get("kind") == "run.start"]
    t.eq(len(starts), len(set(starts)), "no action run was started twice (%d runs)" % len(starts))
    fired = {x["incident"] for x in recs if x.get("record") == "incident.state" and x.get("to") == "firing"}
    run_incidents = {s.rsplit("/", 1)[0] for s in starts}
    t.eq(sorted(fired - run_incidents), [], "every firing incident dispatched its action")
    opened = {x.get("group", {}).get("instance.id") for x in recs if x.get("record") == "incident.open"}
    wanted = {"i-%04d" % (int(e.split("-")[-1]) % 40) for e in acked}
    t.eq(sorted(wanted - opened), [], "every acknowledged event reached the rules (an incident per instance)")
    seqs = [x["seq"] for x in recs]
    t.eq(seqs, sorted(set(seqs)), "sequence numbers stay increasing and unique across restarts")


t.finish()
