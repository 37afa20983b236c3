#!/usr/bin/env bash
# bench/attack.sh — reruns issue 12's memory attacks (request bodies, HTTP/2 PING flood, signaling
# state, HTTP/2 zero window) at full size against palaverd-testbed on loopback and prints peak RSS
# growth and a well-behaved client's /healthz latency for each (bench/attack.py has the details).
# Usage: bench/attack.sh [--only bodies,ping,...] [--out FILE]
# Needs: a build (./dev build; the testbed binary is built with the tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/attack.py" "$@"
