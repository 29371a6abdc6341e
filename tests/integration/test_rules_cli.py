"""tests/integration/test_rules_cli.py: the rule tools as an SRE runs them:
`kresponder check-rules DIR|FILE` (summary or every error as file:line:col, exit codes)
and `kresponder match -r DIR|FILE EVENT|-` (JSON out, exit 0 whether or not it matched)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krzk  # noqa: E402

t = krzk.Checks("rules_cli")
SRC = krzk.SRCDIR
BIN = os.path.join(SRC, os.environ.get("KR_BIN", "bin/kresponder"))
GOLDEN = os.path.join(SRC, "tests/golden/rules")


def run(*args, cwd=None, stdin=None):
    p = subprocess.run([BIN] + list(args), cwd=cwd, input=stdin, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_check_rules_ok():
    rc, out, err = run("check-rules", os.path.join(GOLDEN, "match/order_disabled_dryrun/rules.yaml"))
    t.eq((rc, out, err), (0, "4 rules in 1 file\n", ""), "a good file: exit 0 and the summary")
    rc, out, _ = run("check-rules", os.path.join(GOLDEN, "match/status_check/rules.yaml"))
    t.eq((rc, out), (0, "1 rule in 1 file\n"), "singular wording")


def test_check_rules_errors_match_golden():
    errors = os.path.join(GOLDEN, "errors")
    n = 0
    for name in sorted(os.listdir(errors)):
        if not name.endswith(".err"):
            continue
        base = name[:-4]
        target = base + ".yaml" if os.path.exists(os.path.join(errors, base + ".yaml")) else base
        with open(os.path.join(errors, name)) as f:
            want = f.read()
        rc, out, err = run("check-rules", target, cwd=errors)
        t.eq((rc, out, err), (1, "", want), "check-rules %s: exit 1, exact error lines" % target)
        n += 1
    t.ok(n >= 7, "ran every golden error case (%d)" % n)
    for line in open(os.path.join(errors, "bad_fields.err")):
        t.ok(re.match(r"^bad_fields\.yaml:\d+:\d+: \S", line), "file:line:col: message: " + line.strip()[:60])


def test_usage():
    rc, _, err = run("check-rules")
    t.eq(rc, 2, "check-rules without an argument is a usage error")
    t.ok("usage: kresponder check-rules" in err, "and says how to call it")
    rc, _, err = run("match", "event.json")
    t.eq(rc, 2, "match without -r is a usage error")
    rc, _, err = run("check-rules", "/nonexistent/rules")
    t.eq((rc, err), (1, "/nonexistent/rules: cannot read rules: No such file or directory\n"),
         "a missing path is an error, not an empty set")


def test_match_file_and_stdin():
    case = os.path.join(GOLDEN, "match/order_disabled_dryrun")
    rules = os.path.join(case, "rules.yaml")
    rc, out, err = run("match", "-r", rules, os.path.join(case, "event.json"))
    t.eq(rc, 0, "match exits 0")
    got = json.loads(out)
    with open(os.path.join(case, "expected.json")) as f:
        want = json.load(f)[0]
    t.eq(got, want, "match prints the golden explanation")
    with open(os.path.join(case, "event.json")) as f:
        ev = f.read()
    rc, out2, _ = run("match", "-r", rules, "-", stdin=ev)
    t.eq((rc, json.loads(out2)), (0, want), "the event can come on stdin")
    rc, out3, _ = run("match", "-r", rules, "-",
                      stdin='{"source": "aws.sns", "type": "alarm", "state": "firing"}')
    t.eq((rc, json.loads(out3)["matches"]), (0, []), "no match: exit 0 and an empty list")
    rc, out4, _ = run("match", "-r", os.path.join(GOLDEN, "match/status_check/rules.yaml"),
                      os.path.join(GOLDEN, "match/status_check/event.json"))
    dec, objs, i = json.JSONDecoder(), [], 0
    while i < len(out4.strip()):
        o, i = dec.raw_decode(out4, i)
        objs.append(o)
        while i < len(out4) and out4[i].isspace():
            i += 1
    t.eq([len(o["matches"]) for o in objs], [1, 0, 0], "a list of events: one object per event")


def test_match_bad_event():
    rules = os.path.join(GOLDEN, "match/status_check/rules.yaml")
    rc, out, err = run("match", "-r", rules, "-", stdin='{"type": ')
    t.eq((rc, out), (1, ""), "bad JSON: exit 1, nothing on stdout")
    t.ok(err.startswith("<stdin>:1:"), "and the error names where: " + err.strip())
    rc, _, err = run("match", "-r", os.path.join(GOLDEN, "errors/unknown_key.yaml"), "-", stdin="{}")
    t.eq(rc, 1, "broken rules: exit 1")
    t.ok("unknown key \"mtach\" in rule" in err, "and the rule errors are printed")


def explain_all(out):
    dec, objs, i, out = json.JSONDecoder(), [], 0, out.strip()
    while i < len(out):
        o, i = dec.raw_decode(out, i)
        objs.append(o)
        while i < len(out) and out[i].isspace():
            i += 1
    return objs


def test_match_decodes_webhook_payloads():
    rules = os.path.join(SRC, "rules")
    rc, out, err = run("match", "-r", rules,
                       os.path.join(SRC, "tests/golden/decode/sns_alarm_status_check_system.json"))
    t.eq((rc, err), (0, ""), "an SNS CloudWatch alarm delivery is decoded and matched")
    objs = explain_all(out)
    t.eq([o["event"]["type"] for o in objs], ["instance.impaired"], "one normalized event")
    # No inventory here, so no broker.id: the evacuate rule (broker.id exists) stays out.
    t.eq([m["rule"] for m in objs[0]["matches"]], ["page-on-ec2-status-check"],
         "status check alarm pages; evacuation needs a broker")
    t.eq(objs[0]["matches"][0]["incident_key"],
         "page-on-ec2-status-check|cluster=|instance.id=i-0a1b2c3d4e5f60718",
         "default grouping falls back to the instance")
    rc, out, err = run("match", "-r", rules,
                       os.path.join(SRC, "tests/golden/decode/am_real_capture_firing_and_resolved.json"))
    objs = explain_all(out)
    t.eq((rc, [o["event"]["state"] for o in objs]), (0, ["firing", "resolved"]),
         "an Alertmanager webhook gives one object per alert")
    rc, out, err = run("match", "-r", rules, "-", stdin='{"Type": "Notification", "MessageId": 5}')
    t.eq(rc, 1, "a malformed SNS payload is an error")
    t.ok(err.startswith("<stdin>: sns payload: "), "naming the format: " + err.strip())


def test_shipped_rules():
    rc, out, err = run("check-rules", os.path.join(SRC, "rules"))
    t.eq((rc, out, err), (0, "7 rules in 3 files\n", ""), "rules/ passes check-rules")


for fn in (test_check_rules_ok, test_check_rules_errors_match_golden, test_usage,
           test_match_file_and_stdin, test_match_bad_event, test_match_decodes_webhook_payloads, test_shipped_rules):
    t.case(fn)
t.finish()
