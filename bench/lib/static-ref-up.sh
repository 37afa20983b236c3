#!/usr/bin/env bash
# Copied from the shared tools (../shared/tools) so the benchmark does not depend on ../shared.
# static-ref-up.sh - start the reference static-file servers (Caddy, nginx) on loopback
# over HTTPS/HTTP2 with a self-signed ECDSA P-256 cert, or any other server command under
# the same start-up measurement; then print one key=value line per server.
#
# Usage:
#   static-ref-up.sh [options] [caddy] [nginx]         # default: both
#   static-ref-up.sh [options] --start LABEL PORT -- CMD [ARGS...]   # any server (your own)
#   static-ref-up.sh --stop DIR                         # stop what was started with that DIR
#
# Options (defaults in brackets):
#   --dir DIR          state dir: cert, configs, logs, pid list   [new /tmp/static-ref.XXXXXX]
#   --site DIR         document root                               [/tmp/site-bench]
#   --cpu LIST         start the servers under taskset -c LIST; "none" = no pinning [1]
#                      (Go sizes GOMAXPROCS from that mask: 1 CPU -> GOMAXPROCS=1)
#   --caddy-port P     [9443]       --nginx-port P   [9444]
#   --nginx-workers N  nginx worker_processes                      [2]
#   --cert F --key F   use this cert/key instead of making one in DIR
#
# Output, one line per server:
#   label=caddy url=https://127.0.0.1:9443 pid=123 pids="123" cpus=1 start_to_first_200_ms=91.1
#     probes=25 idle_rss_kb=35684 idle_pss_kb=33002 threads=7
# and STATIC_REF_DIR=... / CERT=... lines. start_to_first_200_ms: from just before
# fork/exec of the server to the first "200" on GET /index.html over TLS (python ssl
# client, HTTP/1.1, polled every 1 ms). idle_*: sum over the process and its children
# 2 s after that first response (RSS double-counts pages shared by nginx's master and
# workers; PSS does not).
#
# What it runs (configs are written to DIR):
#   caddy run --config DIR/Caddyfile --adapter caddyfile   (HOME/XDG dirs -> DIR/caddy-home)
#       global: admin off, auto_https off, default log -> discard, servers { protocols h1 h2 }
#       site:   https://127.0.0.1:P, https://localhost:P { bind 127.0.0.1; tls CERT KEY;
#               root * SITE; file_server { precompressed gzip } }   (no access log)
#   nginx -c DIR/nginx.conf -p DIR/nginx   (daemon off, master + N workers)
#       listen 127.0.0.1:P ssl http2; ssl_protocols TLSv1.2 TLSv1.3; sendfile on;
#       tcp_nopush on; gzip_static on; access_log off; keepalive_requests 1000000
#
# Requires: openssl, python3 (start-up probe), caddy and/or nginx (apt-get install caddy nginx),
# taskset, ss. Never touches the packages' own services or /etc configs.
set -u
die() { echo "static-ref-up: $*" >&2; exit 2; }

# ---------- stop ----------
if [ "${1:-}" = --stop ]; then
  D=${2:-}; [ -n "$D" ] && [ -f "$D/pids" ] || die "--stop DIR (DIR/pids not found)"
  while read -r label pid exe; do
    [ -n "$pid" ] || continue
    if [ -r "/proc/$pid/exe" ] && [ "$(readlink -f /proc/$pid/exe)" = "$exe" ]; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; echo "stopped $label pid=$pid (KILL)"; else echo "stopped $label pid=$pid"; fi
    else
      echo "$label pid=$pid already gone"
    fi
  done <"$D/pids"
  : >"$D/pids"
  exit 0
fi

DIR=""; SITE=/tmp/site-bench; CPU=1; CPORT=9443; NPORT=9444; NWORK=2; CERT=""; KEY=""
WANT=(); CUSTOM=""; CLABEL=""; CPORT_X=""; CCMD=(); PROBE_PATH=/index.html
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2;;
    --site) SITE=${2%/}; shift 2;;
    --cpu) CPU=$2; shift 2;;
    --caddy-port) CPORT=$2; shift 2;;
    --nginx-port) NPORT=$2; shift 2;;
    --nginx-workers) NWORK=$2; shift 2;;
    --cert) CERT=$2; shift 2;;
    --key) KEY=$2; shift 2;;
    --probe-path) PROBE_PATH=$2; shift 2;;  # palaver: palaverd serves the site under /meet/
    --start) CUSTOM=1; CLABEL=$2; CPORT_X=$3; shift 3
             [ "${1:-}" = -- ] || die "--start LABEL PORT -- CMD [ARGS...]"; shift; CCMD=("$@"); set --;;
    caddy|nginx) WANT+=("$1"); shift;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0;;
    *) die "unknown argument $1";;
  esac
