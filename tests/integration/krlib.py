"""tests/integration/krlib.py: start the real bin/kresponder on a free port with a config
written by the test, talk HTTP to it, stop it. Python stdlib only; processes are
registered with krzk's cleanup so a failing test leaves nothing behind.

    import krlib, krzk
    t = krzk.Checks("intake")
    d = krlib.Daemon.start({"sns": {"verify": False}})
    code, body, headers = d.request("GET", "/healthz")
    d.stop()
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import krzk

SRCDIR = krzk.SRCDIR
BIN = os.path.join(SRCDIR, os.environ.get("KR_BIN", "bin/kresponder"))
BUILD = krzk.BUILD


VALGRIND_LOGS = []


def to_yaml(value, indent=0):
    """Config dicts are written as JSON, which is YAML too (flow style)."""
    return json.dumps(value, indent=2)


class Daemon:
    def __init__(self, proc, directory, addr, config_path):
        self.proc = proc
        self.dir = directory
        self.addr = addr
        self.config_path = config_path
        self.base = "http://" + addr
        self._log = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self._log.append(line.rstrip("\n"))

    def log(self):
        return list(self._log)

    @classmethod
    def start(cls, config=None, directory=None, env=None, wait=True, wrapper=None):
        directory = directory or tempfile.mkdtemp(prefix="kr-it-")
        cfg = {"listen": "127.0.0.1:0", "journal_dir": "journal", "log_level": "info"}
        cfg.update(config or {})
        path = os.path.join(directory, "kresponder.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(cfg))
        return cls.start_with(path, directory, env, wrapper)

    @classmethod
    def start_with(cls, config_path, directory, env=None, wrapper=None):
        """wrapper: a command prefix (e.g. an unshare/mount script) the binary runs under."""
        e = dict(os.environ)
        e.update(env or {})
        if os.environ.get("KR_VALGRIND") and not wrapper:
            # make valgrind: every daemon under memcheck; errors and definite leaks make it
            # exit 99, which the tests' stop() checks see
            vdir = os.environ.get("KR_VALGRIND_DIR") or directory
            log = os.path.join(vdir, "valgrind.%d.%d.log" % (os.getpid(), len(VALGRIND_LOGS)))
            VALGRIND_LOGS.append(log)
            wrapper = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                       "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                       "--log-file=" + log]
        proc = subprocess.Popen((wrapper or []) + [BIN, "run", "-c", config_path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=e, cwd=directory)
        krzk.on_cleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            try:  # stdout closed: the daemon is exiting; collect what it said
                proc.wait(krzk.tmout(10))
            except subprocess.TimeoutExpired:
                proc.kill()
            err = proc.stderr.read()
            raise RuntimeError("kresponder did not start: %r %s" % (line, err))
        return cls(proc, directory, line.split()[-1], config_path)

    def request(self, method, path, body=None, headers=None, timeout=None):
        """Returns (status, parsed JSON body or text, headers dict)."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout or krzk.tmout(10)) as r:
                raw, code, hdrs = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            raw, code, hdrs = e.read(), e.code, dict(e.headers)
        text = raw.decode("utf-8", "replace")
        if hdrs.get("Content-Type", "").startswith("application/json"):
            try:
                return code, json.loads(text), hdrs
            except ValueError:
                pass
        return code, text, hdrs

    def post_json(self, path, obj, headers=None, content_type="application/json"):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        return self.request("POST", path, json.dumps(obj), h)

    def events(self, limit=100):
        code, body, _ = self.request("GET", "/v1/events?limit=%d" % limit)
        return body if code == 200 else None

    def metric(self, name, labels=None):
        """Value of one series in /metrics (0 if absent)."""
        _, text, _ = self.request("GET", "/metrics")
        want = "kresponder_" + name + ("{" + labels + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=None):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout or krzk.tmout(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=2)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class EventBridgeLoad:
    """Threads that post EventBridge "EC2 Instance Rebalance Recommendation" events (ids
    PREFIX-NNNNNNN, 40 instances in turn) to the daemon at .addr as fast as it answers,
    waiting while .addr is None (between a kill and a restart). .acked holds the event
    ids ("eb:PREFIX-NNNNNNN") answered 202; an unanswered request is not counted, as a
    sender would retry it."""

    def __init__(self, secret, prefix, threads=4, timeout=5):
        self.secret, self.prefix, self.timeout = secret, prefix, timeout
        self.addr = None
        self.acked = set()
        self._lock = threading.Lock()
        self._n = 0
        self._stop = False
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(threads)]

    def event(self, n):
        return {"version": "0", "id": "%s-%07d" % (self.prefix, n),
                "detail-type": "EC2 Instance Rebalance Recommendation", "source": "aws.ec2",
                "account": "123456789012", "time": "2026-11-24T19:10:00Z", "region": "ap-northeast-2",
                "resources": [], "detail": {"instance-id": "i-%04d" % (n % 40)}}

    def _post(self):
        while not self._stop:
            with self._lock:
                self._n += 1
                n = self._n
            addr = self.addr
            if not addr:
                time.sleep(0.01)
                continue
            req = urllib.request.Request("http://%s/hooks/eventbridge" % addr, data=json.dumps(self.event(n)).encode(),
                                         method="POST", headers={"X-Kresponder-Secret": self.secret,
                                                                 "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    if r.status == 202:
                        with self._lock:
                            self.acked.add("eb:%s-%07d" % (self.prefix, n))
            except (urllib.error.URLError, ConnectionError, OSError):
                pass

    def start(self):
        for th in self._threads:
            th.start()

    def stop(self, wait=10):
        self._stop = True
        for th in self._threads:
            th.join(wait)
