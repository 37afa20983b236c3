#!/usr/bin/env bash
# Writes the development config (.dev/palaver.cfg) and state dir inside the checkout.
# Usage: scripts/dev-config.sh [build dir]   (the web apps are served from <build dir>/webui)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$root" && mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
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
root = $build/webui
CFG
fi
# Configs written before the web apps were built with Vite served the source folder.
sed -i "s|^root = $root/webui\$|root = $build/webui|" "$cfg"
echo "$cfg"
