#!/usr/bin/env bash
# turn.sh — palaverd's built-in TURN server (module `turn`) against coturn, side by side in one run
# (issue #5 targets on a 2-core machine: palaverd at most half of coturn's server CPU per relayed
# message, and a zero-loss knee at least 1.5× coturn's).
#
# Load: coturn's own client, turnutils_uclient, with REST credentials (-W) against an echo peer
# (turnutils_peer): client → TURN → peer → TURN → client, so every echoed message crosses the
# relay twice (2 datagrams in and 2 out at the server). Paced ladders: -z 1 (1 000 msg/s per
# allocation), -m growing, ChannelData (-c: no RTCP companion allocations), -l 200 bytes.
# -n defaults to 6000: uclient starts each session 1–6 s (random) after connecting them all, so
# with -z 1 only sessions of ≥ 6 000 messages are all sending at once for at least a second
# (with -n 3000 the best second of -m 10 is ~7 500 msg/s, not 10 000).
#
# Per repeat both servers are started fresh (temp dirs; uclient leaks one probe allocation per
# session, so fresh servers give both the same history), then for each ladder step coturn and
# palaverd take turns (repeat 1: coturn first, repeat 2: palaverd first, …), then the extra shapes
# (TCP to the server: -t; Send indications: -s; at --shape-m allocations). Medians over repeats.
#
#   coturn 4.6 (Debian's turnserver): -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1
#     --min-port=49152 --max-port=65535 --use-auth-secret --static-auth-secret=S --realm=test
#     --no-tls --no-dtls --no-cli --allow-loopback-peers --fingerprint, own --db and --pidfile;
#     relay threads: coturn's default (one per core: 2 here) unless --coturn-opts says otherwise.
#   palaverd: minimal config (temp state_dir, https_port = 0, [turn] listen = 127.0.0.1:PORT,
#     tls_listen = (none), allow_loopback_peers, threads = --threads, unauthenticated_per_second
#     = 0, max_allocations_per_user = 0), the same secret in <state_dir>/turn_secret.
# Neither is pinned: client, peer and both servers share the machine's cores.
#
# Measured per run: offered msg/s (m × 1000/z), best 1-s and average echoed msg/s (uclient's
# per-second counters), loss %, RTT avg/max (uclient, ms resolution), server CPU seconds
# (utime+stime of all its threads, /proc/<pid>/stat, before/after) and µs per echoed message,
# best 1-s server CPU %, kernel drops on the server's / the peer's / the client's UDP sockets
# (`ss -uamp` d counters, sampled each second), machine-wide UDP RcvbufErrors/SndbufErrors
# (/proc/net/snmp), client CPU, and the CPU other processes used meanwhile (/proc/stat busy time
# minus steal, server, client and peer; softirq and steal shown apart) to tell whether the machine was
# otherwise busy. Per server and repeat: RSS and CPU when idle after start, max RSS under load
# (VmRSS sampled each second), VmHWM (palaverd's includes its start-up peak), RSS at the end, threads.
# palaverd's palaver_turn_* metrics are diffed around each run (palaver_turn_dropped_total by reason) and dumped
# at the end of each repeat.
# Zero-loss knee: the highest step with median loss 0 below the step from which on every step is
# lossy (an isolated lossy step below it — a stall of the client or peer — is reported, not taken
# as the knee), given as that step's median best-second echoed msg/s. The same with "loss" read
# as drops by the server (kernel drops on its own sockets, palaverd's palaver_turn_dropped_total): the
# server knee. The defaults take ~17 minutes.
#
# Usage: bench/turn.sh [--palaverd PATH] [--ladder 40,60,80,100,120] [--repeat 3] [-n 6000]
#        [-l 200] [-z 1] [--shape-m 40] [--shapes tcp,send|none] [--threads 2]
#        [--coturn-opts "--relay-threads=N ..."] [--out FILE]
# Env:   PALAVERD (same as --palaverd; default build/appliance/palaverd), KEEP=1 (keep the temp
#        dir with logs), PERF=DIR (after the last repeat, one extra run per server at PERF_M
#        allocations (default 40) with -n 20000 and `perf record -g` (999 Hz, 10 s at full rate)
#        on the server; not in the tables; a summary of `perf report` goes into the raw output),
#        OUT (= --out).
# Needs: turnserver, turnutils_uclient, turnutils_peer (apt-get install coturn; the package's
#        service is not used), ss (iproute2), curl, python3 (standard library), GNU time.
# Loopback only; every uclient run is bounded by `timeout`, every wait by a count.
# Results: printed; tables + raw lines go to docs/bench/turn-<date>.md (or --out / OUT).
# Exit status 0 when every run completed (uclient exit 0), else 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

