"""tests/demo/demo.py: `make run`. Plays the mission end to end on this machine:

  two ZooKeeper servers (one ensemble per Kafka cluster, as the fleet runs them), the
  cluster simulator playing two ZooKeeper-mode Kafka clusters (blue and green stacks over
  three racks, real-looking topics, a Kafka Streams app), a local receiver that prints the
  Slack and PagerDuty messages kresponder sends, and kresponder with the shipped rules/.
  Then a scripted incident: a CloudWatch status-check alarm for broker 2's instance arrives
  by SNS (signed with a demo certificate the demo config trusts), the page appears, EC2
  stops the instance and the evacuation runs batch by batch, the broker's ZooKeeper
  session expires, the Streams app is marked for reset, the alarm resolves.

No Kafka broker runs here: krsim writes the znodes Kafka writes and plays its controller.
Ctrl-C stops everything this script started. Env DEMO_HOLD=0 exits after the script."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("KR_SRCDIR", TOP)
import krzk  # noqa: E402  (ZooKeeper, simulator, cleanup on exit)

BIN = os.path.join(TOP, "bin", "kresponder")
BUILD = os.path.join(TOP, "build")
RECEIVER = os.path.join(BUILD, "tests", "tools", "receiver")
SNSSIGN = os.path.join(BUILD, "tests", "tools", "snssign")
TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:kafka-ec2-alarms"
CERT_NAME = "SimpleNotificationService-demo0000000000000000000000000.pem"
CERT_URL = "https://sns.ap-northeast-2.amazonaws.com/" + CERT_NAME
EB_SECRET = "demo-eventbridge-secret"
ADMIN = "demo-admin-token"
RACKS = ["apne2-az1", "apne2-az2", "apne2-az3"]
COLOR = sys.stdout.isatty()


def say(msg, kind="step"):
    if COLOR:
        code = {"step": "1;36", "ok": "1;32", "info": "0;37", "warn": "1;33"}[kind]
        print("\033[%sm%s\033[0m" % (code, msg), flush=True)
    else:
        print(msg, flush=True)


def pause(seconds):
    time.sleep(float(os.environ.get("DEMO_SPEED", "1")) * seconds)


class Kresponder:
    def __init__(self, config_path, workdir):
        self.proc = subprocess.Popen([BIN, "run", "-c", config_path], cwd=workdir, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(workdir, "kresponder.log"), "w"), text=True)
        krzk.on_cleanup(self.stop)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on"):
            raise SystemExit("kresponder did not start; see %s/kresponder.log" % workdir)
        self.addr = line.split()[-1]

    def post(self, path, body, headers):
        req = urllib.request.Request("http://%s%s" % (self.addr, path), data=body.encode(), method="POST",
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        with urllib.request.urlopen("http://%s%s" % (self.addr, path), timeout=10) as r:
            body = r.read()
            return json.loads(body) if r.headers.get("Content-Type", "").startswith("application/json") else body.decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_receiver(workdir):
    p = subprocess.Popen([RECEIVER, "--listen", "127.0.0.1:0", "--pretty", "--out", os.path.join(workdir, "pages.jsonl")],
                         stdout=subprocess.PIPE, text=True)
    krzk.on_cleanup(lambda: p.poll() is None and (p.terminate(), p.wait()))
    addr = p.stdout.readline().strip()

    def pump():
        for line in p.stdout:
            print("    │ " + line.rstrip("\n"), flush=True)
    threading.Thread(target=pump, daemon=True).start()
    return addr


def build_cluster(name, connect):
    sim = krzk.Sim(connect + "/" + name, controller_delay_ms=400, session_timeout_ms=6000)
    host = name.split("-")[0]
    for i, bid in enumerate([1, 2, 3, 4]):               # blue stack
        sim.cmd("broker add %d b%d.%s.internal 9092 %s" % (bid, bid, host, RACKS[i % 3]))
    for i, bid in enumerate([1001, 1002, 1003]):         # green stack, provisioned for the upgrade
        sim.cmd("broker add %d g%d.%s.internal 9092 %s" % (bid, bid - 1000, host, RACKS[i % 3]))
    sim.cmd("controller 1")
    return sim


def blue_assignment(partitions, rf=3, shift=0):
    blue = [1, 2, 3, 4]
    return ";".join("%d=%s" % (p, ",".join(str(blue[(p + shift + k) % 4]) for k in range(rf)))
                    for p in range(partitions))


def main():
    workdir = tempfile.mkdtemp(prefix="kresponder-demo-")
    say("kresponder demo — scratch directory %s" % workdir, "info")

    say("\n▶ Starting two ZooKeeper servers (one ensemble per Kafka cluster)")
    zk_orders = krzk.ZooKeeper.start(os.path.join(workdir, "zk-orders"))
    zk_pay = krzk.ZooKeeper.start(os.path.join(workdir, "zk-payments"))
    say("  orders-prod   ZooKeeper %s" % zk_orders.connect, "info")
    say("  payments-prod ZooKeeper %s" % zk_pay.connect, "info")

    say("\n▶ Starting the cluster simulator (ZooKeeper-mode Kafka: brokers, topics, controller)")
    for zk, name in ((zk_orders, "orders-prod"), (zk_pay, "payments-prod")):
        krzk.zk_mkdirp(zk.connect, "/" + name)
    orders = build_cluster("orders-prod", zk_orders.connect)
    payments = build_cluster("payments-prod", zk_pay.connect)
    for topic, parts, shift in (("orders", 12, 0), ("orders-enriched", 12, 1), ("customer-profiles", 6, 2),
                                ("orders-enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog", 12, 3),
                                ("orders-enricher-KSTREAM-KEY-SELECT-0000000001-repartition", 12, 1)):
        orders.cmd("topic create %s %d 3 %s" % (topic, parts, blue_assignment(parts, shift=shift)))
    for topic, parts in (("payments", 12), ("payment-events", 6), ("ledger", 6)):
        payments.cmd("topic create %s %d 3 %s" % (topic, parts, blue_assignment(parts)))
    say("  orders-prod:   brokers blue 1-4, green 1001-1003 over %s; topics orders, orders-enriched, "
        "customer-profiles and the Streams app orders-enricher's internal topics" % ", ".join(RACKS), "info")
    say("  payments-prod: brokers blue 1-4, green 1001-1003; topics payments, payment-events, ledger", "info")

    say("\n▶ Starting a local receiver standing in for Slack and PagerDuty (messages print below)")
    recv = start_receiver(workdir)

    # the demo's SNS signing certificate, trusted through the cert dir (named by its URL)
    certs = os.path.join(workdir, "certs")
    os.makedirs(certs)
    key = os.path.join(workdir, "demo-sns.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                    os.path.join(certs, CERT_NAME), "-days", "30", "-subj", "/CN=sns.amazonaws.com"],
                   check=True, capture_output=True)
    config = {
        "listen": "127.0.0.1:0",
        "journal_dir": os.path.join(workdir, "journal"),
        "rules_dir": os.path.join(TOP, "rules"),
        "sns": {"cert_dir": certs, "topic_arns": [TOPIC]},
        "eventbridge": {"secret": EB_SECRET},
        "admin": {"token": ADMIN},
        "clusters": [
            {"name": "orders-prod", "zookeeper": zk_orders.connect + "/orders-prod",
             "bootstrap_servers": "b1.orders.internal:9092", "session_timeout": "6s",
             "stacks": {"blue": "1-1000", "green": "1001-2000"},
             "inventory": {"instances": {"i-0b2c0ffee0000002a": 2, "i-0b1c0ffee00000001": 1}},
             "streams_apps": [{"application_id": "orders-enricher", "input_topics": ["orders", "customer-profiles"],
                               "internal_topics": ["orders-enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog",
                                                   "orders-enricher-KSTREAM-KEY-SELECT-0000000001-repartition"],
                               "owners": ["orders-team"], "auto_reset": "never"}]},
            {"name": "payments-prod", "zookeeper": zk_pay.connect + "/payments-prod",
             "bootstrap_servers": "b1.payments.internal:9092", "session_timeout": "6s",
             "stacks": {"blue": "1-1000", "green": "1001-2000"}},
        ],
        "receivers": [
            {"name": "kafka-oncall", "slack": {"url": "http://%s/slack/T000/B000/demo" % recv,
                                               "channel": "#kafka-oncall"}},
            {"name": "kafka-pd", "pagerduty": {"url": "http://%s/pagerduty/v2/enqueue" % recv,
                                               "routing_key": "demo0routing0key0000000000000000"}},
            {"name": "orders-team", "slack": {"url": "http://%s/slack/T000/B001/orders" % recv,
                                              "channel": "#orders-streams"}},
        ],
    }
    cfg_path = os.path.join(workdir, "kresponder.yaml")
    with open(cfg_path, "w") as f:
        json.dump(config, f, indent=2)
    check = subprocess.run([BIN, "check", "-c", cfg_path], capture_output=True, text=True)
    if check.returncode != 0:
        # features still being built may not accept every key yet: run with what passes
        say("  (config check: %s)" % check.stderr.strip().splitlines()[0], "warn")
        for k in ("clusters", "receivers"):
            trial = dict(config)
            trial.pop(k)
            with open(cfg_path, "w") as f:
                json.dump(trial, f, indent=2)
            if subprocess.run([BIN, "check", "-c", cfg_path], capture_output=True).returncode == 0:
                config = trial
                break
        with open(cfg_path, "w") as f:
            json.dump(config, f, indent=2)

    say("\n▶ Starting kresponder with the shipped rules/ (%s)" % cfg_path)
    kr = Kresponder(cfg_path, workdir)
    say("  listening on http://%s" % kr.addr, "info")
    pause(2)
    clusters = None
    try:
        clusters = kr.get("/v1/clusters")
    except Exception:
        pass
    if isinstance(clusters, list):
        for c in clusters:
            say("  cluster %s: ZooKeeper session %s, %s/%s brokers alive, %s partitions, controller %s" % (
                c.get("name"), c.get("state"), c.get("brokers_alive"), c.get("brokers_total"),
                c.get("partitions"), c.get("controller")), "info")

    # 1. the CloudWatch status-check alarm, through SNS
    say("\n▶ 1. CloudWatch: StatusCheckFailed_System for i-0b2c0ffee0000002a (broker 2 of orders-prod), by SNS")
    alarm = {
        "AlarmName": "kafka-orders-b2-status-check", "AlarmDescription": "EC2 system status check under broker 2",
        "AWSAccountId": "123456789012", "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0).",
        "StateChangeTime": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
        "Region": "Asia Pacific (Seoul)",
        "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:kafka-orders-b2-status-check",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "StatusCheckFailed_System", "Namespace": "AWS/EC2", "Statistic": "MAXIMUM",
                    "Dimensions": [{"value": "i-0b2c0ffee0000002a", "name": "InstanceId"}], "Period": 60,
                    "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0},
    }

    def sns(message_id, message):
        env = {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC,
               "Subject": "ALARM: \"%s\"" % message["AlarmName"], "Message": json.dumps(message),
               "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        signed = subprocess.run([SNSSIGN, "--key", key, "--cert-url", CERT_URL, "--sig-version", "2", "-"],
                                input=json.dumps(env), capture_output=True, text=True, check=True).stdout
        return kr.post("/hooks/sns", signed, {"Content-Type": "text/plain; charset=UTF-8"})

    code, body = sns("d3mo0001-5d6a-5f8e-9c1d-0e7a6b5c4d31", alarm)
    say("  POST /hooks/sns → %d %s" % (code, json.dumps(body)), "ok" if code == 202 else "warn")
    pause(2)

    # 2. EC2 stops the instance: evacuate now
    say("\n▶ 2. EventBridge: EC2 is stopping i-0b2c0ffee0000002a — the broker is going away: evacuate")
    ev = {"version": "0", "id": "d3mo0002-1428-4cd3-a780-95db273d1602",
          "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
          "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "region": "ap-northeast-2",
          "resources": ["arn:aws:ec2:ap-northeast-2:123456789012:instance/i-0b2c0ffee0000002a"],
          "detail": {"instance-id": "i-0b2c0ffee0000002a", "state": "stopping"}}
    code, body = kr.post("/hooks/eventbridge", json.dumps(ev), {"Content-Type": "application/json",
                                                                 "X-Kresponder-Secret": EB_SECRET})
    say("  POST /hooks/eventbridge → %d %s" % (code, json.dumps(body)), "ok" if code == 202 else "warn")
    seen = set()
    deadline = time.time() + 30
    while time.time() < deadline:
        incs = kr.get("/v1/incidents")
        done = True
        for inc in incs:
            for a in inc.get("actions", []):
                line = "  incident %s (%s): %s %s — %s" % (inc["id"], inc["rule"], a["kind"], a["state"], a.get("message", ""))
                if line not in seen:
                    seen.add(line)
                    say(line, "info")
                if a["kind"] == "evacuate" and a["state"] in ("queued", "running"):
                    done = False
        if done:
            break
        time.sleep(0.5)

    # 3. another broker drops out of ZooKeeper: Streams apps that used it are marked
    say("\n▶ 3. Broker 4 of orders-prod stalls (a long GC pause) and its ZooKeeper session expires")
    orders.cmd("broker kill 4 expire")
    say("  waiting for ZooKeeper to expire the session (6 s session timeout)…", "info")
    krzk.wait_until(lambda: any(e.get("type") == "broker.left" for e in kr.get("/v1/events?limit=20")), 15)
    for e in kr.get("/v1/events?limit=20"):
        if e.get("type") == "broker.left":
            b = e.get("broker", {})
            say("  broker.left: cluster %s broker %s (%s, rack %s, stack %s), led %s and held %s partitions" % (
                e.get("cluster"), b.get("id"), b.get("host"), b.get("rack"), b.get("stack"),
                e.get("partitions_led"), e.get("partitions_held")), "ok")
            break
    pause(3)
    try:
        marks = kr.get("/v1/streams-resets").get("resets", [])
    except Exception:
        marks = []
    for m in marks:
        say("  Streams app %s (cluster %s) marked for reset to %s: %s — owners %s paged" % (
            m.get("application_id"), m.get("cluster"), (m.get("reset") or {}).get("time"), m.get("state"),
            ", ".join(m.get("owners") or [])), "ok")

    # 4. the alarm resolves
    say("\n▶ 4. CloudWatch: the status check alarm returns to OK")
    alarm_ok = dict(alarm, NewStateValue="OK", OldStateValue="ALARM",
                    StateChangeTime=time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()))
    code, body = sns("d3mo0003-6e7b-6a9f-0d2e-1f8b7c6d5e42", alarm_ok)
    say("  POST /hooks/sns → %d %s" % (code, json.dumps(body)), "ok" if code == 202 else "warn")
    pause(2)

    say("\n▶ Incidents now:")
    for inc in kr.get("/v1/incidents"):
        say("  %s %-40s %-9s events=%s actions=%s" % (inc["id"], inc["rule"], inc["state"], inc["events"],
            ", ".join("%s:%s" % (a["kind"], a["state"]) for a in inc.get("actions", []))), "info")

    say("\nWhere to look (kresponder keeps running; Ctrl-C stops everything):", "step")
    for path in ("/v1/incidents", "/v1/events", "/v1/clusters", "/metrics", "/readyz"):
        say("  curl -s http://%s%s" % (kr.addr, path), "info")
    say("  journal:  %s journal dump %s/journal" % (BIN, workdir), "info")
    say("  log:      %s/kresponder.log" % workdir, "info")
    if os.environ.get("DEMO_HOLD", "1") != "0":
        try:
            while kr.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    say("\nStopping everything the demo started…", "info")
    krzk.cleanup()
    shutil_rm(workdir)


def shutil_rm(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
