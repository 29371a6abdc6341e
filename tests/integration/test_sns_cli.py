#!/usr/bin/env python3
"""tests/integration/test_sns_cli.py: `kresponder sns-verify` end to end. Certificates come
from `openssl req -x509`; messages are signed by build/tests/tools/snssign and, as an
independent check of the string-to-sign, by this script itself with `openssl dgst -sign`
over the string it builds from AWS's documentation."""
import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("KR_SRCDIR", os.getcwd())
BUILD = os.environ.get("KR_BUILD", "build")
BIN = os.path.join(SRC, os.environ.get("KR_BIN", "bin/kresponder"))
SNSSIGN = os.path.join(SRC, BUILD, "tests/tools/snssign")
CERT_NAME = "SimpleNotificationService-0000000000000000000000.pem"
URL = "https://sns.us-east-1.amazonaws.com/" + CERT_NAME

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + detail if detail else ""))


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def openssl_cert(key, cert):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "3650", "-subj", "/CN=sns.amazonaws.com"],
                   check=True, capture_output=True)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % int((t % 1) * 1000)


def notification(ts, subject="ALARM: broker-1003-status"):
    m = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:kafka-alarms",
        "Message": json.dumps({"AlarmName": "broker-1003-status", "NewStateValue": "ALARM"}) +
                   "\nsecond line, \u00fcnicode",
        "Timestamp": ts,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x=1",
    }
    if subject is not None:
        m["Subject"] = subject
    return m


def confirmation(ts, typ="SubscriptionConfirmation"):
    return {
        "Type": typ,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425c464de12884c4ca1da3c5b6cc1c2d65df77d2",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:kafka-alarms",
        "Message": "You have chosen to subscribe to the topic "
                   "arn:aws:sns:us-east-1:123456789012:kafka-alarms.\n"
                   "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
                        "&TopicArn=arn:aws:sns:us-east-1:123456789012:kafka-alarms&Token=2336",
        "Timestamp": ts,
    }


def snssign(msg, key, version="1", url=URL):
    rc, out, err = run([SNSSIGN, "--key", key, "--cert-url", url, "--sig-version", version, "-"],
                       json.dumps(msg))
    if rc != 0:
        raise RuntimeError("snssign failed: " + err)
    return json.loads(out)


