"""tests/integration/test_intake.py: the webhook endpoints end to end against the real
daemon: SNS (signed with a test certificate, SignatureVersion 1 and 2), EventBridge
(header secret) and Alertmanager (v4, optional bearer token); duplicates, JSON errors
(400, 401, 403, 405, 413), subscription confirmation, and events surviving a restart.

Payloads are written from the AWS and Alertmanager documentation field by field."""
import json
import os
import subprocess
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("intake")

TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:kafka-ec2-alarms"
CERT_URL = ("https://sns.ap-northeast-2.amazonaws.com/"
            "SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem")
SNSSIGN = os.path.join(krlib.BUILD, "tests", "tools", "snssign")
RECEIVER = os.path.join(krlib.BUILD, "tests", "tools", "receiver")
EB_SECRET = "eb-test-secret"

tmp = tempfile.mkdtemp(prefix="kr-intake-")
certs = os.path.join(tmp, "certs")
os.makedirs(certs)
key = os.path.join(tmp, "sns-key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", os.path.join(certs, CERT_URL.rsplit("/", 1)[1]), "-days", "3650",
                "-subj", "/CN=sns.amazonaws.com"], check=True, capture_output=True)


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def alarm_message(state="ALARM", instance="i-0a1b2c3d4e5f60718", metric="StatusCheckFailed_System"):
    """A CloudWatch alarm as SNS delivers it (the classic notification format)."""
    return {
        "AlarmName": "kafka-orders-b3-status-check",
        "AlarmDescription": "EC2 system status check failed under broker 3",
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-01T09:00:00.000+0000",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (24/11/26 19:01:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
        "StateChangeTime": "2026-11-24T19:02:24.123+0000",
        "Region": "Asia Pacific (Seoul)",
        "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:kafka-orders-b3-status-check",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "OKActions": [], "AlarmActions": [TOPIC], "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": metric, "Namespace": "AWS/EC2", "StatisticType": "Statistic",
            "Statistic": "MAXIMUM", "Unit": None,
            "Dimensions": [{"value": instance, "name": "InstanceId"}],
            "Period": 60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0, "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": "",
        },
    }


def sns_envelope(message_id, message, subject="ALARM: \"kafka-orders-b3-status-check\" in Asia Pacific (Seoul)",
                 type_="Notification", timestamp=None, topic=TOPIC):
    env = {
        "Type": type_, "MessageId": message_id, "TopicArn": topic,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": timestamp or iso_now(),
        "UnsubscribeURL": "https://sns.ap-northeast-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topic + ":0f6a1c3e",
    }
    if subject is not None:
        env["Subject"] = subject
    return env


