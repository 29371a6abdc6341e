"""tests/integration/krzk.py: helpers for integration tests that need ZooKeeper: start and
stop Debian's ZooKeeper (tests/zk/zk.sh), read and write znodes through zkcli, drive the
Kafka cluster simulator (krsim), and a tiny check/RESULT harness. Python stdlib only.

Everything started here is registered for cleanup: `cleanup()` runs at exit and on
SIGTERM/SIGINT, so a failing test leaves no java or krsim process behind.

    import krzk
    t = krzk.Checks("sim")
    zk = krzk.ZooKeeper.start()            # zk.connect == "127.0.0.1:PORT"
    sim = krzk.Sim(zk.connect, session_timeout_ms=6000)
    sim.cmd("broker add 1 b1.example 9092 az1")
    t.eq(krzk.zk_json(zk.connect, "/brokers/ids/1")["port"], 9092, "port")
    ...
    t.finish()                             # prints RESULT sim passed=N failed=M, exits
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SRCDIR = os.environ.get("KR_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(SRCDIR, os.environ.get("KR_BUILD", "build"))
ZK_SH = os.path.join(SRCDIR, "tests", "zk", "zk.sh")
ZKCLI = os.path.join(BUILD, "tests", "tools", "zkcli")
KRSIM = os.path.join(BUILD, "tests", "sim", "krsim")


def tmout_mult():
    """The one multiplier every test timeout is scaled by (KR_TEST_TIMEOUT_MULT)."""
    try:
        return max(float(os.environ.get("KR_TEST_TIMEOUT_MULT", "1")), 0.1)
    except ValueError:
        return 1.0


def tmout(seconds):
    return seconds * tmout_mult()


_cleanups = []


def on_cleanup(fn):
    """Registers fn to run at cleanup (last registered runs first)."""
    _cleanups.append(fn)
    return fn


def cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # cleanup must go on
            traceback.print_exc()


def _on_signal(signum, frame):
    cleanup()
    sys.exit(128 + signum)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def wait_until(fn, timeout, interval=0.05):
    """Polls fn() until it returns a true value or timeout seconds (already scaled) pass.
    Returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------- ZooKeeper

