"""tests/integration/test_packaging.py: docker/ and dist/ agree with the code. No container
engine runs here, so the image is checked by what can be checked without one: the
Dockerfile's package lists against the Makefile and the libraries bin/kresponder links
(dpkg -S), docker/kresponder.yaml with `kresponder check` in the image's layout, the
paths and port shared by Dockerfile, compose file and config; the systemd unit with
systemd-analyze verify, and its system-call filter against the calls the daemon makes
under strace."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import krlib
import krzk

t = krzk.Checks("packaging")
SRC = krlib.SRCDIR
DOCKERFILE = os.path.join(SRC, "docker", "Dockerfile")
COMPOSE = os.path.join(SRC, "docker", "docker-compose.yml")
DOCKER_CFG = os.path.join(SRC, "docker", "kresponder.yaml")
UNIT = os.path.join(SRC, "dist", "kresponder.service")
SECRETS = {"KRESPONDER_EVENTBRIDGE_SECRET": "eb-secret", "KRESPONDER_ADMIN_TOKEN": "admin-secret",
           "KRESPONDER_SLACK_WEBHOOK": "https://hooks.slack.com/services/T000/B000/faketoken"}
# Packages every debian:12-slim image has (Priority: required, or needed by apt).
SLIM_BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    krzk.on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def dockerfile_stages():
    """[(from_line, [instruction lines with continuations joined])]"""
    stages, cur = [], None
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.upper().startswith("FROM "):
            cur = (s, [])
            stages.append(cur)
        elif cur:
            cur[1].append(s)
    return stages


def apt_installed(stage):
    pkgs = []
    for ins in stage[1]:
        for m in re.finditer(r"apt-get install((?:\s+[^\s&;]+)+)", ins):
            pkgs += [p for p in m.group(1).split() if not p.startswith("-") and "=" not in p]
    return pkgs


def make_var(name):
    with open(os.path.join(SRC, "Makefile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    m = re.search(r"^%s\s*:?=(.*)$" % re.escape(name), text, re.M)
    return m.group(1).split() if m else []


def owner(path):
    """The Debian package that holds a file ('' if none)."""
    r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    if r.returncode != 0:
        r = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
    return r.stdout.split(":")[0].strip() if r.returncode == 0 else ""


def yaml_scalar(path, key):
    """A top-level `key: value` (or `  key: value` under its section) of a simple YAML file."""
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*%s:\s*\"?([^\"#\n]+?)\"?\s*(#.*)?$" % re.escape(key), line)
            if m:
                return m.group(1)
    return None


@t.case
def build_stage_installs_what_the_makefile_compiles_with():
    stages = dockerfile_stages()
    t.eq(len(stages), 2, "two stages (build, runtime)")
    t.ok(stages[0][0].startswith("FROM debian:12 ") or stages[0][0] == "FROM debian:12 AS build",
         "build stage is debian:12: " + stages[0][0])
    build = set(apt_installed(stages[0]))
    deb_pkgs = set(make_var("DEB_PKGS"))
    t.ok(len(deb_pkgs) > 5, "the Makefile's DEB_PKGS was found")
    t.eq(sorted(build - deb_pkgs), [], "every build package is one of the Makefile's DEB_PKGS")
    need = {"build-essential", "pkg-config"}
    for mod in make_var("PKGS"):
        pc = subprocess.run(["pkg-config", "--path", mod], capture_output=True, text=True).stdout.strip()
        need.add(owner(pc) if pc else "?" + mod)
    zk_inc = [f[2:] for f in make_var("ZK_CFLAGS") if f.startswith("-I")]
    t.eq(len(zk_inc), 1, "the ZooKeeper include dir is in ZK_CFLAGS")
    need.add(owner(os.path.join(zk_inc[0], "zookeeper.h")))
    t.ok("" not in need and not any(p.startswith("?") for p in need),
         "every pkg-config module and header has a Debian package: %s" % sorted(need))
    t.eq(sorted(need - build), [], "the build stage installs every -dev package the Makefile needs")
    t.eq(sorted(build - need), [], "and nothing else (tests and demo tools stay out)")
    t.ok(any(re.search(r"\bmake\b.*\ball\b", i) for i in stages[0][1]), "the build stage runs make all")


@t.case
def runtime_stage_installs_every_linked_library():
    stages = dockerfile_stages()
    t.ok(stages[1][0].startswith("FROM debian:12-slim"), "runtime stage is debian:12-slim")
    runtime = set(apt_installed(stages[1]))
    t.eq(sorted(p for p in runtime if p.endswith("-dev")), [], "no -dev package at runtime")
    for p in ("ca-certificates", "curl"):
        t.ok(p in runtime, "runtime installs " + p)
    binary = os.path.join(SRC, "bin", "kresponder")
    if not os.path.exists(binary):
        binary = krlib.BIN
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout)
    t.ok(len(needed) >= 8, "readelf lists the binary's libraries: %s" % needed)
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(
        ["ldd", binary], capture_output=True, text=True).stdout, re.M))
    pkgs = {}
    for so in needed:
        if re.match(r"lib(a|ub|l|t)san\.", so):
            continue  # sanitizer runtimes of `make asan`, never in the image
        pkgs[so] = owner(paths.get(so, so))
    t.ok(all(pkgs.values()), "every library belongs to a Debian package: %s" % pkgs)
    missing = {so: p for so, p in pkgs.items() if p not in runtime | SLIM_BASE}
    t.eq(missing, {}, "the runtime stage installs the package of every linked library")
    t.ok(pkgs.get("libcrypto.so.3") in runtime, "libcrypto comes from libssl3, which is installed")


@t.case
def image_paths_ports_and_config_agree():
    with open(DOCKERFILE) as f:
        df = f.read()
    with open(COMPOSE) as f:
        compose = f.read()
    ep = re.search(r'^ENTRYPOINT \[(.*)\]$', df, re.M)
    t.ok(ep is not None, "ENTRYPOINT in exec form")
    argv = json.loads("[" + ep.group(1) + "]")
    t.eq(argv[:3], ["kresponder", "run", "-c"], "ENTRYPOINT runs the daemon")
    cfg_in_image = argv[3]
    t.ok(("COPY docker/kresponder.yaml " + cfg_in_image) in df, "the image carries docker/kresponder.yaml there")
    t.ok(("./kresponder.yaml:" + cfg_in_image + ":ro") in compose, "compose mounts it at the same path")
    rules_dir = yaml_scalar(DOCKER_CFG, "rules_dir")
    rules_in_image = os.path.normpath(os.path.join(os.path.dirname(cfg_in_image), rules_dir))
    t.ok(("COPY rules " + rules_in_image) in df, "the image's rules are where rules_dir points")
    t.ok(("../rules:" + rules_in_image + ":ro") in compose, "compose mounts rules/ there")
    port = yaml_scalar(DOCKER_CFG, "listen").rsplit(":", 1)[1]
    t.ok(re.search(r"^EXPOSE %s$" % port, df, re.M), "EXPOSE is the port of listen (%s)" % port)
    t.ok("http://127.0.0.1:%s/healthz" % port in df, "HEALTHCHECK probes /healthz on that port")
    t.ok('"127.0.0.1:8080:%s"' % port in compose, "compose publishes it")
    vol = re.search(r'^VOLUME \["([^"]+)"\]$', df, re.M).group(1)
    for key in ("journal_dir", "cert_dir", "pause_file"):
        v = yaml_scalar(DOCKER_CFG, key)
        t.ok(v and v.startswith(vol + "/"), "%s (%s) is on the volume %s" % (key, v, vol))
    t.ok(re.search(r"^USER kresponder$", df, re.M), "the daemon runs as user kresponder")
    t.ok(("kresponder-state:" + vol) in compose, "compose keeps the state in a named volume")
    with open(DOCKER_CFG) as f:
        cfg_text = f.read()
    for name in SECRETS:
        t.ok(("{env: %s}" % name) in cfg_text,
             "the config reads %s from the environment" % name)
        t.ok(("%s: \"${%s:?" % (name, name)) in compose, "compose requires %s" % name)


@t.case
def docker_config_passes_check_in_the_image_layout():
    etc = tmpdir("kr-etc-")
    shutil.copy(DOCKER_CFG, os.path.join(etc, "kresponder.yaml"))
    shutil.copytree(os.path.join(SRC, "rules"), os.path.join(etc, "rules"))
    cfg = os.path.join(etc, "kresponder.yaml")
    want = subprocess.run([krlib.BIN, "check-rules", os.path.join(SRC, "rules")],
                          capture_output=True, text=True).stdout.strip()
    r = subprocess.run([krlib.BIN, "check", "-c", cfg], capture_output=True, text=True,
                       env=dict(os.environ, **SECRETS))
    t.eq(r.returncode, 0, "docker/kresponder.yaml passes check with its secrets set: " + r.stderr)
    t.ok(want and (want in r.stdout), "and compiles every shipped rule (%s): %s" % (want, r.stdout.strip()))
    t.ok(r.stdout.strip().endswith(cfg + ": ok"), "check says ok")
    env = dict(os.environ, **SECRETS)
    del env["KRESPONDER_ADMIN_TOKEN"]
    r = subprocess.run([krlib.BIN, "check", "-c", cfg], capture_output=True, text=True, env=env)
    t.eq(r.returncode, 1, "without a secret it refuses")
    t.ok(re.match(re.escape(cfg) + r":\d+:\d+: admin.token: environment variable KRESPONDER_ADMIN_TOKEN is not set",
                  r.stderr), "naming the variable and where: " + r.stderr)


@t.case
def docker_config_runs():
    # The same config, moved off the image's absolute paths and fixed port, starts and
    # serves: nothing in it is only valid for `check`.
    etc = tmpdir("kr-etc-")
    state = os.path.join(etc, "state")
    with open(DOCKER_CFG) as f:
        text = f.read()
    text = text.replace("/var/lib/kresponder", state).replace('"0.0.0.0:8080"', '"127.0.0.1:0"')
    text = re.sub(r'zookeeper: "[^"]+"', 'zookeeper: "127.0.0.1:1/kafka"', text)
    cfg = os.path.join(etc, "kresponder.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    shutil.copytree(os.path.join(SRC, "rules"), os.path.join(etc, "rules"))
    d = krlib.Daemon.start_with(cfg, etc, env=SECRETS)
    code, body, _ = d.request("GET", "/healthz")
    t.eq(code, 200, "healthz (what the image's HEALTHCHECK asks)")
    code, body, _ = d.request("GET", "/readyz")  # 503 while no ZooKeeper answers: not asserted
    t.eq(body["checks"]["journal"], "ok", "readyz: the journal on the state directory is writable")
    code, body, _ = d.request("POST", "/v1/pause", "", {"Authorization": "Bearer admin-secret"})
    t.eq((code, body), (200, {"paused": True}), "the admin token from the environment works")
    t.ok(os.path.isdir(os.path.join(state, "journal")), "the journal is on the state volume")
    t.eq(d.stop(), 0, "clean exit")


@t.case
def systemd_unit_verifies():
    with open(UNIT) as f:
        unit = f.read()
    directives = dict(re.findall(r"^([A-Za-z]+)=(.*)$", unit, re.M))
    want = {"DynamicUser": "yes", "StateDirectory": "kresponder", "ProtectSystem": "strict",
            "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter": "@system-service", "MemoryDenyWriteExecute": "yes",
            "LockPersonality": "yes", "ExecReload": "/bin/kill -HUP $MAINPID",
            "Restart": "on-failure"}
    t.eq({k: directives.get(k) for k in want}, want, "hardening and lifecycle directives")
    t.ok(re.match(r"^\d+$", directives.get("LimitNOFILE", "")), "LimitNOFILE is set")
    t.ok(re.match(r"^\d+s$", directives.get("TimeoutStopSec", "")), "TimeoutStopSec is set")
    start = directives.get("ExecStart", "").split()
    t.eq(start[1:3], ["run", "-c"], "ExecStart runs the daemon")
    t.ok(start[3].startswith("/etc/kresponder/"), "with a config in /etc/kresponder")
    if not shutil.which("systemd-analyze"):
        print("skip systemd-analyze verify: systemd-analyze is not installed")
        return
    # verify insists the programs exist: point them at this build.
    tmp = tmpdir("kr-unit-")
    path = os.path.join(tmp, "kresponder.service")
    with open(path, "w") as f:
        f.write(unit.replace(start[0], os.path.abspath(krlib.BIN)))
    r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    t.eq(r.returncode, 0, "systemd-analyze verify accepts the unit")
    t.eq(r.stderr.strip(), "", "without a warning (an unknown key is only a warning)")
    bad = os.path.join(tmp, "bad.service")
    with open(bad, "w") as f:
        f.write(unit.replace(start[0], os.path.abspath(krlib.BIN)).replace("ProtectHome=", "ProtectHomee="))
    r = subprocess.run(["systemd-analyze", "verify", bad], capture_output=True, text=True)
    t.ok("Unknown key" in r.stderr, "and the check would see a misspelt directive: " + r.stderr.strip())


def syscall_groups():
    """{"@group": [members]} from `systemd-analyze syscall-filter`."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


