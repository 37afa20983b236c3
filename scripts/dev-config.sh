#!/usr/bin/env bash
# Writes the development config (.dev/palaver.cfg) and state dir inside the checkout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dev="$root/.dev"
mkdir -p "$dev/state"
cfg="$dev/palaver.cfg"
if [ ! -f "$cfg" ]; then
  cat > "$cfg" <<CFG
# Development config written by 'make run'. Edit freely; it is not tracked by git.
# Every key is documented in appliance/palaver.cfg.example.
[palaver]
hostnames = localhost
state_dir = $dev/state
https_port = 8443
http_port = 8080
log_level = info

[web]
root = $root/webui
CFG
fi
echo "$cfg"
