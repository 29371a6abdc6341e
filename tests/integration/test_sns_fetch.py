"""tests/integration/test_sns_fetch.py: the SNS signing certificate is fetched over HTTPS
only when it is not cached, and cached in memory and in sns.cert_dir.

No AWS host can be reached here, so the daemon runs in a private mount namespace
(unshare -m) in which /etc/hosts maps sns.ap-northeast-2.amazonaws.com to 127.0.0.1 and
the system CA bundle is a test CA; a local HTTPS server on 127.0.0.1:443 serves the
certificate under that name. Nothing outside the namespace is changed."""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

import krlib
import krzk

t = krzk.Checks("sns_fetch")
HOST = "sns.ap-northeast-2.amazonaws.com"
TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:kafka-ec2-alarms"
NAME = "SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
CERT_URL = "https://%s/%s" % (HOST, NAME)
SNSSIGN = os.path.join(krlib.BUILD, "tests", "tools", "snssign")

tmp = tempfile.mkdtemp(prefix="kr-snsfetch-")
www = os.path.join(tmp, "www")
os.makedirs(www)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


# the SNS signing key and its (self-signed) certificate, served over HTTPS
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(tmp, "sns.key"),
        "-out", os.path.join(www, NAME), "-days", "3650", "-subj", "/CN=sns.amazonaws.com")
# a test CA and the HTTPS server's certificate for the SNS host name
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(tmp, "ca.key"),
        "-out", os.path.join(tmp, "ca.pem"), "-days", "3650", "-subj", "/CN=kresponder test CA")
openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(tmp, "srv.key"),
        "-out", os.path.join(tmp, "srv.csr"), "-subj", "/CN=" + HOST)
with open(os.path.join(tmp, "ext.cnf"), "w") as f:
    f.write("subjectAltName=DNS:%s\n" % HOST)
openssl("x509", "-req", "-in", os.path.join(tmp, "srv.csr"), "-CA", os.path.join(tmp, "ca.pem"),
        "-CAkey", os.path.join(tmp, "ca.key"), "-CAcreateserial", "-out", os.path.join(tmp, "srv.pem"),
        "-days", "3650", "-extfile", os.path.join(tmp, "ext.cnf"))
with open(os.path.join(tmp, "hosts"), "w") as f:
    f.write("127.0.0.1 localhost\n127.0.0.1 %s\n" % HOST)

requests = []


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=www, **kw)

    def do_GET(self):
        requests.append(self.path)
        return super().do_GET()

    def log_message(self, *a):
        pass


server = None
for attempt in range(60):  # another test run on this machine may hold :443 for a moment
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Handler)
        break
    except OSError as e:
        last_error = e
        __import__("time").sleep(0.5)
try:
    if server is None:
        raise last_error
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tmp, "srv.pem"), os.path.join(tmp, "srv.key"))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    krzk.on_cleanup(server.shutdown)
except OSError as e:
    print("cannot listen on 127.0.0.1:443: %s" % e)

WRAP = ["unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/ssl/certs/ca-certificates.crt && shift 2 && exec "$@"',
        "sh", os.path.join(tmp, "hosts"), os.path.join(tmp, "ca.pem")]


def signed(message_id):
    msg = {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC,
           "Message": json.dumps({"AlarmName": "b3-status", "NewStateValue": "ALARM",
                                  "StateChangeTime": "2026-11-24T19:02:24.123+0000",
                                  "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:b3-status",
                                  "Trigger": {"MetricName": "StatusCheckFailed_System", "Namespace": "AWS/EC2",
                                              "Dimensions": [{"name": "InstanceId", "value": "i-0a1b2c3d"}]}}),
           "Timestamp": __import__("time").strftime("%Y-%m-%dT%H:%M:%S.000Z", __import__("time").gmtime())}
    r = subprocess.run([SNSSIGN, "--key", os.path.join(tmp, "sns.key"), "--cert-url", CERT_URL, "-"],
                       input=json.dumps(msg), capture_output=True, text=True, check=True)
    return r.stdout


@t.case
def fetched_once_then_cached():
    if not t.ok(server is not None, "a local HTTPS server on 127.0.0.1:443"):
        return
    certs = os.path.join(tmp, "certs")
    d = krlib.Daemon.start({"sns": {"cert_dir": certs, "topic_arns": [TOPIC]}}, wrapper=WRAP)
    code, body, _ = d.request("POST", "/hooks/sns", signed("m-1"), {"Content-Type": "text/plain"})
    t.eq(code, 202, "accepted after fetching the certificate: %s" % body)
    t.eq(requests, ["/" + NAME], "the certificate was fetched once, over HTTPS")
    t.ok(os.path.exists(os.path.join(certs, NAME)), "and written to sns.cert_dir under its URL's file name")
    code, body, _ = d.request("POST", "/hooks/sns", signed("m-2"), {"Content-Type": "text/plain"})
    t.eq(code, 202, "a second message is verified from the cache")
    t.eq(len(requests), 1, "without fetching again")
    t.eq(d.metric("sns_certificate_fetches_total", 'result="ok"'), 1.0, "one fetch counted")
    d.stop()
    # a restart finds the certificate in the directory
    d = krlib.Daemon.start({"sns": {"cert_dir": certs, "topic_arns": [TOPIC]}}, wrapper=WRAP)
    code, _, _ = d.request("POST", "/hooks/sns", signed("m-3"), {"Content-Type": "text/plain"})
    t.eq(code, 202, "after a restart: accepted")
    t.eq(len(requests), 1, "from the certificate directory, no fetch")
    d.stop()


@t.case
def fetch_failures():
    if server is None:
        return
    certs = os.path.join(tmp, "certs-404")
    os.rename(os.path.join(www, NAME), os.path.join(www, NAME + ".hidden"))
    d = krlib.Daemon.start({"sns": {"cert_dir": certs, "topic_arns": [TOPIC]}}, wrapper=WRAP)
    code, body, _ = d.request("POST", "/hooks/sns", signed("m-4"), {"Content-Type": "text/plain"})
    t.eq(code, 403, "a certificate URL that answers 404 → 403")
    t.eq(body, {"error": "signing certificate unavailable: HTTP 404"}, "says why")
    os.rename(os.path.join(www, NAME + ".hidden"), os.path.join(www, NAME))
    server.shutdown()
    server.server_close()
    code, body, _ = d.request("POST", "/hooks/sns", signed("m-5"), {"Content-Type": "text/plain"})
    t.eq(code, 503, "certificate host unreachable → 503 (SNS retries later)")
    d.stop()


t.finish()
