#!/usr/bin/env bash
# Copied from the shared tools (../shared/tools); palaver change: targets may carry a path prefix.
# static-h2-bench.sh - side-by-side static-file benchmark over HTTPS / HTTP/2 (h2load).
#
# Usage:
#   static-h2-bench.sh [options] SITE_DIR LABEL=https://HOST:PORT [LABEL=https://HOST:PORT ...]
#   static-h2-bench.sh --make-site DIR      # write the standard test site (deterministic), then exit
#
#   SITE_DIR  the directory every target serves as its document root. Used to pick the
#             URIs and to check, before any load, that each target returns the right
#             bytes (identity and precompressed .gz).
#   targets   loopback only: 127.x.x.x, localhost or [::1]; anything else is refused.
#             The first target is the reference for the ratios.
#
# Sets (run in this order; each set: run 1 of every target, then run 2, ... = A B A B A B):
#   small  GET /index.html, no accept-encoding      -n SMALL_N -c C -m M   (per-request cost)
#   big    GET largest *.js that has a .gz sibling,
#          accept-encoding: gzip                    -n BIG_N -c C -m M     (bulk transfer)
#   mix    every file of the site (index.html first,
#          .gz/.br excluded) in turn via -i,
#          accept-encoding: gzip, deflate, br       -n MIX_N -c C -m M     (SPA page loads)
#   hs     GET /index.html once per connection      -c HS_N -n HS_N -m 1  (full TLS 1.3
#          handshakes: h2load opens all HS_N connections at once, no session resumption)
#   lat    GET /index.html, 1 client, 1 stream      -c 1 -m 1 -n LAT_N   (unloaded latency)
#
# Options (defaults in brackets):
#   --sets LIST        comma list of small,big,mix,hs,lat              [small,big,mix,hs,lat]
#   --runs N           repetitions per set and target                   [3]
#   -c N / -m N        clients / max concurrent streams for small,big,mix [50 / 10]
#   -t N               h2load threads                                   [1]
#   --small-n N --big-n N --mix-n N --hs-n N --lat-n N                  [200000 40000 90000 2000 5000]
#   --client-cpu LIST  taskset CPU list for h2load; "none" = no pinning  [0]
#   --pin-server LIST  before the runs, re-pin every thread of each target's server
#                      processes with taskset -a -p (better: start the server under
#                      taskset, so its thread pools size themselves to that) [no]
#   --pid LABEL=PID[,PID...]  server processes whose CPU is measured (children are
#                      added). Default: every process listening on the target's TCP port
#                      (ss -ltnp) plus their children.
#   --timeout S        hard limit for each h2load run                   [300]
#   --pause S          sleep between runs                              [1]
#   --out DIR          keep h2load outputs and per-request logs there   [temp dir, removed]
#   --no-verify        skip the content check
#
# Output: one line per run, then one median line per set and target, then ratio lines
# (target / first target, per set). Keys:
#   req_s            requests/s as printed by h2load ("finished in ..."); for hs = new
#                    connections (full handshakes + 1 request) per second
#   mb_s             h2load's total traffic rate (headers + bodies as received)
#   p50_ms p99_ms    per-request latency percentiles from h2load --log-file (time from
#                    sending the request to the end of the response). Under closed-loop
#                    load (small/big/mix) they mostly restate Little's law:
#                    in-flight (c*m) / req_s; `lat` is the unloaded figure.
#   mean_ms sd_ms    h2load's "time for request" mean / sd
#   conn_mean_ms     h2load's "time for connect" mean (TCP + TLS handshake)
#   srv_cpu_s        user+sys CPU of the server processes during the run (/proc/PID/stat)
#   srv_cpu_pct      srv_cpu_s / wall (100 = one core busy)
#   srv_us_per_req   server CPU microseconds per request (hs: per connection) - the
#                    fairest single figure when client and server share the machine
#   cli_cpu_pct      h2load's own CPU / wall; bound=client when h2load used >=90 % of a
#                    core (with a 1-core pin) and the server did not - then req_s is
#                    h2load's limit and only srv_us_per_req compares the servers
#   status           ok | FAIL(reason)   (any failed/errored stream or non-2xx is FAIL)
#
# Requires: h2load (apt-get install nghttp2-client), curl, ss (iproute2), taskset
# (util-linux), awk, sort; python3 only for --make-site.
set -u

