#!/usr/bin/env bash
# bench/idle.sh — start-up to the first 200 and the memory of an idle palaverd, for several
# binaries side by side in one run (e.g. today's build and the last commit before a change), each
# with the appliance's embedded defaults: local users in SQLite, the generated local CA, the
# built-in TURN server, every default module. Binaries alternate within each run (A B A B …), each
# start with a fresh state directory; loopback only, every wait bounded.
#
# Usage: bench/idle.sh [--runs N] [--idle-seconds S] [--port P] [--files N] LABEL=PALAVERD [...]
#   --runs          starts per binary (default 5)
#   --idle-seconds  how long each server idles after its first 200 before its memory is read
#                   (default 5)
#   --port          the HTTPS port (default 9447); TURN keeps its default ports, so nothing else
#                   may hold UDP/TCP 3478 and 5349 meanwhile
#   --files         also print, for each binary's last start, the N mapped files with the most
#                   resident pages (from /proc/PID/smaps: the binary itself, libcrypto, Poco, …)
# Prints one line per start (first_200_ms: exec to the first 200 from /healthz; rss_kb, anon_kb,
# file_kb: VmRSS, RssAnon and RssFile after the idle time; threads) and the medians per binary.
# Needs: curl; the web app is not needed (a stub page is served).
set -euo pipefail

runs=5 idle=5 port=9447 files=0
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --idle-seconds) idle=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "bench/idle.sh: unknown option $1" >&2; exit 2 ;;
    *=*) bins+=("$1"); shift ;;
    *) echo "bench/idle.sh: expected LABEL=PALAVERD, got '$1'" >&2; exit 2 ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || { echo "usage: bench/idle.sh [--runs N] [--idle-seconds S] LABEL=PALAVERD ..." >&2; exit 2; }
for b in "${bins[@]}"; do
  [ -x "${b#*=}" ] || { echo "bench/idle.sh: ${b#*=} is not an executable" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "bench/idle.sh: needs curl" >&2; exit 2; }

work=$(mktemp -d /tmp/palaver-idle.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www/meet"
echo '<!doctype html><title>idle</title>' > "$work/www/meet/index.html"
cp "$work/www/meet/index.html" "$work/www/index.html"

now_ms() { date +%s%3N; }
field_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }

echo "# bench/idle.sh --runs $runs --idle-seconds $idle — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r)"
results="$work/results"
: > "$results"
for ((r = 1; r <= runs; r++)); do
  for b in "${bins[@]}"; do
    label=${b%%=*} bin=${b#*=}
    state="$work/state-$label-$r"
    cat > "$work/palaver.cfg" <<CFG
[palaver]
hostnames = localhost
state_dir = $state
listen = 127.0.0.1
https_port = $port
http_redirect = no
log_level = warn
[web]
root = $work/www
CFG
    t0=$(now_ms)
    "$bin" --config "$work/palaver.cfg" > "$work/$label-$r.out" 2> "$work/$label-$r.err" &
    pid=$!
    first=""
    for _ in $(seq 1 1000); do  # 1000 probes, each at most 1 s (curl) plus 10 ms
      if [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "https://127.0.0.1:$port/healthz" 2>/dev/null)" = 200 ]; then
        first=$(($(now_ms) - t0))
        break
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.01
    done
    if [ -z "$first" ]; then
      echo "bench/idle.sh: $label did not answer 200 (run $r); its log:" >&2
      tail -n 20 "$work/$label-$r.err" >&2
      exit 1
    fi
    sleep "$idle"
    line="label=$label run=$r first_200_ms=$first rss_kb=$(field_kb VmRSS "$pid") anon_kb=$(field_kb RssAnon "$pid") file_kb=$(field_kb RssFile "$pid") threads=$(field_kb Threads "$pid")"
    echo "$line" | tee -a "$results"
    if [ "$files" -gt 0 ] && [ "$r" -eq "$runs" ]; then
      awk '/^[0-9a-f]+-[0-9a-f]+ / { file = (NF >= 6 ? $6 : "[anon]") }
           /^Rss:/ { rss[file] += $2 }
           END { for (f in rss) if (f ~ /^\//) printf "%d %s\n", rss[f], f }' "/proc/$pid/smaps" |
        sort -rn | head -n "$files" | while read -r kb f; do echo "file label=$label rss_kb=$kb $f"; done
    fi
    if ! kill -TERM "$pid" 2>/dev/null; then
      echo "bench/idle.sh: $label exited while idle (run $r); its log:" >&2
      tail -n 20 "$work/$label-$r.err" >&2
      exit 1
    fi
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  done
done

echo "# medians"
for b in "${bins[@]}"; do
  label=${b%%=*}
  python3 - "$label" "$results" <<'PY'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(path) if line.startswith(f"label={label} ")]
med = lambda k: statistics.median(int(r[k]) for r in rows)
print(f"label={label} starts={len(rows)} first_200_ms={med('first_200_ms'):.0f} rss_kb={med('rss_kb'):.0f} "
      f"anon_kb={med('anon_kb'):.0f} file_kb={med('file_kb'):.0f} threads={med('threads'):.0f}")
PY
done
