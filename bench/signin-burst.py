#!/usr/bin/env python3
"""Sign-in burst vs. /healthz latency (issue #3: password checks run on the worker pool and never
stall other requests). Starts palaverd on loopback with a temp state dir, creates one user,
measures /healthz latency (sequential curl) unloaded and during a burst of correct-password
logons from parallel clients; prints one summary line per phase. Bounded: fixed request counts,
curl timeouts. Usage: bench/signin-burst.py [--logons N] [--clients C] [--palaverd PATH]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
os.environ.setdefault("PALAVER_SOURCE", os.path.join(here, ".."))
from harness import Palaverd  # noqa: E402


def healthz_latencies(s, n):
    out = []
    for _ in range(n):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", "--max-time", "10",
                            "--cacert", s.ca, "--resolve", f"localhost:{s.https_port}:127.0.0.1",
                            s.url("/healthz")], capture_output=True, text=True)
        out.append(float(r.stdout) * 1000)
    return out


def summary(label, lat):
    lat = sorted(lat)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return f"phase={label} healthz_n={len(lat)} p50_ms={p(0.5):.2f} p99_ms={p(0.99):.2f} max_ms={lat[-1]:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logons", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--palaverd", default=os.path.join(here, "..", "build", "appliance", "palaverd"))
    a = ap.parse_args()
    os.environ["PALAVERD"] = a.palaverd
    s = Palaverd({"palaver": {"log_level": "warn", "max_connections_per_ip": "100000"}}, expect_start=False,
                 binary=a.palaverd)
    try:
        subprocess.run([s.binary, "user", "add", "bench", "--config", s.config_path], input="bench-pw\n",
                       capture_output=True, text=True, check=True)
        s.start()
        origin = f"https://localhost:{s.https_port}"
        print(summary("idle", healthz_latencies(s, 200)))
        done = []
        body = json.dumps({"state": "b", "params": ["bench", "bench-pw", "1"]})

        def client(count):
            for _ in range(count):
                r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
                                    "--cacert", s.ca, "--resolve", f"localhost:{s.https_port}:127.0.0.1",
                                    "-H", "Kopano-Konnect-XSRF: 1", "-H", f"Origin: {origin}",
                                    "-H", "Content-Type: application/json", "--data-binary", body,
                                    s.url("/signin/v1/identifier/_/logon")], capture_output=True, text=True)
                done.append(r.stdout)
        per = a.logons // a.clients
        threads = [threading.Thread(target=client, args=(per,)) for _ in range(a.clients)]
        t0 = time.time()
        for t in threads:
            t.start()
        busy = healthz_latencies(s, 200)
        for t in threads:
            t.join()
        wall = time.time() - t0
        ok = sum(1 for c in done if c == "200")
        codes = sorted(set(done))
        print(summary("signin-burst", busy) + f" logons={len(done)} ok={ok} logons_per_s={len(done) / wall:.1f}"
              f" clients={a.clients} wall_s={wall:.1f} codes={','.join(codes)}")
    finally:
        s.close()


if __name__ == "__main__":
    main()