PALAVERD_ENV=${PALAVERD:-}
PALAVERD=${PALAVERD:-$root/build/appliance/palaverd}
ladder=40,60,80,100,120
repeat=3
msgs=6000
len=200
interval=1
shape_m=40
shapes=tcp,send
threads=2
coturn_opts=""
out=${OUT:-}
given=()
while [ $# -gt 0 ]; do
  case "$1" in
    --palaverd) PALAVERD=$2; given+=("$1" "$2"); shift 2 ;;
    --ladder) ladder=$2; given+=("$1" "$2"); shift 2 ;;
    --repeat) repeat=$2; given+=("$1" "$2"); shift 2 ;;
    -n) msgs=$2; given+=("$1" "$2"); shift 2 ;;
    -l) len=$2; given+=("$1" "$2"); shift 2 ;;
    -z) interval=$2; given+=("$1" "$2"); shift 2 ;;
    --shape-m) shape_m=$2; given+=("$1" "$2"); shift 2 ;;
    --shapes) shapes=$2; given+=("$1" "$2"); shift 2 ;;
    --threads) threads=$2; given+=("$1" "$2"); shift 2 ;;
    --coturn-opts) coturn_opts=$2; given+=("$1" "'$2'"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,52p' "$0"; exit 0 ;;
    *) echo "turn.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
[ "$interval" -ge 1 ] 2>/dev/null || { echo "turn.sh: -z must be ≥ 1 (paced runs; bursts are too noisy to compare)" >&2; exit 2; }
[ "$shapes" = none ] && shapes=""
[ -x "$PALAVERD" ] || { echo "turn.sh: $PALAVERD is not executable: build palaverd first (./dev build), or pass --palaverd" >&2; exit 2; }
for tool in turnserver turnutils_uclient turnutils_peer ss curl python3 timeout; do
  command -v "$tool" >/dev/null || { echo "turn.sh: $tool not found (apt-get install coturn iproute2 curl python3)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "turn.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out=${out:-$root/docs/bench/turn-$(date +%F).md}
command_line="${PALAVERD_ENV:+PALAVERD=$PALAVERD_ENV }${PERF:+PERF=$PERF }${PERF_M:+PERF_M=$PERF_M }bench/turn.sh${given[*]:+ ${given[*]}}"

work=$(mktemp -d /tmp/palaver-turn-bench.XXXXXX)
peer_pid=; coturn_pid=; palaverd_pid=; load_pid=
kill_tree() {  # pid: TERM it and its descendants (by id)
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null || true
}
stop_pid() {  # pid: TERM, wait up to 10 s, KILL
  local p=$1
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  [ -n "$load_pid" ] && kill_tree "$load_pid"
  stop_pid "$coturn_pid"; stop_pid "$palaverd_pid"; stop_pid "$peer_pid"
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

raw=$work/raw.txt
log() { echo "$*" | tee -a "$raw"; }

# A UDP+TCP port on 127.0.0.1 nobody listens on, in [lo, lo+span).
free_port() {
  local lo=$1 span=$2 p
  for _ in $(seq 50); do
    p=$((lo + RANDOM % span))
    [ -n "$(ss -Hlun "sport = :$p")" ] && continue
    [ -n "$(ss -Hltn "sport = :$p")" ] && continue
    echo "$p"; return 0
  done
  return 1
}

machine_load() {  # one line: load average, CPU busy over 2 s, the busiest processes meanwhile
  local a b
  a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat)
  local top_now
  top_now=$(top -b -n 2 -d 2 -o %CPU -w 200 2>/dev/null | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && c < 4 { printf "%s%s %s%%", (c++ ? ", " : ""), $12, $9 }' || true)
  b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat)
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min); CPU busy over 2 s: $(echo "$a $b" | awk '{ t = $5 - $2; printf "%.0f %% (100 %% = one core, %d cores; steal %.0f %%)", (t > 0 ? ($4 - $1) * 100 * NC / t : 0), NC, (t > 0 ? ($6 - $3) * 100 * NC / t : 0) }' NC="$(nproc)"); busiest: $top_now"
}

log "# $command_line — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r) — $(turnserver --version 2>/dev/null | head -n1 | sed 's/^/coturn /') — palaverd $("$PALAVERD" --version 2>/dev/null | head -n1 || echo '?') ($PALAVERD)"
log "before: $(machine_load)"

# --- the echo peer (one for the whole run, shared by both servers) -----------------------------
peer_port=
for _ in $(seq 8); do
  pp=$(free_port 40000 9000) || continue
  turnutils_peer -L 127.0.0.1 -p "$pp" >"$work/peer.log" 2>&1 &
  peer_pid=$!
  sleep 0.3
  if kill -0 "$peer_pid" 2>/dev/null && [ "$(ss -Hlunp "sport = :$pp" | grep -c .)" = 1 ]; then peer_port=$pp; break; fi
  stop_pid "$peer_pid"; peer_pid=
