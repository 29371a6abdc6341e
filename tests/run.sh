#!/usr/bin/env bash
# tests/run.sh: runs every test layer (C unit + golden tests, integration tests) and
# prints one closing line "N passed, N failed". Exit status is non-zero on any failure.
# Env: KR_BUILD (object dir, default build), KR_BIN (binary), KR_TEST_TIMEOUT_MULT,
# KR_TEST_FILTER (substring: run only test programs whose name contains it).
set -u
cd "$(dirname "$0")/.."
export KR_BUILD=${KR_BUILD:-build}
export KR_BIN=${KR_BIN:-bin/kresponder}
export KR_SRCDIR=$PWD
filter=${KR_TEST_FILTER:-}
passed=0; failed=0; broken=()
logdir=$(mktemp -d /tmp/kr-test-logs.XXXXXX)

run_one() { # name, command...
  local name=$1; shift
  [[ -n $filter && $name != *"$filter"* ]] && return
  local log="$logdir/$(echo "$name" | tr '/' '_').log"
  "$@" >"$log" 2>&1
  local rc=$?
  local line; line=$(grep -E '^RESULT ' "$log" | tail -n 1)
  local p f
  p=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$line"); f=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
  p=${p:-0}; f=${f:-0}
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi   # crashed or exited badly: count it
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $f -ne 0 ]]; then
    broken+=("$name"); printf 'FAIL %-40s %3d passed %3d failed (rc=%d)\n' "$name" "$p" "$f" "$rc"
    grep -vE '^ok ' "$log" | tail -n 60 | sed 's/^/    | /'
  else
    printf 'ok   %-40s %3d passed\n' "$name" "$p"
  fi
}

for t in "$KR_BUILD"/tests/test_*; do
  [[ -x $t ]] || continue
  run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.py; do
  [[ -f $t ]] || continue
  run_one "integration/$(basename "$t" .py)" python3 "$t"
done
for t in tests/integration/test_*.sh; do
  [[ -f $t ]] || continue
  run_one "integration/$(basename "$t" .sh)" bash "$t"
done

if ((${#broken[@]})); then echo "failed: ${broken[*]} (logs in $logdir)"; else rm -rf "$logdir"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
