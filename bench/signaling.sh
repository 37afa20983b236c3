#!/usr/bin/env bash
# signaling.sh — the signaling module under many RTM connections (issue targets on a 2-core machine:
# 10 000 concurrent connections held; p99 fan-out latency < 10 ms at 2 000 messages/s; < 20 KB RSS
# per idle connection).
#
# For each N in --conns (default 1000,10000), a fresh palaverd on loopback (temp config and state
# dir, connection limits raised to N + 1000, `ulimit -n` raised to the hard limit) pinned to
# SERVER_CPU, 5 users (`palaverd user add`), then bench/signaling-load.js (node + `ws` from
# tests/node/node_modules) pinned to CLIENT_CPU: signs the 5 users in once, opens N authenticated
# RTM connections (rtm/connect + TLS WebSocket) in rooms of 5 (one connection of each user per
# room), joins and meshes every room (pair hashes), measures palaverd's VmRSS before and with all
# connections idle, then sends `webrtc_signal`s to a room peer at each --rates total rate for
# --duration seconds and measures send → receive latency at the peer, palaverd CPU per message
# (/proc/<pid>/stat, per-thread schedstat) and RSS under load. See signaling-load.js's header.
#
# Usage: bench/signaling.sh [--conns 1000,10000] [signaling-load.js options: --rates 2000,5000
#        --duration 20 --concurrency 64 --pool 8 --settle 5 --idle-seconds 5]
# Env:   PALAVERD (default build/appliance/palaverd), SERVER_CPU (0), CLIENT_CPU (1), NODE (node),
#        PERF=FILE (perf record palaverd during the largest N's PERF_PHASE: `load` (default; 12 s
#        of the first rate) or `idle` (8 s with every connection open); PERF_CALLGRAPH=dwarf,8192
#        for call graphs of a build without frame pointers, default fp),
#        KEEP=1 (keep the temp dir with palaverd's log), OUT (default docs/bench/signaling-<date>.md).
# Needs: a built palaverd, node ≥ 18 with tests/node/node_modules (./dev test installs it), taskset.
# Loopback only; each run is bounded (counts, per-step timeouts, signaling-load.js --max-seconds,
# `timeout` around it).
# Results: printed; the table and the raw lines go to docs/bench/signaling-<date>.md (or OUT).
# Exit status 0 when every connection was opened and meshed and none was dropped, else non-zero.
# Rates run in the order given: list them ascending, an overloaded phase leaves a backlog behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PALAVERD_GIVEN=${PALAVERD:-}
PALAVERD=${PALAVERD:-$root/build/appliance/palaverd}
[ -x "$PALAVERD" ] || { echo "signaling.sh: build palaverd first (./dev build), or set PALAVERD" >&2; exit 2; }
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NODE=${NODE:-node}
[ -d "$root/tests/node/node_modules/ws" ] || { echo "signaling.sh: tests/node/node_modules/ws missing (./dev test installs it)" >&2; exit 2; }

conns_list="1000,10000"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) conns_list=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
all_args="--conns $conns_list${args[*]:+ ${args[*]}}"

