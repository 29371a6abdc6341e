#!/usr/bin/env bash
# bench/intake/run.sh: the intake benchmark. Drives kresponder's POST /hooks/sns (signed
# CloudWatch alarm notifications, verification on, certificate cached) and POST
# /hooks/alertmanager (v4 webhooks), and Debian's prometheus-alertmanager POST
# /api/v2/alerts with the equivalent alerts, with wrk at the same threads, connections
# and duration, one target at a time, both servers running side by side for the whole run.
# A fourth target is the machine's ceiling: build/bench/null_http, an evhttp server that
# answers 202 at once and does nothing else, under the same load: no evhttp intake can be
# faster here, so its ratio to Alertmanager bounds what the target can ask of this machine.
# Prints requests/s, p50, p99, non-2xx and the kresponder/Alertmanager ratio; fails (exit 1)
# if a kresponder reply was not 202, a message was taken as a duplicate, or the journal
# holds fewer records than the 202s counted. Builds nothing: run `make all` first.
#
#   bench/intake/run.sh                    (also run by `make bench`)
#   BENCH_DURATION=10s BENCH_CONNECTIONS=32 BENCH_THREADS=2 BENCH_WARMUP=2s \
#   BENCH_SNS_MESSAGES=8192 BENCH_ROUNDS=1 BENCH_TMPDIR=/var/tmp BENCH_KEEP=0 bench/intake/run.sh
#
# The journal (and everything else) lives in a temp dir under BENCH_TMPDIR (default
# /var/tmp, a disk on every distribution; /tmp may be tmpfs): the filesystem is printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

KR_BIN=${KR_BIN:-bin/kresponder}
KR_BUILD=${KR_BUILD:-build}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
NSNS=${BENCH_SNS_MESSAGES:-8192}
AM_BIN=${BENCH_ALERTMANAGER:-prometheus-alertmanager}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
DEDUPE_KEEP=1000 # the smallest the config allows; see the SNS note below

TOPIC="arn:aws:sns:ap-northeast-2:123456789012:kafka-ec2-alarms"
CERT_URL="https://sns.ap-northeast-2.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem"
SNSSIGN="$KR_BUILD/tests/tools/snssign"
NULLHTTP="$KR_BUILD/bench/null_http"

die() { echo "bench/intake: $*" >&2; exit 1; }
for b in "$KR_BIN" "$SNSSIGN" "$NULLHTTP"; do [ -x "$b" ] || die "$b is missing: run 'make all' first"; done
for c in wrk "$AM_BIN" openssl python3 curl; do
    command -v "$c" >/dev/null || die "$c not found: run 'make deps' (Debian packages wrk, prometheus-alertmanager)"
done
# Each wrk thread cycles through its own slice of the signed messages. A message comes back
# after at least NSNS/THREADS-1 others; with dedupe_keep at 1000 it has been forgotten by
# then, so every request takes the full path (verify, decode, journal, fsync), none is
# answered as a duplicate. The run checks that (events_duplicate_total stays 0).
[ $((NSNS / THREADS)) -gt $((DEDUPE_KEEP + 100)) ] ||
    die "BENCH_SNS_MESSAGES/BENCH_THREADS must exceed $((DEDUPE_KEEP + 100)) so no message is a duplicate"
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be at least BENCH_THREADS"

