"""tests/integration/test_docs.py: the docs match the code. docs/CONFIG.md is what
docs/gen-config.sh makes from the config key table today (regenerate it with
docs/gen-config.sh when this fails), and the generator notices a stale copy; every
shipped rule has its runbook in docs/runbooks/; docs/ARCHITECTURE.md's module map lists
every source file and no other; docs/OPERATIONS.md describes every metric family."""
import difflib
import glob
import os
import re
import shutil
import subprocess
import tempfile

import krlib
import krzk

t = krzk.Checks("docs")
GEN = os.path.join(krlib.SRCDIR, "docs", "gen-config.sh")
CONFIG_MD = os.path.join(krlib.SRCDIR, "docs", "CONFIG.md")
ENV = dict(os.environ, KR_BIN=krlib.BIN)


def reference_rows():
    r = subprocess.run([krlib.BIN, "check", "--reference"], capture_output=True, text=True)
    t.eq(r.returncode, 0, "check --reference exits 0")
    rows = [l for l in r.stdout.splitlines() if l.startswith("| `")]
    return r.stdout, rows


@t.case
def config_md_is_current():
    r = subprocess.run([GEN, "--stdout"], capture_output=True, text=True, env=ENV)
    t.eq(r.returncode, 0, "gen-config.sh --stdout exits 0: " + r.stderr)
    with open(CONFIG_MD) as f:
        have = f.read()
    if not t.ok(have == r.stdout, "docs/CONFIG.md is current (if not: run docs/gen-config.sh)"):
        for line in difflib.unified_diff(have.splitlines(), r.stdout.splitlines(),
                                         "docs/CONFIG.md", "generated", lineterm=""):
            print(line)
    r = subprocess.run([GEN, "--check"], capture_output=True, text=True, env=ENV)
    t.eq(r.returncode, 0, "gen-config.sh --check agrees: " + r.stderr)


@t.case
def config_md_has_every_key_once():
    ref, rows = reference_rows()
    t.ok(len(rows) >= 20, "the reference lists the keys (%d rows)" % len(rows))
    with open(CONFIG_MD) as f:
        doc = f.read()
    t.ok(ref in doc, "the whole reference table is in docs/CONFIG.md")
    missing = [row for row in rows if doc.count(row) != 1]
    t.eq(missing, [], "every key row appears exactly once")
    keys = re.findall(r"^\| `([a-z_.]+)` \|", doc, re.M)
    t.eq(len(keys), len(set(keys)), "no key is listed twice")


@t.case
def check_mode_catches_a_stale_copy():
    # A copy of the repository's docs/ with one key's row changed: --check must fail and
    # name the fix; the default mode must repair it.
    tmp = tempfile.mkdtemp(prefix="kr-docs-")
    krzk.on_cleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    os.makedirs(os.path.join(tmp, "docs"))
    shutil.copy(GEN, os.path.join(tmp, "docs", "gen-config.sh"))
    stale = os.path.join(tmp, "docs", "CONFIG.md")
    with open(CONFIG_MD) as f:
        text = f.read()
    with open(stale, "w") as f:
        f.write(text.replace("| `sns.max_age` | duration | 1h |", "| `sns.max_age` | duration | 2h |"))
    gen = os.path.join(tmp, "docs", "gen-config.sh")
    r = subprocess.run([gen, "--check"], capture_output=True, text=True, env=ENV)
    t.eq(r.returncode, 1, "--check fails on a stale file")
    t.ok("run docs/gen-config.sh" in r.stderr, "and says how to fix it: " + r.stderr.splitlines()[0])
    t.ok("-| `sns.max_age` | duration | 2h |" in r.stderr, "and shows the stale line")
    r = subprocess.run([gen], capture_output=True, text=True, env=ENV)
    t.eq(r.returncode, 0, "regenerating succeeds: " + r.stderr)
    with open(stale) as f:
        t.eq(f.read(), text, "and writes the current reference")
    r = subprocess.run([gen], capture_output=True, text=True,
                       env=dict(os.environ, KR_BIN=os.path.join(tmp, "no-such-binary")))
    t.eq(r.returncode, 2, "a missing binary is an error, not an empty reference")
    t.ok("run make first" in r.stderr, "and says so: " + r.stderr.strip())
    with open(stale) as f:
        t.eq(f.read(), text, "the file is left alone then")