class ZooKeeper:
    """One server or a 3-node ensemble started by tests/zk/zk.sh in a temporary dir."""

    def __init__(self, directory, connect, ensemble):
        self.dir = directory
        self.connect = connect
        self.ensemble = ensemble
        self.stopped = False
        on_cleanup(self.stop)

    @classmethod
    def start(cls, directory=None, port=None, tick_ms=None):
        return cls._run(["start"], directory, port, tick_ms, False)

    @classmethod
    def start_ensemble(cls, directory=None, tick_ms=None):
        return cls._run(["ensemble"], directory, None, tick_ms, True)

    @classmethod
    def _run(cls, cmd, directory, port, tick_ms, ensemble):
        directory = directory or tempfile.mkdtemp(prefix="kr-zk-")
        env = dict(os.environ)
        if tick_ms:
            env["ZK_TICK_MS"] = str(tick_ms)
        env.setdefault("ZK_START_TIMEOUT", str(int(tmout(30))))
        args = [ZK_SH] + cmd + [directory] + ([str(port)] if port else [])
        p = subprocess.run(args, capture_output=True, text=True, env=env,
                           timeout=tmout(90))
        if p.returncode != 0:
            subprocess.run([ZK_SH, "stop", directory], capture_output=True)
            raise RuntimeError("zk.sh %s failed: %s" % (cmd[0], p.stderr.strip()))
        return cls(directory, p.stdout.strip().splitlines()[-1], ensemble)

    @property
    def port(self):
        return int(self.connect.split(",")[0].rsplit(":", 1)[1])

    def four_letter(self, word, port=None):
        import socket
        with socket.create_connection(("127.0.0.1", port or self.port), timeout=2) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                out += b
        return out.decode(errors="replace")

    def kill_leader(self):
        """SIGKILLs the ensemble's leader; returns its node number (1..3)."""
        p = subprocess.run([ZK_SH, "kill-leader", self.dir], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("kill-leader: " + p.stderr.strip())
        return int(p.stdout.strip())

    def leader(self):
        p = subprocess.run([ZK_SH, "leader", self.dir], capture_output=True, text=True)
        return int(p.stdout.strip()) if p.returncode == 0 else None

    def restart(self):
        """Stops the (single) server and starts it again on the same port, data kept:
        clients see a connection loss, not a session expiry, if it is back in time."""
        p = subprocess.run([ZK_SH, "restart", self.dir], capture_output=True, text=True,
                           timeout=tmout(90))
        if p.returncode != 0:
            raise RuntimeError("zk.sh restart: " + p.stderr.strip())

    def restart_node(self, n):
        """Starts ensemble node n (1..3) again, e.g. after kill_leader()."""
        p = subprocess.run([ZK_SH, "restart-node", self.dir, str(n)], capture_output=True,
                           text=True, timeout=tmout(90))
        if p.returncode != 0:
            raise RuntimeError("zk.sh restart-node: " + p.stderr.strip())

    def stop(self):
        if not self.stopped:
            self.stopped = True
            subprocess.run([ZK_SH, "stop", self.dir], capture_output=True, timeout=60)


# ------------------------------------------------------------------------------- zkcli

class ZkError(Exception):
    def __init__(self, rc, msg):
        Exception.__init__(self, msg)
        self.rc = rc


def zkcli(connect, *args, data=None, check=True, connect_timeout_ms=None):
    """Runs zkcli; returns stdout (str). Raises ZkError (rc 1 = no node) when check;
    returns (rc, stdout, stderr) otherwise."""
    env = None
    if connect_timeout_ms:
        env = dict(os.environ, ZKCLI_TIMEOUT_MS=str(int(connect_timeout_ms)))
    p = subprocess.run([ZKCLI, connect] + [str(a) for a in args], input=data, env=env,
                       capture_output=True, text=True, timeout=tmout(60))
    if check and p.returncode != 0:
        raise ZkError(p.returncode, "zkcli %s: %s" % (" ".join(map(str, args)),
                                                     p.stderr.strip()))
    return p.stdout if check else (p.returncode, p.stdout, p.stderr)


def zk_get(connect, path):
    """The node's data (str, trailing newline removed), or None when it does not exist."""
    rc, out, err = zkcli(connect, "get", path, check=False)
    if rc == 1:
        return None
    if rc != 0:
        raise ZkError(rc, err.strip())
    return out[:-1] if out.endswith("\n") else out


def zk_json(connect, path):
    s = zk_get(connect, path)
    return None if s is None else json.loads(s)


def zk_exists(connect, path):
    rc, _, err = zkcli(connect, "exists", path, check=False)
    if rc > 1:
        raise ZkError(rc, err.strip())
    return rc == 0


def zk_stat(connect, path):
    rc, out, err = zkcli(connect, "stat", path, check=False)
    if rc == 1:
        return None
    if rc != 0:
        raise ZkError(rc, err.strip())
    return json.loads(out)


def zk_ls(connect, path):
    return zkcli(connect, "ls", path).split()


def zk_create(connect, path, data, mode="persistent"):
    """Creates a znode (data via stdin, so any size and any characters); returns its path."""
    return zkcli(connect, "create", path, "-", mode, data=data).strip()


def zk_mkdirp(connect, path):
    zkcli(connect, "mkdirp", path)


def zk_set(connect, path, data):
    zkcli(connect, "set", path, "-", data=data)


def zk_delete(connect, path):
    zkcli(connect, "delete", path)


def zk_rmr(connect, path):
    zkcli(connect, "rmr", path)


def zk_dump(connect, path="/"):
    return json.loads(zkcli(connect, "dump", path))


def zk_wait_gone(connect, path, timeout_ms):
    """Waits with an exists-watch; returns waited ms, or None on timeout."""
    rc, out, _ = zkcli(connect, "wait-gone", path, int(timeout_ms), check=False)
    return int(out) if rc == 0 else None


# ------------------------------------------------------------------------------- krsim

class Sim:
    """A running krsim: one command line in, one `ok ...`/`err ...` line out."""

    def __init__(self, connect, controller_delay_ms=None, session_timeout_ms=None,
                 broker_json_version=None, extra=None, log=None):
        args = [KRSIM, "--zookeeper", connect]
        if controller_delay_ms is not None:
            args += ["--controller-delay-ms", str(controller_delay_ms)]
        if session_timeout_ms is not None:
            args += ["--session-timeout-ms", str(session_timeout_ms)]
        if broker_json_version is not None:
            args += ["--broker-json-version", str(broker_json_version)]
        args += extra or []
        self.log_path = log or tempfile.mktemp(prefix="krsim-", suffix=".log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, bufsize=1)
        on_cleanup(self.stop)

    def cmd(self, line, check=True):
        """Sends one command; returns the text after `ok ` (parsed JSON when it is JSON).
        Raises RuntimeError on `err ...` when check, else returns the raw line."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError("krsim exited (rc=%s) on %r; log %s:\n%s" % (
                self.proc.poll(), line, self.log_path, self.log_tail()))
        reply = reply.rstrip("\n")
        if not check:
            return reply
        if not reply.startswith("ok"):
            raise RuntimeError("krsim: %r -> %r" % (line, reply))
        rest = reply[3:]
        if rest[:1] in ("{", "["):
            return json.loads(rest)
        return rest

    def status(self):
        return self.cmd("status")

    def log_tail(self, n=30):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """Quits the simulator (closing every broker session); returns its exit status
        (non-zero under ASan when it leaked or misbehaved)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=tmout(10))
            except Exception:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


def fleet(sim, brokers=160, racks=3, topics=5000, partitions=24000, rf=3, prefix="t-",
          first_id=1):
    """Loads a fleet-scale cluster into a running Sim: `brokers` brokers spread over `racks`
    racks (rack "az<n>"), then `topics` topics holding `partitions` partitions in all.
    Returns the bulk answer {"topics", "partitions", "ms"}."""
    for i in range(first_id, first_id + brokers):
        sim.cmd("broker add %d b%d.kafka.example 9092 az%d" % (i, i, i % racks + 1))
    return sim.cmd("bulk topics %d total:%d %d %s" % (topics, partitions, rf, prefix))


def freeze(pid, seconds):
    """SIGSTOPs a process for `seconds`, then SIGCONTs it: a ZooKeeper client frozen
    longer than its session timeout finds its session expired when it wakes up (how a
    test makes kresponder's own session expire without its cooperation)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


# ----------------------------------------------------------------------------- checks

class Checks:
    """Counts checks; `finish()` prints `RESULT <name> passed=N failed=M` and exits."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what)
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, what):
        return self.ok(got == want, "%s: got %r, want %r" % (what, got, want)
                       if got != want else what)

    def case(self, fn):
        """Runs one test function; an exception counts as one failure."""
        print("== " + fn.__name__)
        try:
            fn()
        except Exception:
            self.failed += 1
            print("FAIL %s raised:" % fn.__name__)
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()

    def finish(self):
        cleanup()
        print("RESULT %s passed=%d failed=%d" % (self.name, self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(1 if self.failed or not self.passed else 0)
