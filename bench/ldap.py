#!/usr/bin/env python3
"""LDAP directory benchmark (issue #16): sign-ins per second and address-book searches per second
against a real slapd (tests/integration/ldap_fixture.py), with p50/p99 latency, and what the cache
saves. palaverd-testbed (it mints the access token) on loopback with backend = ldap; clients are
threads with one keep-alive HTTPS connection each. Phases, each bounded by a request count:

  signin          POST /signin/v1/identifier/_/logon, right passwords, users rotating
  search_cached   GET /api/gc/v1/users?$top=100&$search=<one of 10 terms> (the cache answers)
  search_uncached the same with ldap_cache_ttl = 1ms (every request asks slapd: paged search,
                  group sets)
  list_cached / list_uncached   GET /api/gc/v1/users?$top=100 (the whole directory, sorted)

Usage: bench/ldap.py [--users 500] [--requests 2000] [--clients 4]
Env: PALAVERD_TESTBED (default build/tests/palaverd-testbed). Needs slapd, ldap-utils, openssl.
"""
import argparse
import http.client
import json
import os
import ssl
import statistics
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
os.environ.setdefault("PALAVER_SOURCE", os.path.join(here, ".."))
import ldap_fixture  # noqa: E402
from harness import PALAVERD_TESTBED, Palaverd  # noqa: E402

TERMS = ["zeta", "alice", "builder", "zeta 01", "zeta 1", "example", "gro", "zz2", "danvers", "nobody"]


def run_phase(s, label, requests, clients, make_request):
    """make_request(i) -> (method, path, body, headers, expected status)."""
    latencies = []
    errors = []
    lock = threading.Lock()
    per_client = requests // clients
    ctx = ssl.create_default_context(cafile=s.ca)

    def client(k):
        conn = http.client.HTTPSConnection("localhost", s.https_port, context=ctx, timeout=30)
        mine = []
        for j in range(per_client):
            method, path, body, headers, want = make_request(k * per_client + j)
            t = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append((time.perf_counter() - t) * 1000)
            if r.status != want:
                with lock:
                    errors.append(r.status)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    took = time.perf_counter() - started
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    line = (f"phase={label} n={len(lat)} clients={clients} req_per_s={len(lat) / took:.0f} "
            f"p50_ms={p(0.5):.2f} p99_ms={p(0.99):.2f} mean_ms={statistics.mean(lat):.2f} errors={len(errors)}")
    if errors:
        line += f" statuses={sorted(set(errors))}"
    print(line, flush=True)
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    started = time.time()
    ldap = ldap_fixture.Slapd(many=a.users)
    print(f"# bench/ldap.py users={a.users + len(ldap_fixture.PEOPLE)} requests={a.requests} clients={a.clients} "
          f"slapd_setup_s={time.time() - started:.1f} — {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} — "
          f"{os.cpu_count()} cores", flush=True)
    try:
        for ttl in ("5m", "1ms"):
            suffix = "cached" if ttl == "5m" else "uncached"
            s = Palaverd({"palaver": {"log_level": "warn", "max_connections_per_ip": "100000"},
                          "directory": ldap.directory_section(ldap_cache_ttl=ttl, ldap_page_size="500",
                                                              ldap_health_interval="30s")},
                         binary=PALAVERD_TESTBED)
            try:
                token = s.mint_token("alice openid profile email kopano/gc")
                auth = {"Authorization": f"Bearer {token}", "Kopano-XSRF": "1"}
                if ttl == "5m":
                    origin = f"https://localhost:{s.https_port}"
                    headers = {"Content-Type": "application/json", "Origin": origin, "Kopano-Konnect-XSRF": "1"}

                    def signin(i):
                        n = i % a.users + 1
                        body = json.dumps({"state": "b", "params": [f"zz{n:02d}", f"zz{n:02d}-pw", "1"]})
                        return "POST", "/signin/v1/identifier/_/logon", body, headers, 200

                    run_phase(s, "signin", min(a.requests, 1000), a.clients, signin)
                search = lambda i: ("GET", "/api/gc/v1/users?$top=100&$search=" + TERMS[i % len(TERMS)].replace(" ", "%20"),
                                    None, auth, 200)
                listing = lambda i: ("GET", "/api/gc/v1/users?$top=100&$skip=0", None, auth, 200)
                run_phase(s, f"search_{suffix}", a.requests, a.clients, search)
                run_phase(s, f"list_{suffix}", a.requests // (1 if ttl == "5m" else 10), a.clients, listing)
            finally:
                s.close()
    finally:
        ldap.close()


if __name__ == "__main__":
    main()