def sign(msg, version=1, cert_url=CERT_URL):
    r = subprocess.run([SNSSIGN, "--key", key, "--cert-url", cert_url, "--sig-version", str(version), "-"],
                       input=json.dumps(msg), capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def post_sns(d, msg):
    # SNS posts with Content-Type text/plain and these headers
    return d.request("POST", "/hooks/sns", json.dumps(msg), {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": msg.get("Type", ""),
        "x-amz-sns-message-id": msg.get("MessageId", ""),
        "x-amz-sns-topic-arn": msg.get("TopicArn", ""),
        "User-Agent": "Amazon Simple Notification Service Agent"})


def ec2_state_change(state="stopping", id_="7bf73129-1428-4cd3-a780-95db273d1602"):
    return {
        "version": "0", "id": id_, "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-24T19:10:00Z",
        "region": "ap-northeast-2",
        "resources": ["arn:aws:ec2:ap-northeast-2:123456789012:instance/i-0a1b2c3d4e5f60718"],
        "detail": {"instance-id": "i-0a1b2c3d4e5f60718", "state": state},
    }


def am_payload():
    def alert(status, name, fp, broker):
        return {"status": status,
                "labels": {"alertname": name, "cluster": "orders-prod", "broker_id": str(broker),
                           "instance": "10.0.1.%d:9308" % broker, "severity": "critical"},
                "annotations": {"summary": "%s on broker %d" % (name, broker)},
                "startsAt": "2026-11-24T19:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-24T19:20:00.000Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=kafka_server_replicamanager_underreplicatedpartitions",
                "fingerprint": fp}
    return {"version": "4", "groupKey": "{}:{alertname=\"UnderReplicatedPartitions\"}",
            "truncatedAlerts": 0, "status": "firing", "receiver": "kresponder",
            "groupLabels": {"alertname": "UnderReplicatedPartitions"},
            "commonLabels": {"alertname": "UnderReplicatedPartitions", "cluster": "orders-prod"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": [alert("firing", "UnderReplicatedPartitions", "5c8a0e4d1f2b3a49", 3),
                       alert("resolved", "UnderReplicatedPartitions", "7d9e1f2a3b4c5d6e", 4)]}


CONFIG = {"sns": {"verify": True, "cert_dir": certs, "topic_arns": [TOPIC]},
          "eventbridge": {"secret": EB_SECRET}}


@t.case
def sns_signed_notifications():
    d = krlib.Daemon.start(CONFIG)
    msg = sign(sns_envelope("2b8f2c3e-5d6a-5f8e-9c1d-0e7a6b5c4d31", alarm_message()))
    code, body, _ = post_sns(d, msg)
    t.eq(code, 202, "signed v1 notification accepted: %s" % body)
    t.eq(body.get("id"), "sns:2b8f2c3e-5d6a-5f8e-9c1d-0e7a6b5c4d31", "reply carries the event id")
    evs = d.events()
    t.eq(len(evs), 1, "one event visible")
    t.eq(evs[0]["type"], "instance.impaired", "status check → instance.impaired")
    t.eq(evs[0]["state"], "firing", "ALARM → firing")
    t.eq(evs[0]["instance"]["id"], "i-0a1b2c3d4e5f60718", "instance id from the dimension")
    t.ok("received" in evs[0], "the daemon stamps the receive time")

    code, body, _ = post_sns(d, msg)
    t.eq((code, body.get("duplicates")), (202, 1), "a redelivery is acknowledged as a duplicate")
    t.eq(len(d.events()), 1, "and not stored twice")

    msg2 = sign(sns_envelope("3c9f3d4f-6e7b-6a9f-0d2e-1f8b7c6d5e42", alarm_message("OK"), subject=None), 2)
    code, body, _ = post_sns(d, msg2)
    t.eq(code, 202, "signed v2 notification without Subject accepted: %s" % body)
    t.eq(d.events()[0]["state"], "resolved", "OK → resolved, newest first")
    t.eq(d.metric("events_total", 'source="aws.sns",type="instance.impaired"'), 2.0, "events counted")
    t.eq(d.metric("events_duplicate_total"), 1.0, "duplicate counted")
    d.stop()


@t.case
def sns_refusals():
    d = krlib.Daemon.start(CONFIG)
    good = sign(sns_envelope("4d0a4e5a-7f8c-7b0a-1e3f-2a9c8d7e6f53", alarm_message()))
    tampered = dict(good, Message=good["Message"].replace("ALARM", "OK"))
    code, body, _ = post_sns(d, tampered)
    t.eq(code, 403, "tampered Message refused")
    t.ok("error" in body and "signature" in body["error"].lower(), "says why: %s" % body)
    other = sign(sns_envelope("5e1b5f6b-8a9d-8c1b-2f4a-3b0d9e8f7a64", alarm_message(),
                              topic="arn:aws:sns:ap-northeast-2:123456789012:someone-else"))
    code, body, _ = post_sns(d, other)
    t.eq(code, 403, "topic not in the allow-list refused")
    t.eq(body, {"error": "topic arn:aws:sns:ap-northeast-2:123456789012:someone-else is not in sns.topic_arns"},
         "names the topic")
    evil = sign(sns_envelope("6f2c6a7c-9b0e-9d2c-3a5b-4c1e0f9a8b75", alarm_message()),
                cert_url="http://sns.ap-northeast-2.amazonaws.com/SimpleNotificationService-x.pem")
    code, body, _ = post_sns(d, evil)
    t.eq(code, 403, "http cert URL refused")
    code, body, _ = d.request("POST", "/hooks/sns", "{not json", {"Content-Type": "text/plain"})
    t.eq(code, 400, "malformed JSON → 400")
    t.ok(body["error"].startswith("invalid JSON at line 1 column"), "JSON error says where: %s" % body)
    code, body, _ = d.request("POST", "/hooks/sns", json.dumps({"hello": 1}))
    t.eq((code, body), (400, {"error": "not an SNS message: Type and TopicArn are required"}), "not SNS")
    code, body, _ = d.request("POST", "/hooks/sns", "x" * (300 * 1024))
    t.eq(code, 413, "oversized body → 413")
    t.ok(body["error"].startswith("request body of 307200 bytes is larger than the limit"), "413 is JSON: %s" % body)
    code, body, hdrs = d.request("GET", "/hooks/sns")
    t.eq((code, hdrs.get("Allow")), (405, "POST"), "GET on a hook → 405 with Allow: POST")
    t.eq(d.events(), [], "nothing refused was stored")
    t.eq(d.metric("auth_failures_total", 'endpoint="/hooks/sns"'), 3.0, "auth failures counted")
    d.stop()


@t.case
def sns_concurrent_senders_on_workers_and_inline():
    """Signed notifications from 8 concurrent senders, every 7th tampered: with the SNS
    work on 2 worker threads (http.workers: 2) and on the loop thread (0), each good one
    is answered 202 with its own id and stored once, each tampered one 403."""
    import threading
    for workers in (2, 0):
        cfg = dict(CONFIG, http={"workers": workers})
        d = krlib.Daemon.start(cfg)
        msgs = []
        for i in range(120):
            m = sign(sns_envelope("7a%06d-1b2c-4d3e-8f4a-%012d" % (workers, i), alarm_message()), 1 + i % 2)
            if i % 7 == 3:
                m = dict(m, Subject="ALARM: forged")
            msgs.append(m)
        answers = [None] * len(msgs)

        def sender(k):
            for i in range(k, len(msgs), 8):
                code, body, _ = post_sns(d, msgs[i])
                answers[i] = (code, body)
        threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        good = [i for i in range(len(msgs)) if i % 7 != 3]
        t.eq([answers[i][0] for i in good], [202] * len(good), "workers=%d: every signed message 202" % workers)
        t.eq([answers[i][1].get("id") for i in good], ["sns:" + msgs[i]["MessageId"] for i in good],
             "workers=%d: each reply names its own message" % workers)
        bad = [answers[i] for i in range(len(msgs)) if i % 7 == 3]
        t.ok(all(c == 403 and "signature" in b.get("error", "").lower() for c, b in bad),
             "workers=%d: every tampered message 403 (%d)" % (workers, len(bad)))
        ids = sorted(e["id"] for e in d.events(limit=1000))
        t.eq(ids, sorted("sns:" + msgs[i]["MessageId"] for i in good), "workers=%d: each stored once" % workers)
        t.eq(d.metric("auth_failures_total", 'endpoint="/hooks/sns"'), float(len(bad)),
             "workers=%d: refusals counted" % workers)
        _, text, _ = d.request("GET", "/metrics")
        t.ok("\nkresponder_intake_worker_jobs 0\n" in text, "workers=%d: no SNS job left with the workers" % workers)
        d.stop()


@t.case
def eventbridge_secret():
    d = krlib.Daemon.start(CONFIG)
    ev = ec2_state_change()
    code, body, _ = d.post_json("/hooks/eventbridge", ev)
    t.eq((code, body), (401, {"error": "missing or wrong X-Kresponder-Secret header"}), "no secret → 401")
    code, _, _ = d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": "wrong"})
    t.eq(code, 401, "wrong secret → 401")
    code, body, _ = d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": EB_SECRET})
    t.eq(code, 202, "right secret → 202: %s" % body)
    t.eq(body.get("id"), "eb:7bf73129-1428-4cd3-a780-95db273d1602", "EventBridge id")
    t.eq(d.events()[0]["type"], "instance.stopping", "state change → instance.stopping")
    code, body, _ = d.post_json("/hooks/eventbridge", [1, 2], {"X-Kresponder-Secret": EB_SECRET})
    t.eq((code, body), (400, {"error": "expected a JSON object"}), "array body → 400")
    d.stop()
    d = krlib.Daemon.start({"eventbridge": {}})
    code, body, _ = d.post_json("/hooks/eventbridge", ev, {"X-Kresponder-Secret": ""})
    t.eq(code, 401, "no secret configured → everything refused")
    d.stop()


@t.case
def alertmanager_v4():
    d = krlib.Daemon.start(dict(CONFIG, alertmanager={"token": "am-token"}))
    code, _, hdrs = d.post_json("/hooks/alertmanager", am_payload())
    t.eq(code, 401, "token configured, none sent → 401")
    t.eq(hdrs.get("WWW-Authenticate"), "Bearer", "asks for a bearer token")
    code, body, _ = d.post_json("/hooks/alertmanager", am_payload(), {"Authorization": "Bearer am-token"})
    t.eq(code, 202, "v4 payload accepted: %s" % body)
    t.eq(len(body.get("ids", [])), 2, "one event per alert")
    evs = d.events()
    states = sorted(e["state"] for e in evs)
    t.eq(states, ["firing", "resolved"], "alert states carried")
    t.ok(all(e["source"] == "alertmanager" and e["type"] == "alert" for e in evs), "source and type")
    bad = dict(am_payload(), version="3")
    code, body, _ = d.post_json("/hooks/alertmanager", bad, {"Authorization": "Bearer am-token"})
    t.eq(code, 400, "version 3 refused with 400")
    t.ok("error" in body, "with a JSON error: %s" % body)
    # a group of 150 alerts (> 16 KiB: decoded on an intake worker, not the loop)
    big = am_payload()
    one = big["alerts"][0]
    big["alerts"] = [dict(one, labels=dict(one["labels"], broker_id=str(i), instance="10.0.2.%d:9308" % i),
                          fingerprint="%016x" % (0xa000 + i)) for i in range(150)]
    raw = json.dumps(big)
    t.ok(len(raw) > 16 * 1024, "the group is larger than 16 KiB (%d bytes)" % len(raw))
    code, body, _ = d.request("POST", "/hooks/alertmanager", raw,
                              {"Content-Type": "application/json", "Authorization": "Bearer am-token"})
    t.eq(code, 202, "a large group is accepted: %s" % str(body)[:200])
    t.eq(len(body.get("ids", [])), 150, "one event per alert of the large group")
    t.eq(len(d.events(limit=500)), 152, "all stored")
    code, body, _ = d.request("POST", "/hooks/alertmanager", raw.replace('"version": "4"', '"version": "3"'),
                              {"Content-Type": "application/json", "Authorization": "Bearer am-token"})
    t.eq(code, 400, "a large bad group is refused with 400 by the worker's decode: %s" % body)
    t.eq(d.metric("decode_failures_total", 'endpoint="/hooks/alertmanager"'), 2.0, "both decode failures counted")
    d.stop()


@t.case
def subscription_confirmation():
    # Lab mode (sns.verify false) lets the SubscribeURL point at a local receiver.
    out = os.path.join(tmp, "confirm.jsonl")
    rp = subprocess.Popen([RECEIVER, "--listen", "127.0.0.1:0", "--out", out], stdout=subprocess.PIPE, text=True)
    krzk.on_cleanup(lambda: rp.poll() is None and (rp.terminate(), rp.wait()))
    addr = rp.stdout.readline().strip()
    d = krlib.Daemon.start({"sns": {"verify": False, "topic_arns": [TOPIC]}})
    msg = sns_envelope("7a3d7b8d-0c1f-0e3d-4b6c-5d2f1a0b9c86", "You have chosen to subscribe to the topic "
                       + TOPIC + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                       subject=None, type_="SubscriptionConfirmation")
    msg["Token"] = "2336412f37fb687f5d51e6e2425dacbba2ce26d1fa4c8b7fa8b2e27fa2d3a0d3ed70"
    msg["SubscribeURL"] = "http://%s/?Action=ConfirmSubscription&TopicArn=%s&Token=%s" % (addr, TOPIC, msg["Token"])
    code, body, _ = post_sns(d, msg)
    t.eq((code, body.get("status")), (200, "confirming"), "confirmation started: %s" % body)

    def got():
        try:
            with open(out) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
    reqs = krzk.wait_until(got, krzk.tmout(5))
    t.eq(len(reqs), 1, "the SubscribeURL was fetched once")
    if reqs:
        t.eq(reqs[0]["method"], "GET", "with GET")
        t.ok("Action=ConfirmSubscription" in reqs[0]["query"], "the confirmation query")
    t.ok(krzk.wait_until(lambda: d.metric("sns_subscriptions_confirmed_total", 'result="ok"') == 1.0,
                         krzk.tmout(5)), "confirmation counted")
    t.eq(d.events(), [], "a confirmation is not an event")
    d.stop()
    d = krlib.Daemon.start(CONFIG)
    signed = sign(dict(msg, SubscribeURL="https://evil.example.com/?Action=ConfirmSubscription"))
    code, body, _ = post_sns(d, signed)
    t.eq(code, 400, "a SubscribeURL that is not SNS is refused")
    d.stop()


@t.case
def events_survive_restart():
    directory = tempfile.mkdtemp(prefix="kr-it-")
    d = krlib.Daemon.start(CONFIG, directory=directory)
    msg = sign(sns_envelope("8b4e8c9e-1d2a-1f4e-5c7d-6e3a2b1c0d97", alarm_message()))
    t.eq(post_sns(d, msg)[0], 202, "accepted before restart")
    d.kill()  # SIGKILL: only what was fsync'd before the 202 can survive
    d = krlib.Daemon.start(CONFIG, directory=directory)
    evs = d.events()
    t.eq([e["id"] for e in evs], ["sns:8b4e8c9e-1d2a-1f4e-5c7d-6e3a2b1c0d97"], "replayed from the journal")
    code, body, _ = post_sns(d, msg)
    t.eq((code, body.get("duplicates")), (202, 1), "a redelivery after restart is still a duplicate")
    d.stop()


@t.case
def journal_full_gives_503():
    # A small tmpfs as the journal's disk: fill it, and the intake must refuse (503,
    # readiness fails) rather than acknowledge what it cannot persist; free it, and it
    # accepts again. Needs mount(2) (root in the test sandbox); otherwise say so and fail.
    directory = tempfile.mkdtemp(prefix="kr-it-")
    jdir = os.path.join(directory, "journal")
    os.makedirs(jdir)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", jdir], capture_output=True, text=True)
    if not t.ok(r.returncode == 0, "mount a 256 KiB tmpfs for the journal (%s)" % r.stderr.strip()):
        return
    krzk.on_cleanup(lambda: subprocess.run(["umount", "-l", jdir]))
    d = krlib.Daemon.start(CONFIG, directory=directory)
    filler = os.path.join(jdir, "filler")
    with open(filler, "wb") as f:
        try:
            f.write(b"x" * (512 * 1024))
        except OSError:
            pass
    msg = sign(sns_envelope("9c5f9d0f-2e3b-2a5f-6d8e-7f4b3c2d1e08", alarm_message()))
    code, body, _ = post_sns(d, msg)
    t.eq(code, 503, "disk full → 503, nothing acknowledged")
    t.ok(body.get("error", "").startswith("journal cannot persist events: write: No space left on device"),
         "says why: %s" % body)
    code, body, _ = d.request("GET", "/readyz")
    t.eq(code, 503, "readiness fails while the journal cannot write")
    os.unlink(filler)
    code, body, _ = post_sns(d, msg)
    t.eq(code, 202, "the sender's retry is accepted once there is space: %s" % body)
    t.eq(body.get("duplicates"), 0, "and it is not mistaken for a duplicate")
    code, _, _ = d.request("GET", "/readyz")
    t.eq(code, 200, "ready again")
    d.stop()


t.finish()