def shipped_rule_names():
    names = []
    for path in sorted(glob.glob(os.path.join(krlib.SRCDIR, "rules", "*.y*ml"))):
        with open(path) as f:
            names += re.findall(r"^(?:- )?name:\s*\"?([A-Za-z0-9_.-]+)", f.read(), re.M)
    return names


@t.case
def every_shipped_rule_has_a_runbook():
    names = shipped_rule_names()
    r = subprocess.run([krlib.BIN, "check-rules", os.path.join(krlib.SRCDIR, "rules")],
                       capture_output=True, text=True)
    m = re.match(r"(\d+) rules in", r.stdout)
    t.ok(m and int(m.group(1)) == len(names),
         "every rule name was found (%d names; check-rules says %r)" % (len(names), r.stdout.strip()))
    rb = os.path.join(krlib.SRCDIR, "docs", "runbooks")
    missing = [n for n in names if not os.path.isfile(os.path.join(rb, n + ".md"))]
    t.eq(missing, [], "each rule has docs/runbooks/<name>.md (write one for a new rule)")
    extra = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(rb, "*.md"))
                   if os.path.basename(p) != "README.md" and os.path.basename(p)[:-3] not in names)
    t.eq(extra, [], "no runbook for a rule that is no longer shipped")
    with open(os.path.join(rb, "README.md")) as f:
        index = f.read()
    t.eq([n for n in names if "](%s.md)" % n not in index], [], "the runbook index links every runbook")
    for n in [n for n in names if n not in missing]:
        with open(os.path.join(rb, n + ".md")) as f:
            text = f.read()
        t.ok(text.startswith("# " + n + "\n") and all(h in text for h in (
            "**What it means.**", "**What kresponder does.**", "**What the on-call checks.**",
            "**How to stop it.**")), "runbook %s has its title and four parts" % n)


@t.case
def module_map_lists_every_source_file():
    with open(os.path.join(krlib.SRCDIR, "docs", "ARCHITECTURE.md")) as f:
        doc = f.read()
    rows = re.findall(r"^\| `(src/[^`]+\.c)` \|", doc, re.M)
    files = sorted(os.path.relpath(p, krlib.SRCDIR)
                   for p in glob.glob(os.path.join(krlib.SRCDIR, "src", "*", "*.c")))
    t.ok(len(files) > 30, "source files found (%d)" % len(files))
    t.eq([f for f in files if f not in rows], [],
         "every src/*/*.c has a row in docs/ARCHITECTURE.md's module map (add one for a new file)")
    t.eq([r for r in rows if r not in files], [], "and every row is a file that exists")
    t.eq(len(rows), len(set(rows)), "no file is listed twice")


@t.case
def operations_describes_every_metric():
    with open(os.path.join(krlib.SRCDIR, "include", "kr", "metrics.h")) as f:
        families = re.findall(r"X\((\w+), (counter|gauge),", f.read())
    t.ok(len(families) >= 10, "metric families found in kr/metrics.h (%d)" % len(families))
    with open(os.path.join(krlib.SRCDIR, "docs", "OPERATIONS.md")) as f:
        doc = f.read()
    rows = dict(re.findall(r"^\| `(\w+)` \| (counter|gauge) \|", doc, re.M))
    t.eq([n for n, _ in families if n not in rows], [],
         "docs/OPERATIONS.md's metrics table has every family (add a row for a new one)")
    t.eq({n: (rows[n], ty) for n, ty in families if n in rows and rows[n] != ty}, {},
         "with the right type")
    t.eq(sorted(set(rows) - {n for n, _ in families}), [], "and no family that no longer exists")


t.finish()