done
[ -n "$peer_port" ] || { echo "turn.sh: could not start turnutils_peer" >&2; exit 1; }

secret=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')

# --- servers -------------------------------------------------------------------------------------
start_coturn() {  # $1 = run dir; sets coturn_pid, coturn_port
  local dir=$1
  mkdir -p "$dir"
  coturn_port=$(free_port 20000 5000)
  # shellcheck disable=SC2086
  turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$coturn_port" \
    --min-port=49152 --max-port=65535 --use-auth-secret --static-auth-secret="$secret" --realm=test \
    --no-tls --no-dtls --no-cli --allow-loopback-peers --fingerprint \
    --db="$dir/turndb" --pidfile="$dir/turnserver.pid" --log-file=stdout --simple-log $coturn_opts \
    >"$dir/coturn.log" 2>&1 &
  coturn_pid=$!
  for _ in $(seq 100); do
    kill -0 "$coturn_pid" 2>/dev/null || { tail -n 20 "$dir/coturn.log" >&2; echo "turn.sh: turnserver exited" >&2; exit 1; }
    case "$(ss -Hlunp "sport = :$coturn_port")" in *"pid=$coturn_pid,"*) return 0 ;; esac
    sleep 0.1
  done
  echo "turn.sh: turnserver did not start listening" >&2; exit 1
}

start_palaverd() {  # $1 = run dir; sets palaverd_pid, palaverd_port, https_port
  local dir=$1
  mkdir -p "$dir/state"
  palaverd_port=$(free_port 25000 5000)
  (umask 077; echo "$secret" >"$dir/state/turn_secret")
  cat >"$dir/palaver.cfg" <<EOF
[palaver]
hostnames = localhost
state_dir = $dir/state
listen = 127.0.0.1
https_port = 0
http_port = 0
http_redirect = no

[web]
root = $root/webui

[turn]
listen = 127.0.0.1:$palaverd_port
tls_listen =
allow_loopback_peers = true
threads = $threads
unauthenticated_per_second = 0
max_allocations_per_user = 0
EOF
  "$PALAVERD" --config "$dir/palaver.cfg" >"$dir/stdout.log" 2>"$dir/stderr.log" &
  palaverd_pid=$!
  https_port=
  for _ in $(seq 150); do
    kill -0 "$palaverd_pid" 2>/dev/null || { tail -n 20 "$dir/stderr.log" >&2; echo "turn.sh: palaverd exited" >&2; exit 1; }
    if grep -q "turn ready" "$dir/stderr.log" && [ -s "$dir/state/runtime.json" ]; then
      https_port=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["https_port"] if j["pid"] == int(sys.argv[2]) else "")' \
        "$dir/state/runtime.json" "$palaverd_pid" 2>/dev/null || true)
      [ -n "$https_port" ] && return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$dir/stderr.log" >&2; echo "turn.sh: palaverd did not become ready" >&2; exit 1
}