tmp=$(mktemp -d "$TMPBASE/kr-bench-intake.XXXXXX")
kr_pid=
am_pid=
null_pid=
cleanup() {
    local rc=$?
    for p in $kr_pid $am_pid $null_pid; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
        wait "$p" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench/intake: kept $tmp"; else rm -rf "$tmp"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- fixtures: an SNS signing key and certificate, N signed notifications ----
mkdir -p "$tmp/certs" "$tmp/am-data"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/sns-key.pem" \
    -out "$tmp/certs/${CERT_URL##*/}" -days 30 -subj "/CN=sns.amazonaws.com" 2>/dev/null ||
    die "openssl could not make the test signing certificate"
t0=$(date +%s.%N)
python3 "$here/gen.py" --snssign "$SNSSIGN" --key "$tmp/sns-key.pem" --cert-url "$CERT_URL" \
    --topic "$TOPIC" -n "$NSNS" --out "$tmp/sns.tsv"
t1=$(date +%s.%N)

# ---- kresponder: the shipped defaults except the bench's paths and dedupe_keep ----
cat >"$tmp/kresponder.yaml" <<EOF
listen: "127.0.0.1:0"
journal_dir: journal
log_level: info
dedupe_keep: $DEDUPE_KEEP
sns:
  verify: true
  cert_dir: certs
  topic_arns: ["$TOPIC"]
EOF
(cd "$tmp" && exec "$root/$KR_BIN" run -c "$tmp/kresponder.yaml" >"$tmp/kr.out" 2>"$tmp/kr.log") &
kr_pid=$!
kr_addr=
for _ in $(seq 100); do
    kr_addr=$(sed -n 's/^listening on //p' "$tmp/kr.out" 2>/dev/null)
    [ -n "$kr_addr" ] && break
    kill -0 "$kr_pid" 2>/dev/null || { cat "$tmp/kr.log" >&2; die "kresponder did not start"; }
    sleep 0.1
done
[ -n "$kr_addr" ] || die "kresponder did not say where it listens"

# ---- Alertmanager: minimal config, no cluster, storage in the temp dir ----
cat >"$tmp/alertmanager.yml" <<EOF
route:
  receiver: blackhole
  group_by: [alertname]
receivers:
  - name: blackhole
EOF
am_port=$(free_port)
"$AM_BIN" --config.file="$tmp/alertmanager.yml" --storage.path="$tmp/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=warn \
    >"$tmp/am.log" 2>&1 &
am_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null 2>&1 && break
    kill -0 "$am_pid" 2>/dev/null || { cat "$tmp/am.log" >&2; die "alertmanager did not start"; }
    sleep 0.1
done
curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null || die "alertmanager is not ready"

# ---- the ceiling: an evhttp server that does nothing ----
"$root/$NULLHTTP" 0 >"$tmp/null.out" 2>&1 &
null_pid=$!
null_addr=
for _ in $(seq 50); do
    null_addr=$(sed -n 's/^listening on //p' "$tmp/null.out" 2>/dev/null)
    [ -n "$null_addr" ] && break
    sleep 0.1
done
[ -n "$null_addr" ] || die "null_http did not start: $(cat "$tmp/null.out")"

# ---- the machine ----
jfs=$(stat -f -c %T "$tmp")
jdev=$(df -P "$tmp" | awk 'NR == 2 { print $1 }')
jmnt=$(findmnt -n -o FSTYPE,OPTIONS --target "$tmp" 2>/dev/null | awk '{ print $1 " (" $2 ")" }')
jtask=/sys/fs/ext4/$(basename "$jdev")/journal_task # "<none>": ext4 without its own journal (no jbd2)
[ "$jfs" != ext2/ext3 ] || [ ! -r "$jtask" ] || [ "$(cat "$jtask")" != "<none>" ] || jmnt="$jmnt, no ext4 journal"
jcache=/sys/block/$(basename "$jdev")/queue/write_cache
[ ! -r "$jcache" ] || jmnt="$jmnt, device write cache: $(cat "$jcache")"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
echo "journal: $tmp/journal on $jdev, ${jmnt:-$jfs}"
python3 - "$tmp/fsync-probe" <<'PY' # the disk's group-commit floor: one fdatasync of a small append
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
lat = []
for _ in range(300):
    os.write(fd, b"x" * 3000)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append(time.perf_counter() - t)
os.close(fd)
os.unlink(sys.argv[1])
lat.sort()
print("disk: fdatasync after a 3 KB append: p50 %.2f ms, p99 %.2f ms (300 samples)" % (lat[150] * 1e3, lat[296] * 1e3))
PY
[ "$jfs" != tmpfs ] || echo "bench/intake: WARNING: the journal is on tmpfs: fsync costs nothing there" >&2
echo "kresponder $($root/$KR_BIN version 2>/dev/null | head -1) on $kr_addr; $("$AM_BIN" --version 2>&1 | head -1) on 127.0.0.1:$am_port"
printf 'load: wrk -t%s -c%s -d%s (after a %s warm-up), one target at a time, %s round(s)\n' "$THREADS" "$CONNS" \
    "$DURATION" "$WARMUP" "$ROUNDS"
printf 'SNS: %s signed notifications (SignatureVersion 1, RSA 2048), signed in %.1f s; each thread cycles its %s\n' \
    "$NSNS" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$((NSNS / THREADS))"
echo

metric() { # metric NAME [LABELS]: one series of kresponder's /metrics (0 if absent)
    local want="kresponder_$1${2:+\{$2\}}"
    curl -sf "http://$kr_addr/metrics" | awk -v w="$want" '$1 == w { v = $2 } END { print v + 0 }'
}

cpu_ticks() { # cpu_ticks PID: user+system clock ticks of every thread of a process so far
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

run=0
declare -A R NEXT
# drive KEY PID URL MODE FILE|- [warm]: one wrk run (a warm-up first if asked). The alert
# modes get a fresh run tag each time; the SNS mode continues where its last run stopped.
drive() {
    local key=$1 pid=$2 url=$3 mode=$4 arg=$5 warm=${6:-} out c0 c1
    if [ -n "$warm" ] && [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
        run=$((run + 1))
        [ "$mode" = sns ] || arg=$run
        out=$(wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout 5s -s "$here/intake.lua" "$url" -- \
            "$mode" "$arg" "$THREADS" ${NEXT[$mode]:-}) || die "wrk failed (warm-up $key): $out"
        R[$key.warm]=$(echo "$out" | sed -n 's/^BENCH //p')
        NEXT[$mode]=$(field "$key.warm" next)
    fi
    run=$((run + 1))
    [ "$mode" = sns ] || arg=$run
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -s "$here/intake.lua" "$url" -- \
        "$mode" "$arg" "$THREADS" ${NEXT[$mode]:-}) || die "wrk failed ($key): $out"
    c1=$(cpu_ticks "$pid")
    R[$key]="$(echo "$out" | sed -n 's/^BENCH //p') cpu_ticks=$((c1 - c0))"
    [ -n "$(field "$key" requests)" ] || die "wrk printed no result for $key: $out"
    NEXT[$mode]=$(field "$key" next)
}
field() { # field KEY NAME
    echo "${R[$1]}" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Rounds interleave the targets (sns, amhook, amapi, sns, ...) so a burst of other work on
# the machine hits every target alike; each target's round with the median req/s is shown.
for r in $(seq "$ROUNDS"); do
    w=; [ "$r" = 1 ] && w=warm
    drive "sns.r$r" "$kr_pid" "http://$kr_addr/hooks/sns" sns "$tmp/sns.tsv" $w
    drive "amhook.r$r" "$kr_pid" "http://$kr_addr/hooks/alertmanager" amhook - $w
    drive "amapi.r$r" "$am_pid" "http://127.0.0.1:$am_port/api/v2/alerts" amapi - $w
    drive "null.r$r" "$null_pid" "http://$null_addr/hooks/alertmanager" amhook - $w
done
rps() { awk -v n="$(field "$1" requests)" -v d="$(field "$1" duration_us)" 'BEGIN { printf "%.0f", n / (d / 1e6) }'; }
declare -A ALL
for t in sns amhook amapi null; do
    med=$(for r in $(seq "$ROUNDS"); do echo "$(rps "$t.r$r") $r"; done | sort -n | awk -v m=$(((ROUNDS + 1) / 2)) 'NR == m { print $2 }')
    R[$t]=${R[$t.r$med]}
    ALL[$t]=$(for r in $(seq "$ROUNDS"); do echo "$(rps "$t.r$r")"; done | paste -sd/ -)
done

# ---- checks: every kresponder reply 202, no duplicates, every 202 journaled ----
fail=0
check() { if ! eval "$1"; then echo "CHECK FAILED: $2" >&2; fail=1; fi; }
count_202() { echo "${R[$1]}" | tr ' ' '\n' | sed -n 's/^statuses=//p' | tr ',' '\n' | sed -n 's/^202://p'; }
acked=0
for k in sns.r1.warm amhook.r1.warm $(for r in $(seq "$ROUNDS"); do echo "sns.r$r amhook.r$r"; done); do
    [ -n "${R[$k]:-}" ] || continue
    n=$(count_202 "$k"); n=${n:-0}
    check "[ $(echo "${R[$k]}" | tr ' ' '\n' | sed -n 's/^non2xx=//p') = 0 ]" \
        "$k: kresponder answered something else than 2xx: $(field "$k" statuses)"
    check "[ $n = $(field "$k" counted) ]" "$k: not every reply was 202: $(field "$k" statuses)"
    acked=$((acked + n))
done
for k in amapi.r1.warm $(for r in $(seq "$ROUNDS"); do echo "amapi.r$r"; done); do
    [ -n "${R[$k]:-}" ] || continue
    check "[ $(field "$k" non2xx) = 0 ]" "$k: Alertmanager answered something else than 2xx: $(field "$k" statuses)"
done
dups=$(metric events_duplicate_total)
check "[ $dups = 0 ]" "kresponder took $dups SNS messages for duplicates (raise BENCH_SNS_MESSAGES)"
# events_total counts events once their journal record is durable (the journal itself is
# compacted during a long run, so its files hold a snapshot, not every record)
journaled=$(curl -sf "http://$kr_addr/metrics" |
    awk '$1 ~ /^kresponder_events_total[{]/ { n += $2 } END { printf "%d", n }')
check "[ $journaled -ge $((acked - dups)) ]" \
    "kresponder counted $journaled durable events but $((acked - dups)) new events were acknowledged"
records=$(metric journal_records_total)
fsyncs=$(metric journal_fsyncs_total)

# ---- the table ----
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
hz=$(getconf CLK_TCK)
cpu_per_req() { # server CPU (all its threads) per request, in microseconds
    awk -v t="$(field "$1" cpu_ticks)" -v hz="$hz" -v n="$(field "$1" requests)" \
        'BEGIN { printf "%.0f", n ? t / hz * 1e6 / n : 0 }'
}
row() {
    printf '%-44s %8s %8s %8s %8s %9s %7s %7s\n' "$2" "$(rps "$1")" "$(us_to_ms "$(field "$1" p50_us)")" \
        "$(us_to_ms "$(field "$1" p99_us)")" "$(us_to_ms "$(field "$1" max_us)")" "$(cpu_per_req "$1")" \
        "$(field "$1" non2xx)" "$(field "$1" socket_errors)"
}
printf '%-44s %8s %8s %8s %8s %9s %7s %7s\n' target "req/s" "p50 ms" "p99 ms" "max ms" "cpu us/req" non-2xx sockerr
row sns "kresponder POST /hooks/sns (verify+fsync)"
row amhook "kresponder POST /hooks/alertmanager (fsync)"
row amapi "alertmanager POST /api/v2/alerts (memory)"
row null "ceiling: evhttp answering 202, nothing else"
[ "$ROUNDS" = 1 ] || echo "req/s of each round (the median round is shown): sns ${ALL[sns]}, amhook ${ALL[amhook]}, alertmanager ${ALL[amapi]}, ceiling ${ALL[null]}"
am_rps=$(rps amapi)
echo
verdict=PASS
for k in sns amhook; do
    ratio=$(awk -v a="$(rps "$k")" -v b="$am_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    p99=$(us_to_ms "$(field "$k" p99_us)")
    ok=$(awk -v r="$ratio" -v p="$p99" 'BEGIN { print ((r >= 3 && p <= 5) ? "PASS" : "MISS") }')
    [ "$ok" = PASS ] || verdict=MISS
    printf 'ratio %-8s kresponder/alertmanager = %5.2fx  (target >= 3x, p99 %s ms <= 5 ms): %s\n' \
        "$k" "$ratio" "$p99" "$ok"
done
printf 'ceiling  evhttp doing nothing/alertmanager = %5.2fx  (no evhttp intake can pass this on this machine)\n' \
    "$(awk -v a="$(rps null)" -v b="$am_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
echo "statuses (shown round): sns $(field sns statuses), amhook $(field amhook statuses), alertmanager $(field amapi statuses)"
echo "journal: $journaled events durable ($records event records) with $fsyncs fdatasyncs ($(awk -v r="$journaled" \
    -v f="$fsyncs" 'BEGIN { printf "%.1f", f ? r / f : 0 }') events per fdatasync), duplicates $dups"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT intake-bench target=$verdict checks=$([ $fail = 0 ] && echo ok || echo FAILED)"
exit $fail