def string_to_sign(m):
    """The string-to-sign exactly as AWS documents it, written here independently."""
    if m["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join("%s\n%s\n" % (k, m[k]) for k in keys if m.get(k) is not None)


def openssl_sign(msg, key, tmp, version):
    m = dict(msg)
    data = os.path.join(tmp, "tosign")
    with open(data, "wb") as f:
        f.write(string_to_sign(m).encode("utf-8"))
    sig = subprocess.run(["openssl", "dgst", "-sha1" if version == "1" else "-sha256", "-sign",
                          key, data], check=True, capture_output=True).stdout
    m["SignatureVersion"] = version
    m["SigningCertURL"] = URL
    m["Signature"] = base64.b64encode(sig).decode()
    return m


def verify(tmp, certdir, msg, *extra):
    path = os.path.join(tmp, "msg.json")
    with open(path, "w") as f:
        f.write(msg if isinstance(msg, str) else json.dumps(msg, indent=2))
    return run([BIN, "sns-verify", "--cert-dir", certdir] + list(extra) + [path])


def main():
    tmp = tempfile.mkdtemp(prefix="kr-sns-cli.")
    try:
        certdir = os.path.join(tmp, "certs")
        os.mkdir(certdir)
        key, other_key = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k2.pem")
        openssl_cert(key, os.path.join(certdir, CERT_NAME))
        openssl_cert(other_key, os.path.join(tmp, "c2.pem"))
        t0 = int(time.time())          # the certificate is valid from t0 (to the second)
        ts = iso(t0 + 0.25)

        for typ in ("n", "n-nosubject", "sub", "unsub"):
            for v in ("1", "2"):
                msg = (notification(ts) if typ == "n" else
                       notification(ts, None) if typ == "n-nosubject" else
                       confirmation(ts, "SubscriptionConfirmation" if typ == "sub"
                                    else "UnsubscribeConfirmation"))
                rc, out, err = verify(tmp, certdir, snssign(msg, key, v))
                check("snssign %s v%s is valid" % (typ, v), rc == 0 and out == "valid\n",
                      "rc=%d out=%r err=%r" % (rc, out, err))
                rc, out, err = verify(tmp, certdir, openssl_sign(msg, key, tmp, v))
                check("openssl-signed %s v%s is valid" % (typ, v), rc == 0 and out == "valid\n",
                      "rc=%d out=%r err=%r" % (rc, out, err))

        signed = snssign(notification(ts), key, "2")
        for field in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn"):
            m = dict(signed)
            if field == "Timestamp":   # one millisecond later: still a valid time
                m[field] = m[field][:-2] + ("1" if m[field][-2] != "1" else "2") + "Z"
            else:
                m[field] += "x"
            rc, out, _ = verify(tmp, certdir, m)
            check("tampered %s is invalid" % field,
                  rc == 1 and out.startswith("invalid: signature does not match"), out)
        m = dict(signed)
        del m["Subject"]
        rc, out, _ = verify(tmp, certdir, m)
        check("removed Subject is invalid", rc == 1 and out.startswith("invalid: "), out)

        m = snssign(notification(ts), other_key, "2")
        rc, out, _ = verify(tmp, certdir, m)
        check("other key is invalid", rc == 1 and "signature does not match" in out, out)

        m = snssign(notification(ts), key, "1",
                    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9999.pem")
        rc, out, _ = verify(tmp, certdir, m)
        want = "invalid: certificate SimpleNotificationService-9999.pem not found in %s\n" % certdir
        check("missing certificate", rc == 1 and out == want, "%r != %r" % (out, want))

        for url, why in (("http://sns.us-east-1.amazonaws.com/" + CERT_NAME, "https"),
                         ("https://sns.us-east-1.amazonaws.com.evil.com/" + CERT_NAME, "SNS host"),
                         ("https://evilsns.us-east-1.amazonaws.com/" + CERT_NAME, "SNS host"),
                         ("https://sns.us-east-1.amazonaws.com:443/" + CERT_NAME, "port"),
                         ("https://x@sns.us-east-1.amazonaws.com/" + CERT_NAME, "user name"),
                         ("https://sns.us-east-1.amazonaws.com/x?" + CERT_NAME, "query")):
            rc, out, _ = verify(tmp, certdir, snssign(notification(ts), key, "1", url))
            check("cert URL %s refused" % url, rc == 1 and why in out, out)

        m = dict(signed)
        m["SignatureVersion"] = "3"
        rc, out, _ = verify(tmp, certdir, m)
        check("SignatureVersion 3", rc == 1 and "SignatureVersion \"3\" is not supported" in out,
              out)

        # Certificate validity at the message's Timestamp (openssl req: now .. now+3650d).
        for when, label in ((t0 - 86400, "before notBefore"), (t0 + 3660 * 86400, "after notAfter")):
            rc, out, _ = verify(tmp, certdir, snssign(notification(iso(when)), key, "2"))
            check("Timestamp " + label, rc == 1 and "is not valid at the message's Timestamp" in out,
                  out)

        # Lambda spellings, null Subject, and a whole Lambda event.
        lam = notification(ts, None)
        lam["Subject"] = None
        lam["SigningCertUrl"] = URL
        lam["UnsubscribeUrl"] = lam.pop("UnsubscribeURL")
        lam = snssign(lam, key, "1")
        check("snssign keeps the Lambda spelling", "SigningCertUrl" in lam and
              "SigningCertURL" not in lam, str(list(lam)))
        rc, out, _ = verify(tmp, certdir, lam)
        check("Lambda spelling with null Subject", rc == 0 and out == "valid\n", out)
        event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": lam}]}
        rc, out, _ = verify(tmp, certdir, event)
        check("Lambda event record", rc == 0 and out == "valid\n", out)

        # --lines (the intake benchmark's bulk signer): one message a line in and out,
        # each signed as alone; a bad line names its number and fails the run.
        batch = [notification(ts), confirmation(ts), dict(notification(ts), MessageId="m-3")]
        rc, out, err = run([SNSSIGN, "--key", key, "--cert-url", URL, "--sig-version", "2", "--lines", "-"],
                           "".join(json.dumps(m) + "\n" for m in batch) + "\n")
        lines = out.splitlines()
        check("--lines signs one message a line", rc == 0 and len(lines) == 3, "rc=%d err=%r" % (rc, err))
        for i, line in enumerate(lines):
            m = json.loads(line)
            rc2, out2, _ = verify(tmp, certdir, m)
            check("--lines message %d is valid and unchanged" % (i + 1),
                  rc2 == 0 and out2 == "valid\n" and m["MessageId"] == batch[i]["MessageId"] and
                  m["SignatureVersion"] == "2", out2)
        rc, out, err = run([SNSSIGN, "--key", key, "--cert-url", URL, "--lines", "-"],
                           json.dumps(batch[0]) + "\n{broken\n")
        check("--lines refuses a bad line by number", rc == 1 and "-:2:" in err, "rc=%d err=%r" % (rc, err))

        # stdin, malformed input and usage errors.
        rc, out, _ = run([BIN, "sns-verify", "--cert-dir", certdir, "-"], json.dumps(signed))
        check("stdin", rc == 0 and out == "valid\n", out)
        rc, out, _ = verify(tmp, certdir, "{not json")
        check("not JSON", rc == 1 and out.startswith("invalid: ") and "not JSON" in out, out)
        rc, out, _ = verify(tmp, certdir, '{"Type":"Notification","Type":"Notification"}')
        check("duplicate keys", rc == 1 and out.startswith("invalid: "), out)
        rc, out, _ = verify(tmp, certdir, {"Type": "Alarm"})
        check("unknown Type", rc == 1 and "Type \"Alarm\" is not" in out, out)
        rc, _, err = run([BIN, "sns-verify", os.path.join(tmp, "msg.json")])
        check("--cert-dir required", rc == 2 and "--cert-dir" in err, err)
        rc, _, err = run([BIN, "sns-verify", "--cert-dir", certdir, "--max-age", "soon",
                          os.path.join(tmp, "msg.json")])
        check("bad --max-age", rc == 2 and "bad duration" in err, err)
        rc, _, err = run([BIN, "sns-verify", "--cert-dir", os.path.join(tmp, "nope"),
                          os.path.join(tmp, "msg.json")])
        check("missing cert dir", rc == 2 and "not a directory" in err, err)
        rc, _, err = run([BIN, "sns-verify", "--cert-dir", certdir, os.path.join(tmp, "none.json")])
        check("missing file", rc == 2 and "cannot open" in err, err)

        # --max-age: the signed message is timestamped t0; wait until it is 2+ s old.
        time.sleep(max(0.0, t0 + 2.6 - time.time()))
        rc, out, _ = verify(tmp, certdir, signed, "--max-age", "15m")
        check("--max-age 15m accepts a fresh message", rc == 0 and out == "valid\n", out)
        rc, out, _ = verify(tmp, certdir, signed, "--max-age", "1s")
        check("--max-age 1s refuses a 2 s old message",
              rc == 1 and "more than the maximum age of 1s" in out, out)
        rc, out, _ = verify(tmp, certdir, signed)
        check("no --max-age, no age check", rc == 0 and out == "valid\n", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("RESULT test_sns_cli passed=%d failed=%d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
