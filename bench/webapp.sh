#!/usr/bin/env bash
# bench/webapp.sh — the Meet web app's first screen (issue 13's benchmark): JavaScript + CSS bytes
# (gzip, as served) up to a usable main screen — target under 150 KB — and the time from navigation
# to that screen in headless Chromium on loopback with 4× CPU throttling, cold and warm, medians
# (bench/webapp.js has the details).
#
# A fresh palaverd (temp config and state, loopback; started by tests/integration/harness.py) serves
# the built app from <build>/webui; one user signs in once, then every run reloads the main screen.
# Usage: bench/webapp.sh [--runs 5] [--throttle 4]
# Env:   PALAVERD (default build/appliance/palaverd), PALAVER_WEBUI (default build/webui), CHROMIUM,
#        OUT (default docs/bench/webapp-<date>.json).
# Needs: a build (./dev build), node with tests/node/node_modules (playwright-core), /usr/bin/chromium.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export PALAVERD=${PALAVERD:-$root/build/appliance/palaverd}
export PALAVER_WEBUI=${PALAVER_WEBUI:-$root/build/webui}
export PALAVER_SOURCE=$root
[ -x "$PALAVERD" ] || { echo "webapp.sh: build palaverd first (./dev build), or set PALAVERD" >&2; exit 2; }
[ -f "$PALAVER_WEBUI/meet/index.html" ] || { echo "webapp.sh: the web app is not built ($PALAVER_WEBUI/meet)" >&2; exit 2; }
[ -d "$root/tests/node/node_modules/playwright-core" ] || { echo "webapp.sh: tests/node/node_modules missing (./dev test installs it)" >&2; exit 2; }
OUT=${OUT:-$root/docs/bench/webapp-$(date -u +%F).json}

timeout 900 python3 - "$@" <<'PY' | tee "$OUT.tmp"
import json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["PALAVER_SOURCE"], "tests", "integration"))
from harness import Palaverd
s = Palaverd(site=os.environ["PALAVER_WEBUI"], expect_start=False)
try:
    s.add_user("bench", "bench-secret", "--display-name", "Bench User")
    for i in range(5):
        s.add_user(f"user{i}", "pw-secret", "--display-name", f"User {i}")
    s.start()
    iss = f"https://localhost:{s.https_port}"
    r = subprocess.run(["node", os.path.join(os.environ["PALAVER_SOURCE"], "bench", "webapp.js"), iss, s.ca, "bench", "bench-secret",
                        os.environ["PALAVER_WEBUI"], *sys.argv[1:]], capture_output=True, text=True, timeout=800)
    if r.returncode != 0:
        sys.exit("webapp.js failed: " + r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["command"] = "bench/webapp.sh " + " ".join(sys.argv[1:])
    print(json.dumps(out, indent=1))
    t = out["total"]
    print(f"first screen JS+CSS: {t['gz'] / 1024:.1f} KiB gzip ({t['br'] / 1024:.1f} KiB brotli, {t['raw'] / 1024:.1f} KiB raw), "
          f"{len(out['files'])} files; usable main screen at {out['throttle']}x CPU throttling: "
          f"cold median {out['cold_median_ms']} ms {out['cold_ms']}, warm median {out['warm_median_ms']} ms {out['warm_ms']}", file=sys.stderr)
finally:
    s.close()
PY
mv "$OUT.tmp" "$OUT"
echo "webapp.sh: results in $OUT" >&2
