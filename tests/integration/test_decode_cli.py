#!/usr/bin/env python3
"""tests/integration/test_decode_cli.py: `kresponder decode` end to end: every golden
payload prints its expected lines (from a file and from stdin), malformed input exits 1
with a one-line reason, usage errors exit 2."""
import glob
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("KR_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(SRC, os.environ.get("KR_BIN", "bin/kresponder"))
GOLDEN = os.path.join(SRC, "tests", "golden", "decode")
TIMEOUT = 10 * float(os.environ.get("KR_TEST_TIMEOUT_MULT", "1"))

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + ("\n    " + detail.replace("\n", "\n    ") if detail else ""))


def run(args, stdin=None):
    p = subprocess.run([BIN, "decode"] + args, input=stdin, capture_output=True, timeout=TIMEOUT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


payloads = sorted(glob.glob(os.path.join(GOLDEN, "*.json")))
check(len(payloads) >= 35, "golden payloads found (%d)" % len(payloads))
for path in payloads:
    name = os.path.basename(path)[:-5]
    with open(os.path.join(GOLDEN, name + ".expected.jsonl")) as f:
        want = f.read()
    rc, out, err = run([path])
    check(rc == 0 and out == want and err == "", "decode %s" % name,
          "rc=%d stderr=%r\n--- got\n%s--- want\n%s" % (rc, err, out[:2000], want[:2000]))
    # each line is compact JSON with sorted keys, as json.dumps would write it
    lines = out.splitlines()
    canon = all(l == json.dumps(json.loads(l), sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False) for l in lines)
    check(canon, "decode %s prints sorted compact JSON lines" % name)
    with open(path, "rb") as f:
        rc, out, err = run(["-"], stdin=f.read())
    check(rc == 0 and out == want, "decode - < %s" % name, "rc=%d stderr=%r" % (rc, err))

# a forced format gives the same result on its own kind of payload
for fmt, name in [("sns", "sns_alarm_status_check_system"), ("eventbridge", "eb_spot_interruption"),
                  ("alertmanager", "am_label_forms"), ("event", "event_passthrough")]:
    with open(os.path.join(GOLDEN, name + ".expected.jsonl")) as f:
        want = f.read()
    rc, out, err = run(["--format", fmt, os.path.join(GOLDEN, name + ".json")])
    check(rc == 0 and out == want, "decode --format %s %s" % (fmt, name), err)
    rc, out, err = run(["--format=" + fmt, os.path.join(GOLDEN, name + ".json")])
    check(rc == 0 and out == want, "decode --format=%s %s" % (fmt, name), err)

# malformed input: exit 1, nothing on stdout, exactly one line "decode: <reason>"
malformed = [
    (b"not json", "decode: invalid JSON at line 1 column 3: invalid token near 'not'"),
    (b"[1,2]", "decode: payload is not a JSON object (it is array)"),
    (b'{"version":"3","status":"firing","alerts":[]}',
     'decode: Alertmanager webhook: version "3" is not supported (only version "4")'),
    (b'{"Type":"Notification","MessageId":"m","TopicArn":"t","Timestamp":"2026-11-24T19:02:24Z"}',
     'decode: SNS message: "Message" is missing'),
    (b'{"id":"e","detail-type":"X","source":"aws.ec2","time":"2026-11-24T19:02:24Z","detail":[]}',
     'decode: EventBridge event: "detail" must be an object, not array'),
]
for body, want in malformed:
    rc, out, err = run(["-"], stdin=body)
    check(rc == 1 and out == "" and err == want + "\n", "malformed %r" % body[:40],
          "rc=%d out=%r err=%r" % (rc, out, err))
with tempfile.NamedTemporaryFile(suffix=".json") as t:
    t.write(b'{"version":"4","alerts":{}}')
    t.flush()
    rc, out, err = run([t.name])
    check(rc == 1 and err == 'decode: Alertmanager webhook: "alerts" must be an array, not object\n',
          "malformed file", err)
rc, out, err = run(["--format", "alertmanager", os.path.join(GOLDEN, "sns_plain_text.json")])
check(rc == 1 and err == 'decode: Alertmanager webhook: "version" is missing\n',
      "forced format on another payload", err)
rc, out, err = run([os.path.join(GOLDEN, "does-not-exist.json")])
check(rc == 1 and err.startswith("decode: cannot open ") and err.count("\n") == 1,
      "missing file", err)

# usage errors: exit 2
for args in ([], ["--format"], ["--format", "xml", "-"], ["--bogus", "-"], ["a.json", "b.json"]):
    rc, out, err = run(args, stdin=b"{}")
    check(rc == 2 and "usage: kresponder decode" in err, "usage error %r" % args,
          "rc=%d err=%r" % (rc, err))
rc, out, err = run(["--help"])
check(rc == 0 and out.startswith("usage: kresponder decode"), "--help")

print("RESULT test_decode_cli passed=%d failed=%d" % (passed, failed))
sys.exit(1 if failed else 0)
