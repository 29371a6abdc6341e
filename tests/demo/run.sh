#!/usr/bin/env bash
# tests/demo/run.sh: `make run` — the whole mission on this machine (see demo.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/demo/demo.py "$@"
