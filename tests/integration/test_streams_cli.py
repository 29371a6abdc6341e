"""tests/integration/test_streams_cli.py: `kresponder streams-reset` and the librdkafka
client of kr/kafka.h against librdkafka's mock cluster running in a separate process
(build/tests/tools/mockkafka), the CLI and build/tests/tools/kafkacall connecting to its
bootstrap string. Committed offsets are read back with mockkafka's own consumer
(OffsetFetch), independent of the code under test.

What the 2.0.2 mock answers, and so what is tested here: metadata (topics), watermarks,
ListConsumerGroupOffsets with explicit partitions, AlterConsumerGroupOffsets; its
DescribeGroups (kr/kafka.h describes groups through rd_kafka_list_groups, see
actions/kafka.c) fails with "not supported" (tested: the CLI refuses to execute, fast, and
the same client keeps answering the other requests).
What it cannot answer, and so is covered by the fake in tests/unit/test_streams.c instead:
a group described with its state and members (refusal while members exist, execution once
the group is empty), offsets for times (the mock always says -1; here only the fall back to
the end is visible), and topic deletion (the mock times out; here only that the time-out is
bounded)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import krzk  # noqa: E402

t = krzk.Checks("streams_cli")
BIN = os.path.join(krzk.SRCDIR, os.environ.get("KR_BIN", "bin/kresponder"))
MOCK = os.path.join(krzk.BUILD, "tests", "tools", "mockkafka")
CALL = os.path.join(krzk.BUILD, "tests", "tools", "kafkacall")

APP_RP = "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-repartition"
APP_CL = "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
V2_RP = "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-repartition"
V2_CL = "app-v2-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"


class Mock:
    """One mock cluster process; state lives in it and goes with it."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([MOCK] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        krzk.on_cleanup(self.stop)
        deadline = time.monotonic() + krzk.tmout(30)
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line or self.proc.poll() is not None:
                break
        if not line.strip():
            self.stop()
            raise RuntimeError("mockkafka did not start: %s" % self.proc.stderr.read())
        self.bootstrap = line.strip()

    def committed(self, group, tps):
        out = subprocess.run([MOCK, "--connect", self.bootstrap, "--committed", group,
                              ",".join(tps)], capture_output=True, text=True,
                             timeout=krzk.tmout(30))
        if out.returncode != 0:
            raise RuntimeError("mockkafka --committed: " + out.stderr)
        return json.loads(out.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def reset(mock, *args, timeout="5s"):
    """Runs the CLI; returns (exit code, parsed JSON or None, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([BIN, "streams-reset", "--bootstrap-servers", mock.bootstrap,
                        "--timeout", timeout] + list(args), capture_output=True, text=True,
                       timeout=krzk.tmout(60))
    took = time.monotonic() - t0
    try:
        doc = json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        doc = None
    return p.returncode, doc, p.stderr, took


def kafkacall(mock, *ops, timeout_ms=3000):
    p = subprocess.run([CALL, "--timeout", str(timeout_ms), mock.bootstrap] + list(ops),
                       capture_output=True, text=True, timeout=krzk.tmout(120))
    if p.returncode != 0:
        raise RuntimeError("kafkacall: " + p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


MOCK_ = None
COMMITS = {"orders:0": 4, "orders:1": 7, APP_RP + ":0": 2, APP_RP + ":1": 1}


def start_mock():
    # orders: 2 partitions x 10 records; app-rekeyed (intermediate): 1 x 5; app's
    # repartition topic (committed by group app), app's changelog (never committed, as
    # Streams does), and app-v2's topics, which start with "app-" too.
    return Mock("--brokers", "3",
                "--topic", "orders:2:10", "--topic", "app-rekeyed:1:5",
                "--topic", APP_RP + ":2:3", "--topic", APP_CL + ":2:3",
                "--topic", V2_RP + ":1:3", "--topic", V2_CL + ":1:3",
                "--commit", "app:orders:0:4", "--commit", "app:orders:1:7",
                "--commit", "app:%s:0:2" % APP_RP, "--commit", "app:%s:1:1" % APP_RP,
                "--commit", "app-v2:%s:0:3" % V2_RP)


ALL_TPS = ["orders:0", "orders:1", "app-rekeyed:0", APP_RP + ":0", APP_RP + ":1"]


def test_dry_run_plan_and_nothing_changes():
    m = MOCK_
    before = m.committed("app", ALL_TPS)
    t.eq(before, {"orders:0": 4, "orders:1": 7, "app-rekeyed:0": None, APP_RP + ":0": 2,
                  APP_RP + ":1": 1}, "mock set up with the group's committed offsets")
    rc, doc, err, took = reset(m, "--application-id", "app", "--input-topics", "orders",
                               "--intermediate-topics", "app-rekeyed", "--to-earliest")
    t.eq(rc, 0, "dry run exits 0 (stderr: %s)" % err.strip())
    t.ok(doc is not None, "dry run prints one JSON object")
    if doc is None:
        return
    t.eq(doc["application_id"], "app", "application_id")
    t.eq(doc["executed"], False, "executed is false in a dry run")
    t.eq(doc["offsets"], [
        {"topic": "orders", "partition": 0, "current": 4, "target": 0},
        {"topic": "orders", "partition": 1, "current": 7, "target": 0},
        {"topic": "app-rekeyed", "partition": 0, "current": None, "target": 5},
    ], "current = committed offsets read back; inputs to earliest (0); intermediate to its "
       "end (5 records)")
    t.eq(doc["delete_topics"], [APP_RP],
         "only the internal topic group app committed on is deleted")
    t.eq(doc["unconfirmed_internal_topics"], sorted([APP_CL, V2_CL, V2_RP]),
         "app-v2's topics and app's uncommitted changelog are left alone")
    t.eq(doc["group_state"], "unknown", "the mock cannot describe groups: state unknown")
    t.eq(doc["members"], None, "members null when unknown")
    t.ok("not supported" in doc.get("group_error", ""), "group_error says why")
    t.eq(m.committed("app", ALL_TPS), before, "dry run changed no committed offset")
    topics = {x["name"] for x in kafkacall(m, "topics")[0]["topics"]}
    t.ok({APP_RP, APP_CL, V2_RP, V2_CL} <= topics, "dry run deleted no topic")
    t.ok(took < krzk.tmout(10), "dry run took %.2fs" % took)


def test_reset_specs():
    m = MOCK_
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders",
                            "--to-latest")
    t.eq(rc, 0, "--to-latest exits 0")
    t.eq([o["target"] for o in doc["offsets"]], [10, 10], "--to-latest: high watermarks")
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders",
                            "--to-datetime", "2026-11-24T10:00:00.000")
    t.eq(rc, 0, "--to-datetime exits 0")
    t.eq(doc["reset"], {"to": "datetime", "time": "2026-11-24T10:00:00.000Z"},
         "--to-datetime without an offset is UTC")
    t.eq([o["target"] for o in doc["offsets"]], [10, 10],
         "the mock's offsets-for-times says -1: every partition falls back to its end")
    t.ok(len(doc["notes"]) >= 2 and "has no record at or after" in doc["notes"][0],
         "and the fall back is noted")
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders",
                            "--by-duration", "PT1H")
    t.eq(rc, 0, "--by-duration exits 0")
    t.eq(doc["reset"]["to"], "duration", "--by-duration")
    t.eq([o["target"] for o in doc["offsets"]], [10, 10], "--by-duration falls back too")
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders,nope")
    t.eq((rc, doc["missing_topics"]), (0, ["nope"]), "a missing input topic is reported")


def test_execute_refused_without_describe():
    m = MOCK_
    before = m.committed("app", ALL_TPS)
    rc, doc, err, took = reset(m, "--application-id", "app", "--input-topics", "orders",
                               "--intermediate-topics", "app-rekeyed", "--to-earliest",
                               "--execute")
    t.eq(rc, 1, "execute without a describable group exits 1")
    t.ok("refusing to reset: could not confirm that group app has no members" in err,
         "and says why: " + err.strip().splitlines()[-1])
    t.ok(doc is not None and doc["executed"] is False and len(doc["offsets"]) == 3,
         "the dry-run JSON is still printed")
    t.ok(took < krzk.tmout(10), "refused in bounded time (%.2fs)" % took)
    t.eq(m.committed("app", ALL_TPS), before, "nothing committed")
    topics = {x["name"] for x in kafkacall(m, "topics")[0]["topics"]}
    t.ok(APP_RP in topics, "nothing deleted")


def test_client_paths_on_the_mock():
    m = MOCK_
    res = kafkacall(m, "watermarks", "orders:0,orders:1,app-rekeyed:0",
                    "--", "committed", "app", "orders:0,orders:1,app-rekeyed:0",
                    "--", "describe", "app",
                    "--", "committed", "app-v2", V2_RP + ":0",
                    "--", "commit", "app-v2", V2_RP + ":0=1",
                    "--", "committed", "app-v2", V2_RP + ":0",
                    "--", "times", "orders:0@0,orders:1@1795514400000")
    wm, c1, d, c2, alter, c3, times = res
    t.eq([(p["topic"], p["partition"], p["low"], p["high"]) for p in wm["partitions"]],
         [("orders", 0, 0, 10), ("orders", 1, 0, 10), ("app-rekeyed", 0, 0, 5)],
         "watermarks = records produced")
    t.eq(sorted((p["topic"], p["partition"], p["offset"]) for p in c1["partitions"]),
         [("app-rekeyed", 0, -1), ("orders", 0, 4), ("orders", 1, 7)],
         "ListConsumerGroupOffsets with explicit partitions reads back the commits (-1: none)")
    t.eq((d["result"], d["group_state"], d["members"]), ("unsupported", "unknown", -1),
         "DescribeConsumerGroups: unsupported by the mock, state unknown")
    t.ok(d["ms"] < krzk.tmout(5) * 1000, "describe answered in %d ms" % d["ms"])
    t.eq(c2["partitions"][0]["offset"], 3, "requests after the failed describe still answer")
    t.eq(alter["result"], "ok", "AlterConsumerGroupOffsets ok")
    t.eq(c3["partitions"][0]["offset"], 1, "and read back through the client")
    t.eq(m.committed("app-v2", [V2_RP + ":0"]), {V2_RP + ":0": 1},
         "and read back by an independent consumer (OffsetFetch)")
    t.eq([p["offset"] for p in times["partitions"]], [-1, -1],
         "the mock's offsets-for-times always answers -1 (a known gap of the 2.0.2 mock)")


def test_bounded_failures():
    m = MOCK_
    # The mock never deletes topics (it waits for a controller): the deadline ends it.
    res = kafkacall(m, "delete", V2_CL, "--", "topics", timeout_ms=1500)
    t.eq(res[0]["result"], "timed out", "DeleteTopics on the mock times out")
    t.ok(res[0]["ms"] < 1500 + krzk.tmout(2) * 1000, "within its deadline (%d ms)" % res[0]["ms"])
    t.eq(res[1]["result"], "ok", "and the client still answers afterwards")
    # A failed describe poisons nothing: describe again, then other requests, same client.
    res = kafkacall(m, "describe", "app", "--", "describe", "app", "--", "topics", "--",
                    "committed", "app", "orders:0")
    t.eq([r["result"] for r in res], ["unsupported", "unsupported", "ok", "ok"],
         "describe, describe again, topics, committed on one client")
    t.ok(all(r["ms"] < krzk.tmout(2) * 1000 for r in res), "each answered at once: %s" %
         [r["ms"] for r in res])
    # Describes nobody answers end at their deadline, one after the other.
    p = subprocess.run([CALL, "--timeout", "300", "127.0.0.1:1"] +
                       sum([["describe", "app", "--"] for _ in range(3)], []) + ["topics"],
                       capture_output=True, text=True, timeout=krzk.tmout(60))
    res = [json.loads(x) for x in p.stdout.splitlines()]
    t.eq([r["result"] for r in res[:3]], ["timed out"] * 3, "an unreachable cluster: time-outs")
    t.ok(res[3]["result"] in ("timed out", "i/o error"),
         "metadata fails too (%s: %s)" % (res[3]["result"], res[3].get("error")))
    t.ok(all(250 <= r["ms"] < 300 + krzk.tmout(1) * 1000 for r in res),
         "each at its 300 ms deadline: %s" % [r["ms"] for r in res])
    # An unreachable cluster: the CLI gives up within its per-request timeout.
    t0 = time.monotonic()
    p = subprocess.run([BIN, "streams-reset", "--bootstrap-servers", "127.0.0.1:1",
                        "--application-id", "app", "--input-topics", "orders", "--timeout",
                        "1s", "--execute"], capture_output=True, text=True,
                       timeout=krzk.tmout(60))
    took = time.monotonic() - t0
    t.eq(p.returncode, 1, "an unreachable cluster exits 1")
    t.ok(took < krzk.tmout(8), "within the time-outs (%.2fs)" % took)
    t.ok("kresponder streams-reset:" in p.stderr, "and says why: " +
         (p.stderr.strip().splitlines() or [""])[-1])


def test_usage_errors():
    m = MOCK_
    cases = [
        (["--input-topics", "orders"], "required"),
        (["--application-id", "app", "--to-earliest", "--to-latest"], "mutually exclusive"),
        (["--application-id", "app", "--to-datetime", "24/11/2026"], "YYYY-MM-DDTHH:mm:SS.sss"),
        (["--application-id", "app", "--by-duration", "1h"], "ISO-8601"),
        (["--application-id", "app", "--by-duration", "-PT1H"], "negative"),
        (["--application-id", "app", "--frobnicate"], "unknown option"),
        (["--application-id", "app", "-X", "no.such.property=1"], "no.such.property"),
    ]
    for args, want in cases:
        rc, doc, err, _ = reset(m, *args)
        t.eq(rc, 2, "usage error exits 2: %s" % " ".join(args))
        t.ok(want in err, "says %r: %s" % (want, err.strip().splitlines()[0] if err else ""))
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders",
                            "--internal-topics", V2_RP + ",orders-changelog")
    t.eq(rc, 1, "--internal-topics outside the inferred set exits 1")
    t.ok("internal topic orders-changelog is not one of application app's internal topics"
         in err, "and names the topic: " + err.strip())
    rc, doc, err, _ = reset(m, "--application-id", "app", "--input-topics", "orders",
                            "--internal-topics", V2_RP)
    t.eq((rc, doc["delete_topics"], doc["unconfirmed_internal_topics"]), (0, [V2_RP], []),
         "an explicit --internal-topics list replaces inference, as in Kafka's tool")
    p = subprocess.run([BIN, "streams-reset", "--help"], capture_output=True, text=True)
    t.ok(p.returncode == 0 and "--bootstrap-servers" in p.stdout, "--help")


def main():
    global MOCK_
    MOCK_ = start_mock()
    for fn in (test_dry_run_plan_and_nothing_changes, test_reset_specs,
               test_execute_refused_without_describe, test_client_paths_on_the_mock,
               test_bounded_failures, test_usage_errors):
        t.case(fn)
    MOCK_.stop()
    t.finish()


if __name__ == "__main__":
    main()
