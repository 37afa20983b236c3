#!/usr/bin/env bash
# oidc-token.sh — the OpenID provider's token endpoint against one core's raw ES256 signing rate
# (issue #3 asked for half of it; issue 20 for at least 0.3× on the code exchange).
#
# 1. `openssl speed -seconds 5 ecdsap256` pinned to the server CPU: ES256 (P-256) sign/s of one
#    core (openssl divides by the CPU time it got, so other load on that core does not skew it).
# 2. bench/oidc-token.py: palaverd on loopback (temp config and state dir) pinned to the server
#    CPU, load processes on the client CPU; code exchanges (Meet's PKCE client), refresh-token
#    rotations (confidential client, offline_access) and userinfo, each as req/s and palaverd CPU
#    µs per request from /proc/<pid>/stat (see that script's header for the details). Before each
#    run it also takes a 1 s `openssl speed` on the server CPU: this shared machine drifts by ±20 %
#    within minutes, and the per-run ratio cancels that out.
#
# Usage: bench/oidc-token.sh [oidc-token.py options, e.g. --runs 1 --codes 1000 --clients 4 --nginx]
#        (--nginx: the per-request floor on nginx beside palaverd's; needs nginx installed)
# Env:   PALAVERD (default build/appliance/palaverd), SERVER_CPU (0), CLIENT_CPU (1),
#        SPEED_SECONDS (5).
# Needs: a built palaverd (./dev build), openssl, python3 (standard library only), taskset.
# Loopback only; every phase is bounded in count and time.
# Results: printed; the table is written to docs/bench/oidc-token-<date>.md with the raw lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PALAVERD_GIVEN=${PALAVERD:-}
PALAVERD=${PALAVERD:-$root/build/appliance/palaverd}
[ -x "$PALAVERD" ] || { echo "oidc-token.sh: build palaverd first (./dev build), or set PALAVERD" >&2; exit 2; }
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SPEED_SECONDS=${SPEED_SECONDS:-5}

work=$(mktemp -d /tmp/palaver-oidc-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "# bench/oidc-token.sh${*:+ $*} — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r) — $(openssl version)"

# `openssl speed` prints, after its "Doing ..." lines, a table whose row reads
#                               sign    verify    sign/s verify/s
#  256 bits ecdsa (nistp256)   0.0000s   0.0001s  43210.9  14102.3
timeout $((SPEED_SECONDS * 2 + 60)) taskset -c "$SERVER_CPU" openssl speed -seconds "$SPEED_SECONDS" ecdsap256 \
  >"$work/speed.txt" 2>&1 || { cat "$work/speed.txt" >&2; echo "oidc-token.sh: openssl speed failed" >&2; exit 1; }
row=$(grep -E '^ *256 bits ecdsa \(nistp256\)' "$work/speed.txt" | tail -n 1)
sign_rate=$(awk '{print $(NF-1)}' <<<"$row")
verify_rate=$(awk '{print $NF}' <<<"$row")
[[ "$sign_rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
  { cat "$work/speed.txt" >&2; echo "oidc-token.sh: no sign/s in openssl speed output" >&2; exit 1; }
grep -E '^Doing 256 bits (sign|verify)' "$work/speed.txt" | sed 's/^/# /'
echo "es256 sign_per_s=$sign_rate verify_per_s=$verify_rate (openssl speed, one core, CPU $SERVER_CPU)"

set +e
python3 "$here/oidc-token.py" --palaverd "$PALAVERD" --server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU" \
  --sign-rate "$sign_rate" --md "$work/table.md" "$@" 2>&1 | tee "$work/raw.txt"
rc=${PIPESTATUS[0]}
set -e
[ -s "$work/table.md" ] || { echo "oidc-token.sh: oidc-token.py failed ($rc), nothing written" >&2; exit "$rc"; }

mkdir -p "$root/docs/bench"
out="$root/docs/bench/oidc-token-$(date +%F).md"
{
  echo "# Token endpoint benchmark, $(date +%F)"
  echo
  echo "Command: \`${PALAVERD_GIVEN:+PALAVERD=$PALAVERD }bench/oidc-token.sh${*:+ $*}\` ($(nproc) cores, $(uname -r)," \
    "$(openssl version | cut -d' ' -f1-2))."
  echo
  cat "$work/table.md"
  echo
  echo "ES256 verify (openssl speed, one core): ${verify_rate}/s."
  echo
  echo "Raw output:"
  echo
  echo '```'
  grep -E '^Doing 256 bits' "$work/speed.txt" || true
  echo "$row"
  grep -E '^(#|run=|median )' "$work/raw.txt" || true
  echo '```'
} >"$out"
echo "saved: $out"
exit "$rc"