def expand(groups, name, seen=None):
    seen = seen if seen is not None else set()
    out = set()
    for m in groups.get(name, []):
        if m.startswith("@"):
            if m not in seen:
                seen.add(m)
                out |= expand(groups, m, seen)
        else:
            out.add(m)
    return out


@t.case
def system_calls_fit_the_units_filter():
    if not shutil.which("strace") or not shutil.which("systemd-analyze"):
        print("skip: strace or systemd-analyze is not installed")
        return
    if "libasan" in subprocess.run(["readelf", "-d", krlib.BIN], capture_output=True, text=True).stdout:
        print("skip: a sanitizer build's system calls are not the product's")
        return
    allowed = expand(syscall_groups(), "@system-service")
    t.ok(len(allowed) > 200 and "fdatasync" in allowed, "@system-service expanded (%d calls)" % len(allowed))
    directory = tmpdir("kr-strace-")
    trace = os.path.join(directory, "trace")
    # The shipped rules plus one exec action, so spawning, pipes and pidfd are traced too.
    rules = os.path.join(directory, "rules")
    shutil.copytree(os.path.join(SRC, "rules"), rules)
    with open(os.path.join(rules, "zz-exec.yaml"), "w") as f:
        f.write("- name: exec-on-stopping\n  match: {type: [instance.stopping]}\n"
                "  actions:\n    - exec: {argv: [/bin/cat], timeout: 10s}\n")
    d = krlib.Daemon.start({"rules_dir": rules, "admin": {"token": "admin-secret"},
                            "eventbridge": {"secret": "eb-secret"},
                            # the shipped rules page kafka-oncall: a receiver must exist
                            "receivers": [{"name": "kafka-oncall",
                                           "slack": {"url": "http://127.0.0.1:9/slack"}}]},
                           directory=directory,
                           wrapper=["strace", "-f", "-qq", "-o", trace,
                                    # The first socket() is glibc getaddrinfo's netlink
                                    # interface check (AI_ADDRCONFIG), which
                                    # RestrictAddressFamilies refuses: refuse it here too.
                                    "-e", "inject=socket:error=EAFNOSUPPORT:when=1"])
    # The traced daemon is strace's child: signals go to it, not to strace.
    kids = open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)).read().split()
    t.eq(len(kids), 1, "strace runs one daemon")
    pid = int(kids[0])
    with open(os.path.join(SRC, "tests", "golden", "decode", "am_real_capture_firing_and_resolved.json")) as f:
        am = f.read()
    code, _, _ = d.request("POST", "/hooks/alertmanager", am, {"Content-Type": "application/json"})
    t.eq(code, 202, "an Alertmanager webhook is accepted (journal, fsync thread)")
    ec2 = {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
           "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
           "account": "123456789012", "time": "2026-11-24T19:10:00Z", "region": "ap-northeast-2",
           "resources": [], "detail": {"instance-id": "i-0abcdef1234567890", "state": "stopping"}}
    code, _, _ = d.post_json("/hooks/eventbridge", ec2, {"X-Kresponder-Secret": "eb-secret"})
    t.eq(code, 202, "an EventBridge event is accepted")
    def exec_run():
        code, body, _ = d.request("GET", "/v1/incidents")
        runs = [a for i in body if i["rule"] == "exec-on-stopping" for a in i.get("actions", [])]
        return runs[0] if runs and runs[0]["state"] in ("done", "failed") else None
    run = krzk.wait_until(exec_run, krzk.tmout(20))
    t.eq(run and run["state"], "done", "the exec action ran /bin/cat to the end: %s" % (run and run["message"]))
    for path in ("/healthz", "/readyz", "/metrics", "/v1/events", "/v1/incidents"):
        code, _, _ = d.request("GET", path)
        t.eq(code, 200, "GET " + path)
    for path in ("/v1/reload", "/v1/pause", "/v1/resume"):
        code, _, _ = d.request("POST", path, "", {"Authorization": "Bearer admin-secret"})
        t.eq(code, 200, "POST " + path)
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.3)
    os.kill(pid, signal.SIGTERM)
    t.eq(d.proc.wait(krzk.tmout(20)), 0, "the daemon (and strace) exit cleanly")
    used = set()
    families = set()
    refused = []
    unfinished = {}  # pid -> the socket( call strace split because another thread ran
    with open(trace) as f:
        for line in f:
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
            if m:
                used.add(m.group(1))
            pid_, rest = line.split(None, 1)
            fm = re.match(r"^socket\((AF_[A-Z0-9]+)", rest)
            if fm and rest.rstrip().endswith("<unfinished ...>"):
                unfinished[pid_] = (fm.group(1), rest.strip())
                continue
            if rest.startswith("<... socket resumed>") and pid_ in unfinished:
                family, call = unfinished.pop(pid_)
                fm, line = re.match(r"(AF_[A-Z0-9]+)", family), call + " " + rest.strip()
            if fm and "(INJECTED)" not in line:
                families.add(fm.group(1))
            elif fm:
                refused.append(line.split(None, 1)[1].strip() if line[0].isdigit() else line.strip())
    t.ok(len(used) > 20 and {"fdatasync", "epoll_wait", "accept4"} <= used,
         "the trace holds the daemon's calls (%d distinct)" % len(used))
    t.eq(sorted(used - allowed), [], "every system call is allowed by SystemCallFilter=@system-service")
    t.eq(sorted(families - {"AF_INET", "AF_INET6", "AF_UNIX"}), [],
         "every socket the daemon used is allowed by RestrictAddressFamilies")
    t.eq([r.split(",")[0] for r in refused], ["socket(AF_NETLINK"],
         "the one refused socket was glibc's netlink probe, and the daemon served regardless: %s" % refused)


t.finish()
