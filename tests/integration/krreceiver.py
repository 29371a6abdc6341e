"""tests/integration/krreceiver.py: start build/tests/tools/receiver (a stand-in Slack,
PagerDuty, webhook or SNS endpoint) on a free port and read what it recorded. Python
stdlib only; the process is registered with krzk's cleanup.

    import krreceiver
    r = krreceiver.Receiver.start(script="500,200", retry_after="1")
    url = r.url("/services/T000/B000/faketoken")       # give this to kresponder's config
    ...
    reqs = r.wait_requests(2, timeout=krzk.tmout(10))
    reqs[0]["json"]["blocks"], reqs[0]["status"], reqs[1]["headers"]["content-type"]
    r.stop()
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import krzk

RECEIVER = os.path.join(krzk.BUILD, "tests", "tools", "receiver")


class Receiver:
    def __init__(self, proc, addr, out_path):
        self.proc = proc
        self.addr = addr
        self.out_path = out_path
        self.base = "http://" + addr
        self._stdout = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.proc.stdout:
            self._stdout.append(line.rstrip("\n"))

    @classmethod
    def start(cls, script=None, status=None, retry_after=None, body=None, hang=False,
              delay_ms=None, pretty=False, out_path=None, listen="127.0.0.1:0"):
        if out_path is None:
            fd, out_path = tempfile.mkstemp(prefix="kr-recv-", suffix=".jsonl")
            os.close(fd)
        cmd = [RECEIVER, "--listen", listen, "--out", out_path]
        if script is not None:
            cmd += ["--script", script]
        if status is not None:
            cmd += ["--status", str(status)]
        if retry_after is not None:
            cmd += ["--retry-after", str(retry_after)]
        if body is not None:
            cmd += ["--body", body]
        if delay_ms is not None:
            cmd += ["--delay-ms", str(delay_ms)]
        if hang:
            cmd.append("--hang")
        if pretty:
            cmd.append("--pretty")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        krzk.on_cleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        line = proc.stdout.readline().strip()
        if not line or ":" not in line:
            err = proc.stderr.read() if proc.poll() is not None else ""
            proc.kill()
            raise RuntimeError("receiver did not start: %r %s" % (line, err))
        return cls(proc, line, out_path)

    def url(self, path="/"):
        return self.base + path

    def requests(self):
        """Every request recorded so far, oldest first (one dict per JSON line)."""
        out = []
        try:
            with open(self.out_path) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def wait_requests(self, n, timeout):
        """Waits until at least n requests are recorded; returns them all."""
        krzk.wait_until(lambda: len(self.requests()) >= n, timeout)
        return self.requests()

    def stdout(self):
        """Lines printed after the address line (the --pretty output)."""
        return list(self._stdout)

    def stop(self, timeout=None):
        """SIGTERM, then waits; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout or krzk.tmout(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=1)
        return self.proc.returncode
