"""tests/integration/test_docs.py: the generated docs match the code: docs/CONFIG.md is
what docs/gen-config.sh makes from the config key table today (regenerate it with
docs/gen-config.sh when this fails), the generator notices a stale copy, and every
shipped rule has its runbook."""
import difflib
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
    t.ok("run docs/gen-config.sh" in r.stderr, "and says how to fix it: " + r.stderr[:200])
    t.ok("-| `sns.max_age` | duration | 2h |" in r.stderr, "and shows the stale line")
    r = subprocess.run([gen], capture_output=True, text=True, env=ENV)
    t.eq(r.returncode, 0, "regenerating succeeds: " + r.stderr)
    with open(stale) as f:
        t.eq(f.read(), text, "and writes the current reference")
    r = subprocess.run([gen], capture_output=True, text=True,
                       env=dict(os.environ, KR_BIN=os.path.join(tmp, "no-such-binary")))
    t.eq(r.returncode, 2, "a missing binary is an error, not an empty reference")
    t.ok("run make first" in r.stderr, "and says so: " + r.stderr)
    with open(stale) as f:
        t.eq(f.read(), text, "the file is left alone then")


t.finish()
