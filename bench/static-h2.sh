#!/usr/bin/env bash
# static-h2.sh — palaverd vs nginx vs Caddy serving the same web-app bundle (a few hundred KB of
# JS/CSS with .gz variants) over TLS 1.3 + HTTP/2 on loopback, same certificate, every server
# pinned to CPU 1 and h2load to CPU 0, servers alternating in each set (A B C A B C ...).
#
# Usage: bench/static-h2.sh [static-h2-bench.sh options, e.g. --runs 3 --sets small,mix]
# Needs: a built palaverd (./dev build), nginx, caddy, nghttp2-client (h2load) — `./dev bench`
# installs them and runs this script. Loopback only; every run is bounded (h2load -n, timeouts).
# Results: printed; also kept in bench/results/static-h2-<date>.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PALAVERD=${PALAVERD:-$root/build/appliance/palaverd}
[ -x "$PALAVERD" ] || { echo "static-h2.sh: build palaverd first (./dev build)" >&2; exit 2; }
PPORT=${PPORT:-9445}

work=$(mktemp -d /tmp/palaver-bench.XXXXXX)
chmod 755 "$work"   # nginx workers (www-data) must read the site
ref="$work/ref"
cleanup() { "$here/lib/static-ref-up.sh" --stop "$ref" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

www="$work/www"
mkdir -p "$www"
"$here/lib/static-h2-bench.sh" --make-site "$www/meet" >/dev/null
cp "$www/meet/index.html" "$www/index.html"   # the reference starter checks SITE/index.html

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" >/dev/null 2>&1

cat > "$work/palaver.cfg" <<CFG
[palaver]
hostnames = localhost
state_dir = $work/state
listen = 127.0.0.1
https_port = $PPORT
http_redirect = no
log_level = warn
workers = 1
# h2load's handshake set opens 2000 connections from 127.0.0.1 at once; the default per-address
# limit (256) would refuse most of them, as it should for one client in production.
max_connections_per_ip = 100000
[tls]
certificate = $work/cert.pem
key = $work/key.pem
watch_interval = 0
[web]
root = $www
CFG

mkdir -p "$root/bench/results"
out="$root/bench/results/static-h2-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# bench/static-h2.sh $* — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -r)"
  echo "# palaverd $("$PALAVERD" --version | cut -d' ' -f2), $(nginx -v 2>&1), caddy $(caddy version 2>/dev/null | cut -d' ' -f1)"
  "$here/lib/static-ref-up.sh" --dir "$ref" --site "$www" --cpu 1 --nginx-workers 1 \
    --cert "$work/cert.pem" --key "$work/key.pem" --probe-path /meet/index.html nginx caddy
  "$here/lib/static-ref-up.sh" --dir "$ref" --site "$www" --cpu 1 --probe-path /meet/index.html \
    --start palaver "$PPORT" -- "$PALAVERD" --config "$work/palaver.cfg"
  "$here/lib/static-h2-bench.sh" --client-cpu 0 "$@" "$www/meet" \
    nginx=https://127.0.0.1:9444/meet palaver=https://127.0.0.1:$PPORT/meet caddy=https://127.0.0.1:9443/meet
} 2>&1 | tee "$out"
echo "saved: $out"