metrics() {  # palaverd's palaver_turn_* lines
  curl -sk --max-time 5 "https://127.0.0.1:$https_port/metrics" | grep '^palaver_turn_' || true
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
threads_of() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
thread_ticks() {  # "tid ticks" for every thread of pid $1
  local t
  for t in /proc/"$1"/task/*; do echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)"; done
}
# /proc/stat: busy (user nice system irq softirq steal) softirq steal, in ticks
cpu_line() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $8, $9 }' /proc/stat; }
# RcvbufErrors SndbufErrors, IPv4 + IPv6, machine-wide
udp_errs() {
  awk '/^Udp:/ { if (h) { for (i = 2; i <= NF; i++) { if (k[i] == "RcvbufErrors") r = $i; if (k[i] == "SndbufErrors") s = $i } }
                 else { h = 1; for (i = 2; i <= NF; i++) k[i] = $i } }
       END { print r + 0, s + 0 }' /proc/net/snmp
}
# kernel drops (ss d counter) summed over the sockets of: the server pid, the peer pid, uclient;
# then the server's listening sockets (port $2) alone
sock_drops() {
  ss -Huanmp 2>/dev/null | paste - - | awk -v s="$1" -v port="$2" -v p="$peer_pid" '
    { d = 0; if (match($0, /,d[0-9]+\)/)) d = substr($0, RSTART + 2, RLENGTH - 3) + 0
      if (index($0, "pid=" s ",")) { sd += d; if ($4 ~ (":" port "$")) ld += d }
      else if (index($0, "pid=" p ",")) pd += d; else if (index($0, "turnutils_uclie")) cd += d }
    END { print sd + 0, pd + 0, cd + 0, ld + 0 }'
}

# --- one uclient run -----------------------------------------------------------------------------
# run LABEL SERVER(coturn|palaverd) PID PORT SHAPE M [extra uclient flags]
fail=0
run() {
  local label=$1 server=$2 spid=$3 port=$4 shape=$5 m=$6
  shift 6
  local id="$label-$server-$shape-m$m"
  local args=(-W "$secret" -u bench -p "$port" -e 127.0.0.1 -r "$peer_port" -c -m "$m" -n "$msgs" -l "$len" -z "$interval" "$@")
  # connect (~0.1–0.2 s per allocation, sequential) + start spread 6 s + sending + 10 s grace if
  # anything was lost, plus margin
  local tmo=$((msgs * interval / 1000 + m / 3 + 45))
  [ "$tmo" -gt 600 ] && tmo=600
  local hz; hz=$(getconf CLK_TCK)
  [ "$server" = palaverd ] && metrics >"$work/$id.m0"
  ( for _ in $(seq $((tmo + 5))); do echo "$(date +%s%N) $(ticks "$spid") $(sock_drops "$spid" "$port") $(status_kb "$spid" VmRSS)"; sleep 1; done ) >"$work/$id.samples" &
  local sampler=$!
  local c0 peer0 cpu0 udp0 t0 rc=0
  thread_ticks "$spid" >"$work/$id.threads0"
  c0=$(ticks "$spid"); peer0=$(ticks "$peer_pid"); cpu0=$(cpu_line); udp0=$(udp_errs); t0=$(date +%s%N)
  # in the background, so that an interrupted benchmark can stop it (cleanup)
  /usr/bin/time -f "%U %S" -o "$work/$id.time" timeout "$tmo" turnutils_uclient "${args[@]}" 127.0.0.1 >"$work/$id.log" 2>&1 &
  load_pid=$!
  wait "$load_pid" || rc=$?
  load_pid=
  local c1 peer1 cpu1 udp1 t1
  c1=$(ticks "$spid"); peer1=$(ticks "$peer_pid"); cpu1=$(cpu_line); udp1=$(udp_errs); t1=$(date +%s%N)
  thread_ticks "$spid" >"$work/$id.threads1"
  # CPU seconds of the three busiest threads during the run (relay-thread balance)
  local per_thread
  per_thread=$(awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { a[$1] = $2; next } { print ($2 - a[$1]) / hz }' "$work/$id.threads0" "$work/$id.threads1" |
    sort -rn | head -n 3 | awk '{ printf "%s%.2f", (NR > 1 ? "/" : ""), $1 }')
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  local mdiff=""
  if [ "$server" = palaverd ]; then
    # drops and relayed packets during this run, only the counters that moved (each relay thread
    # exports its counters once a second: wait for the last export)
    sleep 2
    metrics >"$work/$id.m1"
    mdiff=$(awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if (d != 0 && ($1 ~ /dropped|relayed_packets/)) { k = $1; gsub(/palaver_turn_|_total|_packets|reason=|direction=|"|\}/, "", k); sub(/\{/, ".", k); printf "%s%s:%d", (n++ ? "," : ""), k, d } }' \
      "$work/$id.m0" "$work/$id.m1")
  fi
  kill -0 "$spid" 2>/dev/null || { log "turn.sh: $server (pid $spid) died during $id"; rc=99; }
  [ "$rc" = 0 ] || fail=1
  local line
  line=$(awk -v label="$label" -v server="$server" -v shape="$shape" -v m="$m" -v n="$msgs" -v l="$len" -v z="$interval" \
      -v rc="$rc" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v p0="$peer0" -v p1="$peer1" -v hz="$hz" \
      -v cpu0="$cpu0" -v cpu1="$cpu1" -v udp0="$udp0" -v udp1="$udp1" -v nproc="$(nproc)" \
      -v clif="$work/$id.time" -v samplef="$work/$id.samples" -v mdiff="$mdiff" -v per_thread="$per_thread" '
    function num(s) { gsub(/[^0-9.]/, "", s); return s + 0 }
    /start_mclient: msz=/ {
      t = $1 + 0; split($0, a, /tot_recv_msgs=/); r = num(substr(a[2], 1, index(a[2], ",") - 1))
      if (have && t > lt) { d = (r - lr) / (t - lt); if (d > peak) peak = d }
      if (r > 0 && first_t == "") { first_t = lt; first_r = lr }
      if (have && r > lr) last_t = t
      lt = t; lr = r; have = 1
    }
    /start_mclient: tot_send_msgs=/ { split($0, a, /tot_send_msgs=|, tot_recv_msgs=/); sent = num(a[2]); recv = num(a[3]) }
    /Total lost packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") { lost = num($(i + 1)); break } }
    /Average round trip delay/ { for (i = 1; i <= NF; i++) { if ($i == "delay") rtt = $(i + 1); if ($i == "max") rmax = num($(i + 2)) } }
    END {
      wall = (t1 - t0) / 1e9
      if (recv == "") recv = lr + 0
      if (sent == "") sent = 0
      active = (first_t != "" && last_t > first_t) ? last_t - first_t : 0
      avg = active > 0 ? (recv - first_r) / active : 0
      srv = (c1 - c0) / hz
      getline cli < clif; split(cli, cc, " "); clis = cc[1] + cc[2]
      split(cpu0, u0, " "); split(cpu1, u1, " ")
      busy = (u1[1] - u0[1]) / hz; sirq = (u1[2] - u0[2]) / hz; steal = (u1[3] - u0[3]) / hz
      peer = (p1 - p0) / hz
      # softirq ticks are also charged to the process they interrupted: not subtracted again
      other = busy - steal - srv - peer - clis; if (other < 0) other = 0
      split(udp0, e0, " "); split(udp1, e1, " ")
      pk = 0; pt = ""; sd0 = ""; sdm = 0; pdm = 0; cdm = 0
      while ((getline s < samplef) > 0) {
        split(s, v, " ")
        if (pt != "" && v[1] > pt) { x = (v[2] - pc) * 100.0 / hz / ((v[1] - pt) / 1e9); if (x > pk) pk = x }
        pt = v[1]; pc = v[2]
        if (sd0 == "") { sd0 = v[3]; pd0 = v[4]; ld0 = v[6] }
        if (v[3] - sd0 > sdm) sdm = v[3] - sd0; if (v[4] - pd0 > pdm) pdm = v[4] - pd0; if (v[5] + 0 > cdm) cdm = v[5] + 0
        if (v[6] - ld0 > ldm) ldm = v[6] - ld0
        if (v[7] + 0 > rss) rss = v[7] + 0
      }
      ok = (rc == 0 && recv > 0) ? "ok" : "FAIL(rc=" rc ")"
      lossp = sent > 0 ? (sent - recv) * 100.0 / sent : 100
      printf "label=%s server=%s shape=%s m=%d n=%d l=%d z=%d status=%s offered_msg_s=%d sent=%d recv=%d loss_pct=%.3f", \
        label, server, shape, m, n, l, z, ok, m * 1000 / z, sent, recv, lossp
      printf " peak_msg_s=%.0f avg_msg_s=%.0f rtt_avg_ms=%.2f rtt_max_ms=%s wall_s=%.1f", peak, avg, rtt + 0, (rmax == "" ? "na" : rmax), wall
      printf " srv_cpu_s=%.2f srv_us_per_msg=%.2f srv_cpu_peak_pct=%.0f srv_top_threads_cpu_s=%s srv_rss_max_kb=%d srv_sock_drops=%d srv_listener_drops=%d peer_sock_drops=%d cli_sock_drops=%d", \
        srv, (recv > 0 ? srv * 1e6 / recv : 0), pk, per_thread, rss, sdm, ldm, pdm, cdm
      printf " udp_rcvbuf_errs=%d udp_sndbuf_errs=%d cli_cpu_pct=%.0f peer_cpu_pct=%.0f other_cpu_pct=%.0f softirq_pct=%.0f steal_pct=%.0f", \
        e1[1] - e0[1], e1[2] - e0[2], (wall > 0 ? clis * 100 / wall : 0), (wall > 0 ? peer * 100 / wall : 0), \
        (wall > 0 ? other * 100 / wall : 0), (wall > 0 ? sirq * 100 / wall : 0), (wall > 0 ? steal * 100 / wall : 0)
      if (mdiff != "") printf " palaverd=%s", mdiff
      printf "\n"
    }' "$work/$id.log")
  log "$line"
  if [ "$rc" != 0 ]; then
    grep -iE 'error|cannot|fail' "$work/$id.log" | head -n 3 | sed 's/^/  uclient: /' | tee -a "$raw" || true
  fi
  [ "$server" = palaverd ] || sleep 2
}

server_stats() {  # label server pid: one line of memory figures
  log "label=$1 server=$2 event=$3 rss_kb=$(status_kb "$4" VmRSS) hwm_kb=$(status_kb "$4" VmHWM) threads=$(threads_of "$4")"
}

# --- repeats ---------------------------------------------------------------------------------------
for r in $(seq "$repeat"); do
  rdir=$work/r$r
  start_coturn "$rdir/coturn"
  start_palaverd "$rdir/palaverd"
  [ "$r" = 1 ] && log "coturn: $(grep -m1 -oE 'Net Engine version: .*' "$rdir/coturn/coturn.log" || true); $(grep -m1 -oE 'Total General servers: [0-9]+' "$rdir/coturn/coturn.log" || true) (relay threads; extra options: ${coturn_opts:-none}); palaverd: $(grep -m1 -oE 'turn ready.*' "$rdir/palaverd/stderr.log")"
  # idle: 3 s after start, and the CPU each uses meanwhile
  ci=$(ticks "$coturn_pid"); pi=$(ticks "$palaverd_pid"); sleep 3
  log "label=r$r server=coturn event=idle cpu_pct_idle=$(( ($(ticks "$coturn_pid") - ci) * 100 / $(getconf CLK_TCK) / 3 )) rss_kb=$(status_kb "$coturn_pid" VmRSS) hwm_kb=$(status_kb "$coturn_pid" VmHWM) threads=$(threads_of "$coturn_pid")"
  log "label=r$r server=palaverd event=idle cpu_pct_idle=$(( ($(ticks "$palaverd_pid") - pi) * 100 / $(getconf CLK_TCK) / 3 )) rss_kb=$(status_kb "$palaverd_pid" VmRSS) hwm_kb=$(status_kb "$palaverd_pid" VmHWM) threads=$(threads_of "$palaverd_pid")"
  both() {  # shape m flags...: both servers, the first one alternating per repeat
    if [ $((r % 2)) = 1 ]; then
      run "r$r" coturn "$coturn_pid" "$coturn_port" "$@"; run "r$r" palaverd "$palaverd_pid" "$palaverd_port" "$@"
    else
      run "r$r" palaverd "$palaverd_pid" "$palaverd_port" "$@"; run "r$r" coturn "$coturn_pid" "$coturn_port" "$@"
    fi
  }
  for m in ${ladder//,/ }; do both udp "$m"; done
  for s in ${shapes//,/ }; do
    case "$s" in
      tcp) both tcp "$shape_m" -t ;;
      send) both send "$shape_m" -s ;;
      *) echo "turn.sh: unknown shape $s (tcp, send)" >&2; exit 2 ;;
    esac
  done
  sleep 2
  server_stats "r$r" coturn end "$coturn_pid"
  server_stats "r$r" palaverd end "$palaverd_pid"
  if [ "$r" = "$repeat" ] && [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    mkdir -p "$PERF"
    pm=${PERF_M:-40}
    for pair in "coturn $coturn_pid $coturn_port" "palaverd $palaverd_pid $palaverd_port"; do
      set -- $pair
      # -n 20000: every session sends from ~6 s after the connect phase for ~15 s; record 10 s of it
      ( for _ in $(seq 600); do grep -q "Total connect time" "$work/perf-$1-udp-m$pm.log" 2>/dev/null && break; sleep 0.2; done
        sleep 7; exec perf record -e cpu-clock -F 999 -g -p "$2" -o "$PERF/$1.data" -- sleep 10 ) >"$work/perf-$1.out" 2>&1 &
      pp=$!
      msgs=20000 run "perf" "$1" "$2" "$3" udp "$pm"
      wait "$pp" 2>/dev/null || true
      { echo "perf ($1, -m $pm -n 20000, 10 s at full rate, $PERF/$1.data): samples by DSO; then, with children, the syscalls and the kernel UDP paths"
        timeout 120 perf report -i "$PERF/$1.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^#? *Samples|^ +[0-9]' | head -n 7 || true
        timeout 120 perf report -i "$PERF/$1.data" --children --sort sym --stdio -g none 2>/dev/null |
          grep -E '\] (__x64_sys_[a-z_]+|udp_sendmsg|udp_recvmsg|net_rx_action|do_softirq[.a-z0-9]*|ip_route_output_key_hash|__ip_select_ident)$' |
          grep -E '^ +[0-9]' | head -n 16 || true
      } | tee -a "$raw" || true
    done
  fi
  {
    echo "palaverd palaver_turn_* metrics at the end of repeat $r:"
    metrics | sed 's/^/  /'
    echo "palaverd log: $(grep -cE '\b(warn|warning|error|critical)\b' "$rdir/palaverd/stderr.log" || true) warning/error lines$(grep -E '\b(warn|warning|error|critical)\b' "$rdir/palaverd/stderr.log" | tail -n 3 | sed 's/^/; /' | tr -d '\n')"
    echo "coturn log: $(grep -ciE 'error|cannot' "$rdir/coturn/coturn.log" || true) error lines$(grep -iE 'error|cannot' "$rdir/coturn/coturn.log" | grep -v 'Protocol not supported' | tail -n 3 | sed 's/^/; /' | tr -d '\n')"
  } | tee -a "$raw" || true
  stop_pid "$coturn_pid"; coturn_pid=
  stop_pid "$palaverd_pid"; palaverd_pid=
done
log "after: $(machine_load)"

# --- report ------------------------------------------------------------------------------------------
python3 - "$raw" "$ladder" "$repeat" >"$work/table.md" <<'PY'
import re, statistics, sys
raw, ladder, repeat = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3])
runs, mem = [], []
for line in open(raw):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if "status" in kv and kv.get("label", "").startswith("r"):
        runs.append(kv)
    elif kv.get("event") in ("idle", "end"):
        mem.append(kv)

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def f(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x).replace(",", " ")

def num(kv, k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None

servers = ["coturn", "palaverd"]
def cell(server, shape, m, key):
    return med([num(r, key) for r in runs if r["server"] == server and r["shape"] == shape and int(r["m"]) == m])

def group(server, shape, m):
    return [r for r in runs if r["server"] == server and r["shape"] == shape and int(r["m"]) == m]

print(f"Medians of {repeat} repeat(s); µs/msg = server CPU (user+sys, all threads) per echoed message "
      "(two relayed datagrams); sock drops = kernel drops on the server's / peer's / client's UDP sockets; "
      "client / peer / other CPU = averages over the run's wall time (uclient; turnutils_peer; every other "
      "process on the machine), 100 % = one core.\n")
cols = ("| -m | offered msg/s | peak echoed msg/s | avg msg/s | loss % | RTT avg / max ms | server CPU s | "
        "µs/msg | server CPU peak | server sock drops | peer / client sock drops | UDP rcvbuf errs | client / peer CPU | other CPU | failed runs |")
sep = "|" + "---:|" * 15
rows = {}
for server in servers:
    print(f"**{server}**\n")
    print(cols)
    print(sep)
    shapes = [("udp", m) for m in ladder]
    shapes += sorted({(r["shape"], int(r["m"])) for r in runs if r["shape"] != "udp"})
    for shape, m in shapes:
        g = group(server, shape, m)
        if not g:
            continue
        c = lambda k: cell(server, shape, m, k)
        rows[(server, shape, m)] = {k: c(k) for k in ("loss_pct", "peak_msg_s", "srv_us_per_msg", "srv_cpu_s", "recv")}
        failed = sum(1 for r in g if r["status"] != "ok")
        name = f"{m}" if shape == "udp" else f"{m} ({shape})"
        print(f"| {name} | {f(c('offered_msg_s'))} | {f(c('peak_msg_s'))} | {f(c('avg_msg_s'))} | {f(c('loss_pct'), '{:.3f}')} | "
              f"{f(c('rtt_avg_ms'), '{:.2f}')} / {f(c('rtt_max_ms'))} | {f(c('srv_cpu_s'), '{:.2f}')} | {f(c('srv_us_per_msg'), '{:.1f}')} | "
              f"{f(c('srv_cpu_peak_pct'))} % | {f(c('srv_sock_drops'))} | {f(c('peer_sock_drops'))} / {f(c('cli_sock_drops'))} | "
              f"{f(c('udp_rcvbuf_errs'))} | {f(c('cli_cpu_pct'))} / {f(c('peer_cpu_pct'))} % | {f(c('other_cpu_pct'))} % | {failed} of {len(g)} |")
    print()

# memory
print("| server | idle CPU | RSS after start | max RSS under load (sampled each second) | VmHWM (incl. start-up) | RSS at the end (idle; leaked probe allocations held) | threads |")
print("|---|---:|---:|---:|---:|---:|---:|")
for server in servers:
    idle = [m for m in mem if m["server"] == server and m["event"] == "idle"]
    end = [m for m in mem if m["server"] == server and m["event"] == "end"]
    g = lambda l, k: med([num(x, k) for x in l])
    mb = lambda v: "—" if v is None else f"{v / 1024:.1f} MB"
    per_repeat = {}
    for r in runs:
        if r["server"] == server and num(r, "srv_rss_max_kb"):
            per_repeat[r["label"]] = max(per_repeat.get(r["label"], 0), num(r, "srv_rss_max_kb"))
    print(f"| {server} | {f(g(idle, 'cpu_pct_idle'))} % | {mb(g(idle, 'rss_kb'))} | {mb(med(list(per_repeat.values())))} | {mb(g(end, 'hwm_kb'))} | "
          f"{mb(g(end, 'rss_kb'))} | {f(g(end, 'threads'))} |")
print()

# ratios
print("| -m | palaverd / coturn µs per message | coturn loss % | palaverd loss % |")
print("|---|---:|---:|---:|")
ratios = []
keys = sorted({(s, m) for (_, s, m) in rows}, key=lambda k: (k[0] != "udp", k[0], k[1]))
for shape, m in keys:
    a, b = rows.get(("coturn", shape, m)), rows.get(("palaverd", shape, m))
    if not a or not b or not a["srv_us_per_msg"] or b["srv_us_per_msg"] is None:
        continue
    q = b["srv_us_per_msg"] / a["srv_us_per_msg"]
    if shape == "udp":
        ratios.append(q)
    name = f"{m}" if shape == "udp" else f"{m} ({shape})"
    print(f"| {name} | {q:.2f}× | {f(a['loss_pct'], '{:.3f}')} | {f(b['loss_pct'], '{:.3f}')} |")
print()

def total_us(server):
    g = [r for r in runs if r["server"] == server and r["shape"] == "udp"]
    cpu = sum(num(r, "srv_cpu_s") or 0 for r in g)
    msgs = sum(num(r, "recv") or 0 for r in g)
    return cpu * 1e6 / msgs if msgs else None

def server_drops(r):
    d = num(r, "srv_sock_drops") or 0
    for part in r.get("palaverd", "").split(","):
        if part.startswith("dropped."):
            d += float(part.split(":")[1])
    return d

def step_value(server, m, fn):
    return med([fn(r) for r in group(server, "udp", m)])

def knee(server, fn):
    """(knee step, its peak msg/s) or None, the first step of persistent loss or None, isolated lossy steps."""
    steps = [m for m in ladder if group(server, "udp", m)]
    lossy = [step_value(server, m, fn) > 0 for m in steps]
    i = len(steps)
    while i > 0 and lossy[i - 1]:
        i -= 1
    k = (steps[i - 1], rows[(server, "udp", steps[i - 1])]["peak_msg_s"]) if i > 0 else None
    return k, (steps[i] if i < len(steps) else None), [m for m, x in zip(steps[:i], lossy[:i]) if x]

tc, tp = total_us("coturn"), total_us("palaverd")
if ratios:
    print(f"- CPU per echoed message over the whole ladder (all repeats): coturn {f(tc, '{:.1f}')} µs, palaverd {f(tp, '{:.1f}')} µs → "
          f"**{tp / tc:.2f}×** (per step {min(ratios):.2f}–{max(ratios):.2f}×, median {statistics.median(ratios):.2f}×); target ≤ 0.50×: "
          f"**{'met' if tp / tc <= 0.5 else 'not met'}**.")

def describe(k, persistent, isolated):
    if k is None:
        return f"none (loss from -m {persistent} on)"
    s = f"-m {k[0]} ({f(k[1])} echoed msg/s)"
    s += f", lossy from -m {persistent} on" if persistent else ", nothing lost up to the top of the ladder: a lower bound"
    if isolated:
        s += f" (isolated lossy step{'s' if len(isolated) > 1 else ''} below: -m {', '.join(map(str, isolated))})"
    return s

for title, fn in (("Zero-loss knee (messages lost anywhere, median)", lambda r: num(r, "loss_pct")),
                  ("Server knee (drops on the server's own sockets or inside it, median)", server_drops)):
    (kc, pc, ic), (kp, pp, ip) = knee("coturn", fn), knee("palaverd", fn)
    line = f"- {title}: coturn {describe(kc, pc, ic)}; palaverd {describe(kp, pp, ip)}."
    if kc and kp:
        q = kp[1] / kc[1]
        if pp is None and pc is not None:
            bound, verdict = "≥ ", "met" if q >= 1.5 else "undetermined (palaverd's knee is above the ladder: extend it)"
        elif pc is None and pp is not None:
            bound, verdict = "≤ ", "not met"
        elif pc is None and pp is None:
            bound, verdict = "", "undetermined (neither knee is on the ladder: extend it)"
        else:
            bound, verdict = "", "met" if q >= 1.5 else "not met"
        line += f" Ratio palaverd / coturn: **{bound}{q:.2f}×** (target ≥ 1.5×: {verdict})."
    print(line)
PY
cat "$work/table.md"

mkdir -p "$(dirname "$out")"
{
  echo "# TURN benchmark, $(date +%F)"
  echo
  echo "Command: \`$command_line\` ($(nproc) cores, $(uname -r); $(turnserver --version 2>/dev/null | head -n1 | sed 's/^/coturn /'); palaverd $PALAVERD)."
  echo "Load: \`turnutils_uclient -W <secret> -u bench -p <port> -e 127.0.0.1 -r <peer port> -c -m M -n $msgs -l $len -z $interval [-t|-s] 127.0.0.1\`"
  echo "against one \`turnutils_peer -L 127.0.0.1\`; servers, client and peer unpinned on the same $(nproc) cores."
  echo
  cat "$work/table.md"
  echo
  echo "Raw output:"
  echo
  echo '```'
  cat "$raw"
  echo '```'
} >"$out"
echo "saved: $out"
exit "$fail"
