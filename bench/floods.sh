#!/usr/bin/env bash
# bench/floods.sh — floods and slow clients (issue 19): slowloris, half-open TLS handshakes,
# WebSocket clients that never read, oversized frames and a TURN allocation flood from one
# address, each against a fresh palaverd-testbed on loopback while a well-behaved client signs in
# and places calls; prints the limit each runs into, peak RSS growth and the client's latency
# (bench/floods.py has the details; tests/integration/test_floods.py runs it at 0.2 scale).
# Usage: bench/floods.sh [--only slowloris,half-open,ws-never-read,oversized-frames,turn] [--scale 1.0] [--out FILE]
# Needs: a build (./dev build; the testbed binary is built with the tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/floods.py" "$@"
