#!/usr/bin/env bash
# soak.sh — issue 19, "Soak": about 1 000 signaling clients joining rooms, placing 1:1 calls,
# exchanging signals, leaving, hanging up, disconnecting and coming back for 10 minutes, against
# an ASan + UBSan build of palaverd on loopback. Passes only when
#   - the clients saw no error at all (failed connects, server `error` messages, closes they did not
#     start, replies or forwarded messages missing after --timeout, protocol mismatches), and the
#     server counts no connection or channel once every client has closed;
#   - palaverd's VmRSS (sampled every 10 s and printed) grew by at most RSS_GROWTH_PCT (5) % from
#     the end of the warm-up (--warmup-minutes, 2) to the end of the churn; with ASan, the heap in
#     use (allocated and not freed: ASan's allocator statistics, read by a small preloaded library)
#     by at most HEAP_GROWTH_PCT (5) % over the same span — the RSS also holds ASan's bookkeeping;
#   - palaverd, stopped with SIGTERM, exits 0 within 120 s and LeakSanitizer (at exit) and
#     ASan/UBSan (any time) wrote no report (log_path=<temp>/sanitizer/palaverd.<pid>).
# ASan holds freed memory in a quarantine (256 MB by default), which alone would make RSS climb for
# many minutes; the run sets quarantine_size_mb=64 (ASAN_QUARANTINE_MB) so that the quarantine is
# full within the warm-up and the bound measures palaverd, not ASan. Two more parts of ASan's own
# memory grow by design through a long run: the fake stack frames of detect_stack_use_after_return
# (the compiled-in default: more of them are touched as the loop runs) and the stack depot (every
# distinct allocation and free stack, kept for good). The smaps breakdown this script prints showed
# that growth outside ASan's heap region and shadow, with palaverd's heap flat (docs/performance.md,
# "Soak"), so by default the soak runs with detect_stack_use_after_return=0:malloc_context_size=2
# (SOAK_ASAN_OPTIONS overrides; a leak report then shows 2 frames per stack: rerun with
# SOAK_ASAN_OPTIONS=malloc_context_size=30 to find it). Every heap check stays on; the ASan test job
# (./dev test) runs with both options at their full setting.
# What one cycle of a client cohort does: see soak.js's header.
#
# Usage: bench/soak.sh [--clients 1000] [--minutes 10] [soak.js options: --warmup-minutes 2
#        --users 50 --signals 3 --reconnect 0.3 --pause 2-6 --timeout 20 --sample-seconds 10]
#   Short development runs: bench/soak.sh --clients 50 --minutes 1 --warmup-minutes 0.5
# Env:   PALAVERD (default build-asan/appliance/palaverd: `./dev test` builds it, or
#          cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPALAVER_WEBUI=OFF \
#            -DPALAVER_WEBUI_DIR=$PWD/build/webui -DPALAVER_SANITIZE=address,undefined &&
#          cmake --build build-asan -j2 --target palaverd);
#        a palaverd without ASan is accepted for trying the script out (the leak check is then
#        skipped and the output says so; REQUIRE_ASAN=1 refuses it),
#        SERVER_CPU (0), CLIENT_CPU (1), NODE (node), RSS_GROWTH_PCT (5), HEAP_GROWTH_PCT (5),
#        ASAN_QUARANTINE_MB (64), SOAK_ASAN_OPTIONS (more ASAN_OPTIONS for palaverd; default above; empty: none),
#        KEEP=1 (keep the temp dir with palaverd's log), OUT (default docs/bench/soak-<date>.md),
#        LEAK_CONTROL=1 (positive control of the leak check: palaverd runs with a preloaded library
#          that leaks 4 242 bytes at start, so the run must end "FAIL: ... sanitizer reports").
# Needs: node ≥ 18 with tests/node/node_modules (./dev test installs it), taskset.
# Loopback only; bounded: fixed client count, soak.js --max-seconds, `timeout` around it, and a
# bounded wait for palaverd's exit.
# Exit status 0 when every check passed, else non-zero; the raw output goes to OUT either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PALAVERD_GIVEN=${PALAVERD:-}
PALAVERD=${PALAVERD:-$root/build-asan/appliance/palaverd}
if [ ! -x "$PALAVERD" ]; then
  cat >&2 <<EOF