done
[ -n "$CUSTOM" ] || [ ${#WANT[@]} -gt 0 ] || WANT=(caddy nginx)
[ -f "$SITE/index.html" ] || die "$SITE/index.html missing (static-h2-bench.sh --make-site $SITE)"
command -v python3 >/dev/null || die "python3 needed for the start-up probe"
[ "$CPU" = none ] || command -v taskset >/dev/null || die "taskset not found"
if [ -z "$DIR" ]; then DIR=$(mktemp -d /tmp/static-ref.XXXXXX); else mkdir -p "$DIR" || die "cannot create $DIR"; fi
DIR=$(cd "$DIR" && pwd); SITE=$(cd "$SITE" && pwd)
touch "$DIR/pids"

if [ -z "$CERT" ]; then
  CERT=$DIR/cert.pem; KEY=$DIR/key.pem
  if [ ! -s "$CERT" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KEY" -out "$CERT" \
      -days 365 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
      -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
      -addext "basicConstraints=critical,CA:FALSE" >/dev/null 2>&1 || die "openssl req failed"
    chmod 644 "$KEY"   # nginx workers (www-data) do not read it, but keep it simple for any server
  fi
fi
echo "STATIC_REF_DIR=$DIR"
echo "CERT=$CERT KEY=$KEY"

cat >"$DIR/startprobe.py" <<'PYEOF'
import sys, time, socket, ssl, subprocess
host, port, path, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cmd = sys.argv[sys.argv.index('--') + 1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['http/1.1'])
lf = open(log, 'ab')
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
deadline = t0 + 20; ok = 0; tries = 0
while time.monotonic() < deadline:
    tries += 1
    try:
        s = socket.create_connection((host, port), timeout=1)
        ss = ctx.wrap_socket(s, server_hostname='localhost')
        ss.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        data = ss.recv(64); ss.close()
        if data.startswith(b'HTTP/1.1 200'):
            ok = 1; break
    except (OSError, ssl.SSLError):
        pass
    if p.poll() is not None:
        break
    time.sleep(0.001)
t1 = time.monotonic()
print('%d %.1f %d %d' % (p.pid, (t1 - t0) * 1000, ok, tries), flush=True)
PYEOF

start_one() {   # label port -- cmd...
  local label=$1 port=$2; shift 3
  ss -Htln "sport = :$port" | grep -q . && die "port $port is already in use"
  local pin=(); [ "$CPU" = none ] || pin=(taskset -c "$CPU")
  local out pid ms ok tries exe
  out=$(python3 "$DIR/startprobe.py" 127.0.0.1 "$port" "$PROBE_PATH" "$DIR/$label.log" -- "${pin[@]}" "$@")
  read -r pid ms ok tries <<<"$out"
  [ -n "$pid" ] || die "$label: probe failed"
  exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null)
  [ -n "$exe" ] && echo "$label $pid $exe" >>"$DIR/pids"
  if [ "$ok" != 1 ]; then
    echo "static-ref-up: $label did not answer 200 within 20 s; log $DIR/$label.log:" >&2; tail -5 "$DIR/$label.log" >&2
    return 1
  fi
  sleep 2
  local pids p kids rss=0 pss=0 thr=0 v
  kids=$(ps -o pid= --ppid "$pid" | tr '\n' ' ')
  pids="$pid $kids"
  for p in $pids; do
    v=$(awk '/^VmRSS:/{print $2}' /proc/$p/status 2>/dev/null); rss=$((rss + ${v:-0}))
    v=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null); pss=$((pss + ${v:-0}))
    v=$(awk '/^Threads:/{print $2}' /proc/$p/status 2>/dev/null); thr=$((thr + ${v:-0}))
  done
  echo "label=$label url=https://127.0.0.1:$port pid=$pid pids=\"$(echo $pids)\" cpus=$(awk '/^Cpus_allowed_list/{print $2}' /proc/$pid/status) start_to_first_200_ms=$ms probes=$tries idle_rss_kb=$rss idle_pss_kb=$pss threads=$thr"
}

if [ -n "$CUSTOM" ]; then
  [ ${#CCMD[@]} -gt 0 ] || die "--start needs a command after --"
  start_one "$CLABEL" "$CPORT_X" -- "${CCMD[@]}"
  exit $?
fi

rc=0
for w in "${WANT[@]}"; do
  case "$w" in
  caddy)
    command -v caddy >/dev/null || die "caddy not found (apt-get install caddy)"
    mkdir -p "$DIR/caddy-home"
    cat >"$DIR/Caddyfile" <<EOF
{
	admin off
	auto_https off
	log default {
		output discard
	}
	servers {
		protocols h1 h2
	}
}

https://127.0.0.1:$CPORT, https://localhost:$CPORT {
	bind 127.0.0.1
	tls $CERT $KEY
	root * $SITE
	file_server {
		precompressed gzip
	}
}
EOF
    start_one caddy "$CPORT" -- env HOME="$DIR/caddy-home" XDG_DATA_HOME="$DIR/caddy-home" XDG_CONFIG_HOME="$DIR/caddy-home" \
      "$(command -v caddy)" run --config "$DIR/Caddyfile" --adapter caddyfile || rc=1
    ;;
  nginx)
    command -v nginx >/dev/null || die "nginx not found (apt-get install nginx)"
    mkdir -p "$DIR/nginx/logs" "$DIR/nginx/tmp"
    cat >"$DIR/nginx.conf" <<EOF
worker_processes $NWORK;
daemon off;
master_process on;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/logs/error.log warn;
worker_rlimit_nofile 16384;
events {
    worker_connections 8192;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    gzip_static on;
    client_body_temp_path $DIR/nginx/tmp/body;
    proxy_temp_path $DIR/nginx/tmp/proxy;
    fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
    scgi_temp_path $DIR/nginx/tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    server {
        listen 127.0.0.1:$NPORT ssl http2;
        server_name localhost 127.0.0.1;
        root $SITE;
        index index.html;
    }
}
EOF
    nginx -t -q -c "$DIR/nginx.conf" -p "$DIR/nginx" 2>&1 | grep -v 'could not open error log' >&2
    start_one nginx "$NPORT" -- "$(command -v nginx)" -c "$DIR/nginx.conf" -p "$DIR/nginx" || rc=1
    ;;
  esac
done
echo "# stop with: $0 --stop $DIR"
exit $rc
