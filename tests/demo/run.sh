#!/usr/bin/env bash
# tests/demo/run.sh: `make run`. Starts kresponder with the shipped example config in a
# scratch directory and prints where to look. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
work=$(mktemp -d /tmp/kresponder-demo.XXXXXX)
mkdir -p "$work/var"
cp kresponder.example.yaml "$work/kresponder.yaml"
ln -s "$top/rules" "$work/rules"
export KRESPONDER_EVENTBRIDGE_SECRET=demo-eventbridge-secret
export KRESPONDER_ADMIN_TOKEN=demo-admin-token
export KRESPONDER_SLACK_WEBHOOK=http://127.0.0.1:9/slack-demo
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
"$top/bin/kresponder" run -c "$work/kresponder.yaml" &
pids+=($!)
sleep 0.5
cat <<MSG

kresponder is running on http://127.0.0.1:8080 (config: $work/kresponder.yaml)
  curl -s localhost:8080/healthz
  curl -s localhost:8080/metrics
  curl -s localhost:8080/v1/events
  curl -s -XPOST -H 'X-Kresponder-Secret: demo-eventbridge-secret' \\
       --data @tests/golden/decode/<an EventBridge payload>.json localhost:8080/hooks/eventbridge
Ctrl-C stops it.
MSG
wait