soak.sh: no palaverd at $PALAVERD.
  Build the ASan + UBSan one (\`./dev test\` makes build-asan/ beside build/), or just palaverd:
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPALAVER_WEBUI=OFF \\
      -DPALAVER_WEBUI_DIR=\$PWD/build/webui -DPALAVER_SANITIZE=address,undefined
    cmake --build build-asan -j2 --target palaverd
  or set PALAVERD=/path/to/palaverd.
EOF
  exit 2
fi
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NODE=${NODE:-node}
RSS_GROWTH_PCT=${RSS_GROWTH_PCT:-5}
HEAP_GROWTH_PCT=${HEAP_GROWTH_PCT:-5}
ASAN_QUARANTINE_MB=${ASAN_QUARANTINE_MB:-64}
SOAK_ASAN_OPTIONS=${SOAK_ASAN_OPTIONS-detect_stack_use_after_return=0:malloc_context_size=2}
[ -d "$root/tests/node/node_modules/ws" ] || { echo "soak.sh: tests/node/node_modules/ws missing (./dev test installs it)" >&2; exit 2; }

clients=1000
minutes=10
users=50
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
all_args="--clients $clients --minutes $minutes --users $users${args[*]:+ ${args[*]}}"

# An ASan build has the runtime linked in (GCC: libasan.so; clang: static __asan_init).
asan=0
# (Read whole before grep: with pipefail, `ldd | grep -q` fails when grep's early exit kills ldd.)
libs=$(ldd "$PALAVERD" 2>/dev/null || true)
syms=$(nm -D "$PALAVERD" 2>/dev/null || true)
if grep -q libasan <<<"$libs" || grep -q ' __asan_init' <<<"$syms"; then asan=1; fi
if [ "$asan" = 0 ] && [ "${REQUIRE_ASAN:-}" = 1 ]; then echo "soak.sh: $PALAVERD is not an ASan build" >&2; exit 2; fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
if [ "$fd_limit" != unlimited ] && [ "$fd_limit" -lt $((clients + 500)) ]; then
  echo "soak.sh: open-file limit $fd_limit is too low for $clients clients (raise the hard limit)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/palaver-soak.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

reports=$work/sanitizer
mkdir -p "$reports"
# Every report of the daemon goes to a file of its own (the compiled-in defaults make each fatal:
# tests/sanitizers/defaults.cpp); the leak check runs at exit.
export ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=$ASAN_QUARANTINE_MB:log_path=$reports/palaverd${SOAK_ASAN_OPTIONS:+:$SOAK_ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/palaverd"

header="# bench/soak.sh $all_args — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r) — node $($NODE --version) — palaverd $("$PALAVERD" --version 2>/dev/null | head -n1 || echo '?') — $([ "$asan" = 1 ] && echo "ASan+UBSan build, ASAN_OPTIONS=$ASAN_OPTIONS" || echo 'NOT an ASan build: no leak check')"
echo "$header" | tee "$work/raw.txt"

cat >"$work/palaver.cfg" <<EOF
[palaver]
hostnames = localhost
state_dir = $work/state
listen = 127.0.0.1
https_port = 0
http_port = 0
http_redirect = no
log_level = info
max_connections = $((clients + 1000))
max_connections_per_ip = $((clients + 1000))

[signaling]
# $clients connections of $users users: each user has about $((clients / users)) devices online, each in
# at most one room or call at a time (the per-connection limits stay at their defaults).
max_groups_per_user = $((clients / users + 16))
max_calls_per_user = $((clients / users + 16))

[web]
root = $root/webui
EOF
for i in $(seq "$users"); do
  echo "soak$i-secret" | timeout 60 "$PALAVERD" user add "soak$i" --display-name "Soak $i" --config "$work/palaver.cfg" \
    >>"$work/useradd.log" 2>&1 || { cat "$work/useradd.log" >&2; echo "soak.sh: user add failed" >&2; exit 1; }
done
# The CLI runs above were sanitized too: a report from them is not the daemon's.
if compgen -G "$reports/palaverd.*" >/dev/null; then cat "$reports"/palaverd.* >&2; echo "soak.sh: sanitizer report from 'palaverd user add'" >&2; exit 1; fi

daemon_env=()
preload=()
if [ "$asan" = 1 ]; then
  # ASan's allocator statistics, written by a thread of a preloaded library every 2 s: the heap in
  # use (allocated, not freed; the quarantine not counted) beside the RSS, which also holds ASan's
  # own bookkeeping (quarantine, free chunks kept per size class, stack depot, shadow).
  cat >"$work/heapstat.c" <<'C'
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
extern size_t __sanitizer_get_heap_size(void) __attribute__((weak));
extern size_t __sanitizer_get_free_bytes(void) __attribute__((weak));
static void* soak_heapstat(void* path) {
  for (;;) {
    if (__sanitizer_get_current_allocated_bytes) {
      char line[128];
      int n = snprintf(line, sizeof line, "%zu %zu %zu\n", __sanitizer_get_current_allocated_bytes() / 1024,
                       __sanitizer_get_heap_size() / 1024, __sanitizer_get_free_bytes() / 1024);
      int fd = open((const char*)path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0) { if (write(fd, line, (size_t)n) < 0) {} close(fd); }
    }
    sleep(2);
  }
  return NULL;
}
__attribute__((constructor)) static void soak_heapstat_start(void) {
  const char* path = getenv("SOAK_HEAP_FILE");
  pthread_t t;
  if (path && *path) pthread_create(&t, NULL, soak_heapstat, (void*)path);
}
C
  cc -shared -fPIC -O1 -pthread -o "$work/heapstat.so" "$work/heapstat.c"
  preload+=("$work/heapstat.so")
  daemon_env+=(SOAK_HEAP_FILE="$work/heap.txt")
fi
if [ "${LEAK_CONTROL:-}" = 1 ]; then
  printf '#include <stdlib.h>\n#include <string.h>\n__attribute__((constructor)) static void soak_leak(void) { char *p = malloc(4242); memset(p, 1, 4242); p = 0; }\n' >"$work/leak.c"
  cc -shared -fPIC -O0 -o "$work/leak.so" "$work/leak.c"
  preload+=("$work/leak.so")
  echo "# LEAK_CONTROL=1: palaverd runs with $work/leak.so preloaded (leaks 4242 bytes at start); this run must fail" | tee -a "$work/raw.txt"
fi
# The ASan runtime is then no longer first in the library list: allow that.
[ ${#preload[@]} -eq 0 ] || daemon_env+=(LD_PRELOAD="$(IFS=:; echo "${preload[*]}")" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")
env "${daemon_env[@]}" taskset -c "$SERVER_CPU" "$PALAVERD" --config "$work/palaver.cfg" >"$work/stdout.log" 2>"$work/stderr.log" &
pid=$!
port=
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr.log" >&2; echo "soak.sh: palaverd exited" >&2; exit 1; }
  if [ -s "$work/state/runtime.json" ]; then
    read -r rpid port ca < <("$NODE" -e 'try { const j = require(process.argv[1]); console.log(j.pid, j.https_port, j.ca_certificate) } catch { console.log("0 0 -") }' "$work/state/runtime.json")
    [ "$rpid" = "$pid" ] && break
    port=
  fi
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/stderr.log" >&2; echo "soak.sh: palaverd did not start" >&2; exit 1; }

# With ASan: which part of the RSS moves (shadow, ASan's heap region, other anonymous memory,
# files), every 60 s, into the raw output.
sampler=
if [ "$asan" = 1 ]; then
  python3 "$here/lib/smaps-breakdown.py" "$pid" 60 "$(awk -v m="$minutes" 'BEGIN { printf "%d", m + 6 }')" >"$work/smaps.txt" 2>/dev/null &
  sampler=$!
fi

set +e
NODE_EXTRA_CA_CERTS="$ca" timeout "$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 900 }')" taskset -c "$CLIENT_CPU" "$NODE" "$here/soak.js" \
  --iss "https://localhost:$port" --pid "$pid" --clients "$clients" --minutes "$minutes" --users "$users" \
  --json "$work/result.json" ${preload[0]:+--heap-file "$work/heap.txt"} "${args[@]}" 2>&1 | tee -a "$work/raw.txt"
client_rc=${PIPESTATUS[0]}
set -e
if [ -n "$sampler" ]; then
  kill "$sampler" 2>/dev/null || true
  tee -a "$work/raw.txt" <"$work/smaps.txt"
fi

fails=()
[ "$client_rc" = 0 ] || fails+=("clients: exit $client_rc (errors above)")
if [ -s "$work/result.json" ]; then
  growth=$("$NODE" -e 'const r = require(process.argv[1]); console.log(r.rss.growth_pct.toFixed(2))' "$work/result.json")
  if "$NODE" -e 'process.exit(require(process.argv[1]).rss.growth_pct <= Number(process.argv[2]) ? 0 : 1)' "$work/result.json" "$RSS_GROWTH_PCT"; then
    echo "check: RSS growth after warm-up $growth % ≤ $RSS_GROWTH_PCT %" | tee -a "$work/raw.txt"
  else
    fails+=("RSS grew $growth % after the warm-up (bound $RSS_GROWTH_PCT %)")
  fi
  if [ "$asan" = 1 ]; then
    hgrowth=$("$NODE" -e 'const r = require(process.argv[1]); console.log(r.heap ? r.heap.growth_pct.toFixed(2) : "none")' "$work/result.json")
    if [ "$hgrowth" = none ]; then
      fails+=("no ASan heap statistics were read")
    elif "$NODE" -e 'process.exit(require(process.argv[1]).heap.growth_pct <= Number(process.argv[2]) ? 0 : 1)' "$work/result.json" "$HEAP_GROWTH_PCT"; then
      echo "check: ASan heap in use grew $hgrowth % after warm-up ≤ $HEAP_GROWTH_PCT %" | tee -a "$work/raw.txt"
    else
      fails+=("the heap in use grew $hgrowth % after the warm-up (bound $HEAP_GROWTH_PCT %)")
    fi
  fi
else
  fails+=("clients wrote no result")
fi

# Stop palaverd: LeakSanitizer runs at its exit.
exit_rc=
if kill -0 "$pid" 2>/dev/null; then
  warn=$(grep -cE '\b(warn|warning|error|critical)\b' "$work/stderr.log" || true)
  echo "palaverd: $warn warning/error log lines; last:" | tee -a "$work/raw.txt"
  grep -E '\b(warn|warning|error|critical)\b' "$work/stderr.log" | tail -n 5 | sed 's/^/  /' | tee -a "$work/raw.txt" || true
  t_stop=$SECONDS
  kill -TERM "$pid"
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    fails+=("palaverd did not exit within 120 s of SIGTERM")
  else
    set +e; wait "$pid"; exit_rc=$?; set -e
    echo "palaverd: exited $exit_rc $((SECONDS - t_stop)) s after SIGTERM" | tee -a "$work/raw.txt"
    [ "$exit_rc" = 0 ] || fails+=("palaverd exited $exit_rc")
  fi
else
  echo "palaverd (pid $pid) is gone: log tail:" | tee -a "$work/raw.txt"
  tail -n 20 "$work/stderr.log" | tee -a "$work/raw.txt"
  fails+=("palaverd died during the run")
fi
pid=
if compgen -G "$reports/palaverd.*" >/dev/null; then
  for f in "$reports"/palaverd.*; do
    echo "=== sanitizer report $(basename "$f") ===" | tee -a "$work/raw.txt"
    head -n 60 "$f" | tee -a "$work/raw.txt"
  done
  fails+=("sanitizer reports: $(ls "$reports" | wc -l) file(s)")
elif [ "$asan" = 1 ] && [ -n "$exit_rc" ]; then
  echo "check: no ASan/UBSan report, LeakSanitizer found no leak at exit" | tee -a "$work/raw.txt"
elif [ "$asan" = 0 ]; then
  echo "check: leak check skipped (not an ASan build)" | tee -a "$work/raw.txt"
fi

if [ ${#fails[@]} -eq 0 ]; then verdict="PASS"; else verdict="FAIL: $(IFS=';'; echo "${fails[*]}")"; fi
echo "result: $verdict" | tee -a "$work/raw.txt"

out=${OUT:-$root/docs/bench/soak-$(date +%F).md}
mkdir -p "$(dirname "$out")"
{
  echo "# Soak run, $(date +%F)"
  echo
  echo "Command: \`${PALAVERD_GIVEN:+PALAVERD=$PALAVERD_GIVEN }bench/soak.sh $all_args\` ($(nproc) cores, $(uname -r)," \
    "node $($NODE --version); palaverd on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU)."
  echo
  echo "Result: $verdict"
  echo
  echo "Raw output:"
  echo
  echo '```'
  cat "$work/raw.txt"
  echo '```'
} >"$out"
echo "saved: $out"
[ ${#fails[@]} -eq 0 ]
