"""tests/integration/test_compaction.py: the journal compacts itself (snapshot of the
live state as a new segment, older segments removed) and a restart from the snapshot
restores the same events, dedupe memory, incidents and action runs."""
import json
import os
import subprocess
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("compaction")
SECRET = "s"
RULES = """
- name: log-rebalance
  match: {type: [instance.rebalance]}
  group_by: [instance.id]
  actions:
    - log: {message: "rebalance {{instance.id}}"}
"""


def event(n):
    return {"version": "0", "id": "cmp-%05d" % n, "detail-type": "EC2 Instance Rebalance Recommendation",
            "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
            "region": "ap-northeast-2", "resources": ["arn:aws:ec2:ap-northeast-2:123456789012:instance/i-%04d" % (n % 25)],
            "detail": {"instance-id": "i-%04d" % (n % 25)}}


def segments(directory):
    return sorted(f for f in os.listdir(os.path.join(directory, "journal")) if f.startswith("journal-"))


@t.case
def compacts_and_restores():
    directory = tempfile.mkdtemp(prefix="kr-cmp-")
    os.makedirs(os.path.join(directory, "rules"))
    with open(os.path.join(directory, "rules", "r.yaml"), "w") as f:
        f.write(RULES)
    cfg = {"rules_dir": "rules", "eventbridge": {"secret": SECRET}, "log_level": "warn",
           "events_keep": 50, "journal": {"segment_size": "64KiB", "compact_after": 2}}
    d = krlib.Daemon.start(cfg, directory=directory)
    for n in range(400):
        code, _, _ = d.post_json("/hooks/eventbridge", event(n), {"X-Kresponder-Secret": SECRET})
        if code != 202:
            t.ok(False, "event %d accepted (%d)" % (n, code))
            break
    def oldest_is_snapshot():
        segs = segments(directory)
        try:
            with open(os.path.join(directory, "journal", segs[0])) as f:
                return '"kind":"snapshot.begin"' in f.readline()
        except (IndexError, FileNotFoundError):
            return False
    # both at once: while compaction unlinks the old segments one by one, the count can
    # already be small with a pre-snapshot segment still first
    t.ok(krzk.wait_until(lambda: len(segments(directory)) <= 3 and oldest_is_snapshot(), krzk.tmout(15)),
         "older segments were removed by compaction, the oldest left starts with a snapshot: %s" % segments(directory))
    before_inc = d.request("GET", "/v1/incidents")[1]
    before_ev = d.events(50)
    d.kill()
    d = krlib.Daemon.start(cfg, directory=directory)
    after_inc = d.request("GET", "/v1/incidents")[1]
    strip = lambda incs: sorted((i["id"], i["state"], i["events"], tuple((a["kind"], a["state"]) for a in i.get("actions", [])))
                                for i in incs)
    t.eq(len(after_inc), 25, "25 incidents (one per instance) after a restart from the snapshot")
    t.eq(strip(after_inc), strip(before_inc), "incidents, counts and action runs are the same")
    t.eq([e["id"] for e in d.events(50)], [e["id"] for e in before_ev], "recent events are the same")
    code, body, _ = d.post_json("/hooks/eventbridge", event(3), {"X-Kresponder-Secret": SECRET})
    t.eq((code, body.get("duplicates")), (202, 1), "an event from before the snapshot is still a duplicate")
    t.eq(d.metric("actions_total", 'kind="log",result="done"'), 0.0, "no action ran again")
    d.stop()
    r = subprocess.run([krlib.BIN, "journal", "dump", os.path.join(directory, "journal")], capture_output=True, text=True)
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    t.eq(recs[0]["kind"], "snapshot.begin", "journal dump starts at the snapshot")
    seqs = [x["seq"] for x in recs]
    t.eq(seqs, sorted(set(seqs)), "sequence numbers keep increasing through compaction")


t.finish()
