"""tests/integration/test_compaction_load.py: the journal compacts under continuous load
(it used to wait for an idle journal, which a storm never leaves, and grew until the disk
filled), and SIGKILLs at any moment, right after a compaction too, lose no acknowledged
event, journal none twice, and feed each to the rules exactly once (the incidents' event
counts add up to the events in the journal)."""
import json
import os
import random
import subprocess
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("compaction_load")
SECRET = "s"
RULES = """
- name: log-rebalance
  match: {type: [instance.rebalance]}
  group_by: [instance.id]
  actions:
    - log: {message: "rebalance {{instance.id}}"}
"""
COMPACT_AFTER = 2
random.seed(int(os.environ.get("KR_CRASH_SEED", "11")))

directory = tempfile.mkdtemp(prefix="kr-cmpload-")
os.makedirs(os.path.join(directory, "rules"))
with open(os.path.join(directory, "rules", "r.yaml"), "w") as f:
    f.write(RULES)
# events_keep holds every event of the run: the snapshot then carries each one as an
# "event" record, and the final journal dump must list every acknowledged id once
CONFIG = {"rules_dir": "rules", "eventbridge": {"secret": SECRET}, "log_level": "info",
          "events_keep": 200000, "journal": {"segment_size": "1MiB", "compact_after": COMPACT_AFTER}}

load = krlib.EventBridgeLoad(SECRET, "load")
acked = load.acked


def segments():
    try:
        return [f for f in os.listdir(os.path.join(directory, "journal")) if f.startswith("journal-")]
    except FileNotFoundError:
        return []


def compactions(d):
    return sum(1 for line in d.log() if 'msg="compacted"' in line)


@t.case
def compacts_under_load_and_survives_kills():
    load.start()
    most, during, cycles = 0, 0, 4
    for cycle in range(cycles):
        d = krlib.Daemon.start(CONFIG, directory=directory)
        start_compactions = compactions(d)  # a leftover journal may compact at start
        acked_before = len(acked)
        load.addr = d.addr
        if cycle == 0:
            # a long stretch of load: compaction has to keep up with it
            # (6 s, longer under a slow harness such as valgrind until two compactions ran)
            began = time.time()
            end, deadline = began + 6, began + krzk.tmout(6)
            while time.time() < end or (compactions(d) - start_compactions < 2 and time.time() < deadline):
                most = max(most, len(segments()))
                time.sleep(0.05)
            t.ok(len(acked) - acked_before > 1000, "load ran (%d events acknowledged)" % (len(acked) - acked_before))
            during = compactions(d) - start_compactions
            t.ok(during >= 2, "compaction ran during the load (%d times in %.0f s)" % (during, time.time() - began))
            # the snapshot (it carries every event here) is itself larger than a segment, so
            # the next append starts another one; the count is checked once a second, and
            # a second of this load fills up to ~2 segments: the old code reached 17 here
            t.ok(most <= COMPACT_AFTER + 3, "segments stayed bounded under load: at most %d (compact_after %d)"
                 % (most, COMPACT_AFTER))
        elif cycle == 1:
            # SIGKILL right after a compaction: the snapshot carries events still
            # waiting for their fsync
            n0 = compactions(d)
            krzk.wait_until(lambda: compactions(d) > n0 + 1, krzk.tmout(20), interval=0.002)
        else:
            time.sleep(random.uniform(0.5, 2.5))
        d.kill()  # SIGKILL, mid-load
        load.addr = None
    load.stop(10)
    t.ok(len(acked) > 2000, "%d events acknowledged across %d kills" % (len(acked), cycles))

    d = krlib.Daemon.start(CONFIG, directory=directory)
    _, incidents, _ = d.request("GET", "/v1/incidents")
    fed = sum(i["events"] for i in incidents)
    for eid in sorted(acked)[:3]:
        n = int(eid.split("-")[-1])
        code, body, _ = d.post_json("/hooks/eventbridge", load.event(n), {"X-Kresponder-Secret": SECRET})
        t.eq((code, body.get("duplicates")), (202, 1), "an acknowledged event resent after the kills is a duplicate")
    t.eq(d.stop(), 0, "the daemon stops cleanly")
    r = subprocess.run([krlib.BIN, "journal", "dump", os.path.join(directory, "journal")],
                       capture_output=True, text=True)
    t.eq(r.returncode, 0, "the journal reads back: %s" % r.stderr.strip())
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    t.eq(recs[0].get("kind"), "snapshot.begin", "the journal starts at a snapshot")
    ids = [x["event"]["id"] for x in recs if x.get("kind") == "event"]
    missing = acked - set(ids)
    t.eq(sorted(missing)[:10], [], "every acknowledged event is in the journal (%d missing)" % len(missing))
    counts = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    twice = sorted(i for i, c in counts.items() if c > 1)
    t.eq(twice[:10], [], "no event is journaled twice (%d are)" % len(twice))
    # every journaled event went through the rules once: none lost, none fed again
    t.eq(fed, len(counts), "the incidents counted each journaled event once")
    seqs = [x["seq"] for x in recs]
    t.eq(seqs, sorted(set(seqs)), "sequence numbers keep increasing across compactions and restarts")


t.finish()
