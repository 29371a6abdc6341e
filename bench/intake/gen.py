#!/usr/bin/env python3
"""bench/intake/gen.py: the SNS fixtures of the intake benchmark: N CloudWatch alarm
notifications as SNS delivers them over HTTP, each with its own MessageId, signed in one
process by tests/tools/snssign --lines (SignatureVersion 1, SHA1withRSA, like most SNS
topics), written one request a line as "MessageId<TAB>TopicArn<TAB>body" for the wrk script.

    gen.py --snssign PATH --key KEY.pem --cert-url URL --topic ARN -n N --out FILE

The alarm is the classic CloudWatch notification (the JSON in SNS's Message), field by
field as in tests/integration/test_intake.py; the alarm and instance cycle through 160
brokers so the payloads are not all byte-identical. Python stdlib only."""
import argparse
import json
import subprocess
import sys
import time
import uuid


def alarm(i, topic, now):
    broker = i % 160 + 1
    instance = "i-0a1b2c3d4e5f6%04x" % broker
    name = "kafka-orders-b%d-status-check" % broker
    return {
        "AlarmName": name,
        "AlarmDescription": "EC2 system status check failed under broker %d" % broker,
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-01T09:00:00.000+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (24/11/26 19:01:00)] was "
                          "greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM "
                          "transition).",
        "StateChangeTime": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(now)),
        "Region": "Asia Pacific (Seoul)",
        "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:" + name,
        "OldStateValue": "OK",
        "OKActions": [], "AlarmActions": [topic], "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "StatusCheckFailed_System", "Namespace": "AWS/EC2",
            "StatisticType": "Statistic", "Statistic": "MAXIMUM", "Unit": None,
            "Dimensions": [{"value": instance, "name": "InstanceId"}],
            "Period": 60, "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0,
            "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": "",
        },
    }


def envelope(i, topic, now):
    a = alarm(i, topic, now)
    return {
        "Type": "Notification",
        "MessageId": str(uuid.UUID(int=(0x6b1c2e3f << 96) | i, version=4)),
        "TopicArn": topic,
        "Subject": 'ALARM: "%s" in Asia Pacific (Seoul)' % a["AlarmName"],
        "Message": json.dumps(a, separators=(",", ":")),
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (i % 1000),
        "UnsubscribeURL": "https://sns.ap-northeast-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                          + topic + ":0f6a1c3e-7d2b-4c8e-9a51-3e6f0b2d4c7a",
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--snssign", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cert-url", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("-n", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    now = time.time()
    unsigned = "".join(json.dumps(envelope(i, a.topic, now)) + "\n" for i in range(a.n))
    r = subprocess.run([a.snssign, "--key", a.key, "--cert-url", a.cert_url, "--lines", "-"],
                       input=unsigned, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("gen.py: snssign failed: " + r.stderr.strip())
    signed = r.stdout.splitlines()
    if len(signed) != a.n:
        sys.exit("gen.py: snssign signed %d of %d messages" % (len(signed), a.n))
    ids = set()
    with open(a.out, "w") as f:
        for line in signed:
            m = json.loads(line)
            ids.add(m["MessageId"])
            f.write("%s\t%s\t%s\n" % (m["MessageId"], m["TopicArn"], line))
    if len(ids) != a.n:
        sys.exit("gen.py: MessageIds are not distinct")


if __name__ == "__main__":
    main()