die() { echo "static-h2-bench: $*" >&2; exit 2; }

make_site() {
  local d=$1
  command -v python3 >/dev/null || die "--make-site needs python3"
  mkdir -p "$d" || die "cannot create $d"
  python3 - "$d" <<'PYEOF' || die "site generator failed"
# Deterministic single-page-app bundle (same bytes on every machine and run).
import random, sys, os
PHR = 0.6
def js(rng, size, pool_n):
    kw = ["function","return","var","let","const","if","else","for","while","new","this","typeof","null","undefined","true","false","void 0","instanceof","switch","case","break","default","throw","try","catch","Object.assign","Array.isArray","Promise.resolve","document.createElement","window","exports","module","prototype","length","push","call","apply","bind","concat","indexOf","slice","Symbol.iterator"]
    alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
    pool = ["".join(rng.choice(alpha) for _ in range(rng.randint(1,3))) for _ in range(pool_n)]
    words = ["data","value","props","state","render","component","update","children","key","ref","type","name","options","config","handler","event","target","index","result","error","message","callback","element","style","className","context","store","dispatch","action","payload","request","response","headers","status","items","user","session","token","room","meeting","participant","stream","track"]
    def tok():
        r = rng.random()
        if r < 0.22: t = rng.choice(kw)
        elif r < 0.55: t = rng.choice(pool)
        elif r < 0.70: t = rng.choice(words) + (rng.choice(pool) if rng.random()<0.3 else "")
        elif r < 0.80: t = str(rng.randint(0, 99999 if rng.random()<0.3 else 255))
        elif r < 0.86: t = '"' + rng.choice(words) + ("-" + rng.choice(pool) if rng.random()<0.5 else "") + '"'
        else: t = rng.choice(["(",")","{","}","[","]",";",",",".","=","===","!==","&&","||","?",":","=>","+","-","*","!","(e,t,n)","{return ","},"])
        return t + rng.choice(["", "", "", ".", "(", ")", ",", ";", "=", "{", "}", ":"])
    phrases = ["".join(tok() for _ in range(rng.randint(3,9))) for _ in range(pool_n//3)]
    out=[]; n=0
    while n < size:
        t = rng.choice(phrases) if rng.random() < PHR else tok()
        out.append(t); n += len(t)
    return ("".join(out)[:size-1] + "\n").encode()
def css(rng, size):
    props = ["display:flex","display:none","margin:0","padding:0 8px","color:#333","color:#fff","background:#0f62fe","font-size:14px","font-weight:600","border:1px solid #ddd","border-radius:4px","position:absolute","top:0","left:0","width:100%","height:100%","align-items:center","justify-content:space-between","overflow:hidden","z-index:10","opacity:.5","transition:opacity .2s ease-in-out","box-shadow:0 1px 2px rgba(0,0,0,.2)","line-height:1.4","cursor:pointer"]
    out=[]; n=0
    while n < size:
        sel = "." + "-".join(rng.choice(["app","btn","room","video","grid","tile","chat","msg","header","footer","nav","icon","menu","item","list","panel","modal","toolbar","avatar","name","status"]) for _ in range(rng.randint(1,3)))
        if rng.random()<0.2: sel += rng.choice([":hover",":focus"," > span"," .icon","--active","--disabled"])
        body = ";".join(rng.choice(props) for _ in range(rng.randint(1,6)))
        t = "%s{%s}\n" % (sel, body); out.append(t); n += len(t)
    return "".join(out)[:size-1].encode() + b"\n"
d = sys.argv[1]
rng = random.Random(20240501)
os.makedirs(os.path.join(d, "assets"), exist_ok=True)
files = {}
files["assets/app.js"] = js(rng, 180*1024, 3000)
files["assets/vendor.js"] = js(rng, 60*1024, 1500)
files["assets/chunk.js"] = js(rng, 20*1024, 800)
files["assets/app.css"] = css(rng, 30*1024)
for i in range(1, 5):
    b = bytearray(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x40\x00\x00\x00\x40\x08\x06\x00\x00\x00")
    b += bytes(rng.getrandbits(8) for _ in range(5*1024 - len(b) - 12))
    b += b"\x00\x00\x00\x00IEND\xaeB`\x82"
    files["assets/icon%d.png" % i] = bytes(b)
html = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="Static single-page app bundle used to benchmark HTTPS/HTTP2 static file serving.">
<meta name="theme-color" content="#0f62fe">
<title>Meeting - benchmark bundle</title>
<link rel="icon" type="image/png" href="/assets/icon1.png">
<link rel="preload" href="/assets/vendor.js" as="script">
<link rel="preload" href="/assets/app.js" as="script">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"><div class="app-loading"><img src="/assets/icon2.png" alt="" width="64" height="64"><p>Loading&hellip;</p></div></div>
<script>window.__APP_CONFIG__={"apiBase":"/api/v1","wsPath":"/ws","features":{"chat":true,"screenshare":true,"recording":false},"build":"20240501.1"};</script>
<script src="/assets/vendor.js" defer></script>
<script src="/assets/chunk.js" defer></script>
<script src="/assets/app.js" defer></script>
"""
pad = 2048 - len(html.encode()) - len("</body>\n</html>\n") - len("<!--  -->\n")
html += "<!-- " + ("lorem ipsum dolor sit amet consectetur adipiscing elit " * 40)[:max(pad, 0)] + " -->\n</body>\n</html>\n"
files["index.html"] = html.encode()
for name, data in files.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
PYEOF
  # precompressed variants (gzip -9, no name/time so the bytes are reproducible)
  (cd "$d" && for f in index.html assets/*.js assets/*.css; do gzip -9 -n -k -f "$f"; done) || die "gzip failed"
  (cd "$d" && find . -type f -printf '%s %P\n' | sort -k2)
  exit 0
}

SETS=small,big,mix,hs,lat; RUNS=3; C=50; M=10; T=1
SMALL_N=200000; BIG_N=40000; MIX_N=90000; HS_N=2000; LAT_N=5000
CLIENT_CPU=0; PIN_SERVER=""; TMO=300; PAUSE=1; OUT=""; VERIFY=1
declare -A PIDSPEC=()
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --make-site) [ $# -ge 2 ] || die "--make-site DIR"; make_site "$2";;
    --sets) SETS=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    -c) C=$2; shift 2;;
    -m) M=$2; shift 2;;
    -t) T=$2; shift 2;;
    --small-n) SMALL_N=$2; shift 2;;
    --big-n) BIG_N=$2; shift 2;;
    --mix-n) MIX_N=$2; shift 2;;
    --hs-n) HS_N=$2; shift 2;;
    --lat-n) LAT_N=$2; shift 2;;
    --client-cpu) CLIENT_CPU=$2; shift 2;;
    --pin-server) PIN_SERVER=$2; shift 2;;
    --pid) PIDSPEC[${2%%=*}]=${2#*=}; shift 2;;
    --timeout) TMO=$2; shift 2;;
    --pause) PAUSE=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --no-verify) VERIFY=0; shift;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0;;
    -*) die "unknown option $1";;
    *) POS+=("$1"); shift;;
  esac
done
[ ${#POS[@]} -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
SITE=${POS[0]%/}
[ -f "$SITE/index.html" ] || die "$SITE/index.html not found (make one with --make-site DIR)"
for b in h2load curl ss awk sort; do command -v $b >/dev/null || die "$b not found"; done
[ "$CLIENT_CPU" != none ] && { command -v taskset >/dev/null || die "taskset not found"; }
[ "$TMO" -gt 600 ] && TMO=600

# ---- targets (loopback only) ----
LABELS=(); URLS=(); HOSTS=(); PORTS=()
for spec in "${POS[@]:1}"; do
  case "$spec" in *=https://*) ;; *) die "target must be LABEL=https://HOST:PORT (got $spec)";; esac
  label=${spec%%=*}; url=${spec#*=}; url=${url%/}
  hp=${url#https://}; hp=${hp%%/*}
  case "$hp" in
    \[*\]:*) host=${hp%%]:*}; host=${host#[}; port=${hp##*]:};;
    *:*) host=${hp%:*}; port=${hp##*:};;
    *) die "$spec: give the port explicitly";;
  esac
  case "$host" in
    localhost|::1|127.[0-9]*.[0-9]*.[0-9]*) ;;
    *) die "refusing non-loopback target '$host' ($label): only 127.0.0.0/8, localhost and [::1]";;
  esac
  [[ "$host" =~ ^(localhost|::1|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})$ ]] || die "refusing target host '$host'"
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port in $spec"
  [[ "$label" =~ ^[A-Za-z0-9_.-]+$ ]] || die "label '$label': use letters, digits, _ . -"
  LABELS+=("$label"); URLS+=("$url"); HOSTS+=("$host"); PORTS+=("$port")  # palaver: keep a path prefix (/meet)
done
NT=${#LABELS[@]}

if [ -n "$OUT" ]; then mkdir -p "$OUT" || die "cannot create $OUT"; WORK=$OUT; KEEP=1
else WORK=$(mktemp -d /tmp/static-h2-bench.XXXXXX); KEEP=0; fi
cleanup() { [ "$KEEP" = 0 ] && rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- URIs from the site ----
BIG=$(cd "$SITE" && find . -type f -name '*.js' -printf '%s %P\n' | sort -rn | while read -r s f; do [ -f "$f.gz" ] && { echo "$f"; break; }; done)
[ -n "$BIG" ] || BIG=$(cd "$SITE" && find . -type f ! -name '*.gz' ! -name '*.br' -printf '%s %P\n' | sort -rn | head -1 | cut -d' ' -f2-)
MIXFILES=(index.html)
while IFS= read -r f; do [ "$f" = index.html ] || MIXFILES+=("$f"); done < <(cd "$SITE" && find . -type f ! -name '*.gz' ! -name '*.br' -printf '%P\n' | LC_ALL=C sort)
for f in "${MIXFILES[@]}"; do [[ "$f" =~ ^[A-Za-z0-9_./-]+$ ]] || die "site file name '$f' needs URL-encoding; rename it"; done

# ---- server processes ----
pids_for() {   # $1 = target index -> space-separated PIDs (listeners + their children)
  local i=$1 base p kids
  if [ -n "${PIDSPEC[${LABELS[$i]}]:-}" ]; then base=${PIDSPEC[${LABELS[$i]}]//,/ }
  else base=$(ss -Htlnp "sport = :${PORTS[$i]}" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un | tr '\n' ' '); fi
  kids=""; for p in $base; do kids="$kids $(ps -o pid= --ppid "$p" 2>/dev/null | tr '\n' ' ')"; done
  echo $base $kids | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -un | tr '\n' ' '
}
cpu_ticks() { local s=0 p v; for p in $1; do v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
rss_kb() { local s=0 p v; for p in $1; do v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
HZ=$(getconf CLK_TCK)

declare -a SPIDS
for i in $(seq 0 $((NT-1))); do
  SPIDS[$i]=$(pids_for "$i")
  [ -n "${SPIDS[$i]// /}" ] || echo "static-h2-bench: warning: no server process found for ${LABELS[$i]} (port ${PORTS[$i]}); CPU columns will be 0 (use --pid)" >&2
  if [ -n "$PIN_SERVER" ]; then
    for p in ${SPIDS[$i]}; do taskset -a -p -c "$PIN_SERVER" "$p" >/dev/null || die "taskset -a -p $PIN_SERVER $p failed"; done
  fi
  aff=""; for p in ${SPIDS[$i]}; do aff="$aff $(awk '/^Cpus_allowed_list/{print $2}' /proc/$p/status 2>/dev/null)"; done
  echo "# target ${LABELS[$i]} ${URLS[$i]} pids=[${SPIDS[$i]% }] cpus=[$(echo $aff | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')] rss_kb=$(rss_kb "${SPIDS[$i]}")"
done
echo "# h2load $(h2load --version 2>/dev/null | awk '{print $NF}') pinned to CPU ${CLIENT_CPU}; c=$C m=$M t=$T runs=$RUNS sets=$SETS; site=$SITE big=/$BIG mix=${#MIXFILES[@]} files; host $(nproc) CPUs"

# ---- content check: every mix file, identity and gzip, byte counts must match ----
if [ "$VERIFY" = 1 ]; then
  for i in $(seq 0 $((NT-1))); do
    bad=0
    for f in "${MIXFILES[@]}"; do
      want=$(stat -c %s "$SITE/$f")
      got=$(curl -sk --http2 --max-time 10 -o /dev/null -w '%{http_code} %{size_download} %{http_version}' "${URLS[$i]}/$f")
      [ "$got" = "200 $want 2" ] || { echo "static-h2-bench: ${LABELS[$i]} /$f identity: want '200 $want 2' got '$got'" >&2; bad=1; }
      if [ -f "$SITE/$f.gz" ]; then
        want=$(stat -c %s "$SITE/$f.gz")
        got=$(curl -sk --http2 --max-time 10 -H 'accept-encoding: gzip' -o /dev/null -w '%{http_code} %{size_download}' "${URLS[$i]}/$f")
        # a server that compresses on the fly may differ in size; precompressed serving matches exactly
        [ "$got" = "200 $want" ] || echo "static-h2-bench: note: ${LABELS[$i]} /$f gzip: $got bytes vs $want in $f.gz (not the precompressed file?)" >&2
      fi
    done
    [ "$bad" = 0 ] || die "${LABELS[$i]} does not serve $SITE correctly over HTTP/2; not benchmarking it (--no-verify to skip)"
  done
fi

# ---- one run ----
RESULTS=$WORK/results.txt; : >"$RESULTS"
run_one() {   # $1 set, $2 target index, $3 run number
  local set=$1 i=$2 r=$3 url=${URLS[$2]} label=${LABELS[$2]} args tag rc c0 c1 t0 t1 cli pids uri
  tag="$WORK/${set}-${label}-${r}"
  case "$set" in
    small) args=(-n "$SMALL_N" -c "$C" -m "$M" -t "$T" "$url/index.html");;
    big)   args=(-n "$BIG_N" -c "$C" -m "$M" -t "$T" -H 'accept-encoding: gzip' "$url/$BIG");;
    mix)   local pfx=""; [[ "$url" =~ ^https://[^/]+(/.*)$ ]] && pfx=${BASH_REMATCH[1]}  # palaver: keep the prefix
           { echo "$url/${MIXFILES[0]}"; for uri in "${MIXFILES[@]:1}"; do echo "$pfx/$uri"; done; } >"$WORK/mix-$label.txt"
           args=(-n "$MIX_N" -c "$C" -m "$M" -t "$T" -H 'accept-encoding: gzip, deflate, br' -i "$WORK/mix-$label.txt");;
    hs)    args=(-n "$HS_N" -c "$HS_N" -m 1 -t "$T" "$url/index.html");;
    lat)   args=(-n "$LAT_N" -c 1 -m 1 -t 1 "$url/index.html");;
  esac
  local pin=(); [ "$CLIENT_CPU" != none ] && pin=(taskset -c "$CLIENT_CPU")
  pids=${SPIDS[$i]}
  c0=$(cpu_ticks "$pids"); t0=$(date +%s%N)
  local TIMEFORMAT='%U %S'
  { time { timeout "$TMO" "${pin[@]}" h2load --log-file="$tag.log" "${args[@]}" >"$tag.out" 2>&1; echo $? >"$tag.rc"; }; } 2>"$tag.time"
  rc=$(cat "$tag.rc" 2>/dev/null || echo 1)
  t1=$(date +%s%N); c1=$(cpu_ticks "$pids")
  cli=$(tail -1 "$tag.time")
  # percentiles of column 3 (us) for 2xx rows
  local pct
  pct=$(awk -F'\t' '$2 >= 200 && $2 < 300 {print $3}' "$tag.log" 2>/dev/null | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.3f %.3f", a[int((NR-1)*0.5)+1]/1000, a[int((NR-1)*0.99)+1]/1000; else print "- -"}')
  awk -v label="$label" -v set="$set" -v r="$r" -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
      -v cli="$cli" -v rc="$rc" -v pct="$pct" -v rss="$(rss_kb "$pids")" -v pinned="$CLIENT_CPU" '
    function ms(s,  v) { v = s; sub(/[a-z]+$/, "", v); v += 0
      if (s ~ /us$/) return v / 1000; if (s ~ /ms$/) return v; if (s ~ /s$/) return v * 1000; return v }
    /^finished in/ { fin = ms(substr($3, 1, length($3) - 1)) / 1000; rps = $4 + 0; mbs = $6; sub(/,$/, "", mbs)
      if (mbs ~ /GB\/s$/) mbs *= 1024; else if (mbs ~ /KB\/s$/) mbs /= 1024; else if (mbs ~ /B\/s$/ && mbs !~ /MB/) mbs /= 1048576; else mbs += 0 }
    /^requests:/ { total = $2; succ = $8; failed = $10; errored = $12; tmo = $14 }
    /^status codes:/ { s2 = $3 + 0 }
    /^Application protocol:/ { proto = $3 }
    /^time for request:/ { rmean = ms($6); rsd = ms($7) }
    /^time for connect:/ { cmean = ms($6) }
    END {
      split(pct, p, " "); split(cli, cc, " ")
      wall = (t1 - t0) / 1e9; srv = (c1 - c0) / hz; clis = cc[1] + cc[2]
      st = "ok"
      if (rc == 124 || rc == 137) st = "FAIL(timeout)"
      else if (total == "") st = "FAIL(no-h2load-summary,rc=" rc ")"
      else if (proto != "h2") st = "FAIL(alpn=" proto ")"
      else if (failed + errored + tmo > 0 || s2 != total) st = sprintf("FAIL(failed=%d,errored=%d,timeout=%d,2xx=%d/%d)", failed, errored, tmo, s2, total)
      n = (s2 > 0) ? s2 : 1
      busy = (fin > 0) ? fin : wall
      bound = "-"
      if (pinned != "none" && clis / wall >= 0.9 && srv / busy < 0.9) bound = "client"
      else if (srv / busy >= 0.9) bound = "server"
      printf "label=%s set=%s run=%d status=%s reqs=%d req_s=%.0f mb_s=%.1f p50_ms=%s p99_ms=%s mean_ms=%.3f sd_ms=%.3f conn_mean_ms=%.2f wall_s=%.2f srv_cpu_s=%.2f srv_cpu_pct=%.0f srv_us_per_req=%.1f cli_cpu_pct=%.0f bound=%s srv_rss_kb=%d\n", \
        label, set, r, st, total, rps, mbs, p[1], p[2], rmean, rsd, cmean, fin, srv, 100 * srv / busy, 1e6 * srv / n, 100 * clis / wall, bound, rss
    }' "$tag.out" | tee -a "$RESULTS"
  [ "$KEEP" = 1 ] || rm -f "$tag.log"
}

IFS=, read -r -a SETLIST <<<"$SETS"
for set in "${SETLIST[@]}"; do
  case "$set" in small|big|mix|hs|lat) ;; *) die "unknown set $set";; esac
  for r in $(seq 1 "$RUNS"); do
    for i in $(seq 0 $((NT-1))); do
      # refresh PIDs (a server may have respawned workers)
      SPIDS[$i]=$(pids_for "$i")
      run_one "$set" "$i" "$r"
      sleep "$PAUSE"
    done
  done
done

# ---- medians and ratios ----
echo "# medians over $RUNS runs (per set and target); ratio = target / ${LABELS[0]}"
awk -v labels="${LABELS[*]}" -v sets="${SETLIST[*]}" '
  function med(key,   n, i, j, t, a) { n = split(vals[key], a, " "); if (n == 0) return "";
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  {
    delete kv; for (i = 1; i <= NF; i++) { split($i, q, "="); kv[q[1]] = substr($i, length(q[1]) + 2) }
    k = kv["label"] SUBSEP kv["set"]
    if (kv["status"] != "ok") { bad[k]++; next }
    for (f in kv) if (f ~ /^(req_s|mb_s|p50_ms|p99_ms|mean_ms|conn_mean_ms|srv_cpu_pct|srv_us_per_req|cli_cpu_pct)$/ && kv[f] != "-") vals[k SUBSEP f] = vals[k SUBSEP f] " " kv[f]
    if (!((k, kv["bound"]) in seenb)) { seenb[k, kv["bound"]] = 1; bnd[k] = bnd[k] (bnd[k] == "" ? "" : "/") kv["bound"] }
  }
  END {
    nl = split(labels, L, " "); ns = split(sets, S, " ")
    for (s = 1; s <= ns; s++) for (l = 1; l <= nl; l++) {
      k = L[l] SUBSEP S[s]
      printf "median label=%s set=%s req_s=%.0f mb_s=%.1f p50_ms=%s p99_ms=%s mean_ms=%s conn_mean_ms=%s srv_cpu_pct=%.0f srv_us_per_req=%.1f cli_cpu_pct=%.0f bound=%s failed_runs=%d\n", \
        L[l], S[s], med(k SUBSEP "req_s"), med(k SUBSEP "mb_s"), med(k SUBSEP "p50_ms"), med(k SUBSEP "p99_ms"), med(k SUBSEP "mean_ms"), \
        med(k SUBSEP "conn_mean_ms"), med(k SUBSEP "srv_cpu_pct"), med(k SUBSEP "srv_us_per_req"), med(k SUBSEP "cli_cpu_pct"), bnd[k], bad[k] + 0
    }
    for (s = 1; s <= ns; s++) for (l = 2; l <= nl; l++) {
      k0 = L[1] SUBSEP S[s]; k = L[l] SUBSEP S[s]
      r1 = med(k0 SUBSEP "req_s"); r2 = med(k SUBSEP "req_s"); u1 = med(k0 SUBSEP "srv_us_per_req"); u2 = med(k SUBSEP "srv_us_per_req")
      a1 = med(k0 SUBSEP "p50_ms"); a2 = med(k SUBSEP "p50_ms"); b1 = med(k0 SUBSEP "p99_ms"); b2 = med(k SUBSEP "p99_ms")
      printf "ratio %s/%s set=%s req_s=%s srv_us_per_req=%s p50_ms=%s p99_ms=%s\n", L[l], L[1], S[s], \
        (r1 > 0 ? sprintf("%.2f", r2 / r1) : "-"), (u1 > 0 ? sprintf("%.2f", u2 / u1) : "-"), (a1 > 0 ? sprintf("%.2f", a2 / a1) : "-"), (b1 > 0 ? sprintf("%.2f", b2 / b1) : "-")
    }
  }' "$RESULTS"
[ "$KEEP" = 1 ] && echo "# raw outputs in $WORK"
exit 0