# File descriptors: palaverd and the load client each hold one per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
max_conns=0
for n in ${conns_list//,/ }; do [ "$n" -gt "$max_conns" ] && max_conns=$n; done
if [ "$fd_limit" != unlimited ] && [ "$fd_limit" -lt $((max_conns + 200)) ]; then
  echo "signaling.sh: open-file limit $fd_limit is too low for $max_conns connections (raise the hard limit)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/palaver-signaling-bench.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

users=(bench1 bench2 bench3 bench4 bench5)
header="# bench/signaling.sh $all_args — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r) — node $($NODE --version) — palaverd $("$PALAVERD" --version 2>/dev/null | head -n1 || echo '?')"
echo "$header" | tee "$work/raw.txt"

json_files=()
rc=0
for n in ${conns_list//,/ }; do
  run="$work/n$n"
  mkdir -p "$run"
  cat >"$run/palaver.cfg" <<EOF
[palaver]
hostnames = localhost
state_dir = $run/state
listen = 127.0.0.1
https_port = 0
http_port = 0
http_redirect = no
log_level = info
max_connections = $((n + 1000))
max_connections_per_ip = $((n + 1000))

[signaling]
# Each of the 5 bench users has one connection in every room: N/5 rooms per user.
max_groups_per_user = $((n / 5 + 16))

[web]
root = $root/webui
EOF
  for u in "${users[@]}"; do
    echo "$u-secret" | timeout 60 "$PALAVERD" user add "$u" --display-name "Bench ${u#bench}" --config "$run/palaver.cfg" \
      >>"$run/useradd.log" 2>&1 || { cat "$run/useradd.log" >&2; echo "signaling.sh: user add failed" >&2; exit 1; }
  done
  taskset -c "$SERVER_CPU" "$PALAVERD" --config "$run/palaver.cfg" >"$run/stdout.log" 2>"$run/stderr.log" &
  pid=$!
  port=
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { cat "$run/stderr.log" >&2; echo "signaling.sh: palaverd exited" >&2; exit 1; }
    if [ -s "$run/state/runtime.json" ]; then
      read -r rpid port ca < <("$NODE" -e 'try { const j = require(process.argv[1]); console.log(j.pid, j.https_port, j.ca_certificate) } catch { console.log("0 0 -") }' "$run/state/runtime.json")
      [ "$rpid" = "$pid" ] && break
      port=
    fi
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$run/stderr.log" >&2; echo "signaling.sh: palaverd did not start" >&2; exit 1; }

  perf_pid=
  if [ -n "${PERF:-}" ] && [ "$n" = "$max_conns" ]; then
    # The load client prints "phase=connect" when every connection is up (then it waits --settle
    # and measures idle for --idle-seconds), "phase=idle" just before the first load phase.
    if [ "${PERF_PHASE:-load}" = idle ]; then mark=connect; delay=2; span=8; else mark=idle; delay=3; span=12; fi
    ( while ! grep -q "^phase=$mark" "$run/load.txt" 2>/dev/null; do sleep 0.2; kill -0 "$pid" 2>/dev/null || exit 0; done
      sleep "$delay"
      exec perf record -e cpu-clock -F 499 --call-graph "${PERF_CALLGRAPH:-fp}" -p "$pid" -o "$PERF" -- sleep "$span" ) >/dev/null 2>&1 &
    perf_pid=$!
  fi

  set +e
  NODE_EXTRA_CA_CERTS="$ca" timeout 900 taskset -c "$CLIENT_CPU" "$NODE" "$here/signaling-load.js" \
    --iss "https://localhost:$port" --pid "$pid" --conns "$n" --json "$run/result.json" "${args[@]}" 2>&1 |
    tee "$run/load.txt" | tee -a "$work/raw.txt"
  load_rc=${PIPESTATUS[0]}
  set -e
  [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
  [ "$load_rc" = 0 ] || rc=$load_rc
  if kill -0 "$pid" 2>/dev/null; then
    echo "palaverd: $(grep -cE '\b(warn|warning|error|critical)\b' "$run/stderr.log" || true) warning/error log lines; last:" | tee -a "$work/raw.txt"
    grep -E '\b(warn|warning|error|critical)\b' "$run/stderr.log" | tail -n 5 | sed 's/^/  /' | tee -a "$work/raw.txt" || true
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  else
    echo "palaverd (pid $pid) is gone: log tail:" | tee -a "$work/raw.txt"
    tail -n 20 "$run/stderr.log" | tee -a "$work/raw.txt"
  fi
  pid=
  [ -s "$run/result.json" ] && json_files+=("$run/result.json")
done

[ ${#json_files[@]} -gt 0 ] || { echo "signaling.sh: no run produced results" >&2; exit 1; }
"$NODE" "$here/signaling-load.js" --report "${json_files[@]}" >"$work/table.md"
cat "$work/table.md"

out=${OUT:-$root/docs/bench/signaling-$(date +%F).md}
mkdir -p "$(dirname "$out")"
{
  echo "# Signaling benchmark, $(date +%F)"
  echo
  echo "Command: \`${PALAVERD_GIVEN:+PALAVERD=$PALAVERD }bench/signaling.sh $all_args\` ($(nproc) cores, $(uname -r)," \
    "node $($NODE --version); palaverd on CPU $SERVER_CPU, load client on CPU $CLIENT_CPU)."
  echo
  cat "$work/table.md"
  echo
  echo "Raw output:"
  echo
  echo '```'
  cat "$work/raw.txt"
  echo '```'
} >"$out"
echo "saved: $out"
exit "$rc"
