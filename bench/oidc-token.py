#!/usr/bin/env python3
"""Token endpoint throughput (issue #3): authorization-code exchanges (Meet's public client,
PKCE), refresh-token rotations (a confidential client, `offline_access`) and userinfo, each
measured as requests/s and as palaverd CPU time per request (/proc/<pid>/stat utime+stime
before/after each run). `bench/oidc-token.sh` is the entry point; it measures the one-core ES256
signing rate with `openssl speed` and passes it in with --sign-rate.

Set-up: palaverd on loopback with a temp config/state dir (tests/integration/harness.py), one
local user, one trusted confidential client `app`; palaverd pinned to --server-cpu, this script
and its load processes to --client-cpu. Load: --clients processes, each with one keep-alive
HTTP/1.1 TLS connection opened before the clock starts (handshakes are not counted), requests
written as raw bytes to keep the client's own cost per request low.

Each run, after a short `openssl speed ecdsap256` on the server CPU (--speed-seconds; per-run
ratios), in this order:
  authorize  GET authorize?prompt=none with the session cookie: a pool of --codes codes (one new
             code per call; a SQLite user lookup, no signature). Measured too.
  exchange   POST /konnect/v1/token grant_type=authorization_code, client_id kpop-<origin>/meet/,
             PKCE S256, response_mode=fragment: access + ID token (2 ES256 signatures).
  refresh    POST /konnect/v1/token grant_type=refresh_token, client `app` (Basic auth), scope
             openid profile offline_access: one chain per client process, each request sends the
             refresh token the previous answer returned (rotation: every token is single-use).
             Verify 1 + sign 3 (access, ID, refresh) + SQLite (mark used, user lookup, record new).
  userinfo   GET /konnect/v1/userinfo with a Bearer access token from the exchange phase
             (verify 1 + SQLite user lookup).
  floor      GET /meet/manifest.webmanifest (a small file the web module serves from memory) on the
             same kind of connection: what one HTTPS request costs palaverd here without the
             provider. With --nginx, the same GET on nginx (one process, `return 200` with a body
             of the same length, pinned to the server CPU) right after it: the floor of an
             nginx-class net layer on this machine. Every figure is split into user and kernel time
             (utime/stime), and the table states the exchange's lower bound (floor + 2 signatures).

Bounded: fixed counts, every socket has a timeout, every phase a wall-clock limit (--timeout).
Loopback only. Usage: bench/oidc-token.py [--palaverd PATH] [--codes N] [--refreshes N]
[--userinfos N] [--floors N] [--nginx] [--clients C] [--runs R] [--sign-rate S] [--md FILE]
Profiling: --perf FILE [--perf-phase exchange|refresh|userinfo|authorize] records palaverd with
`perf record` during that phase of the first run (its CPU figure is then inflated; set
PERF_CALLGRAPH=dwarf,16384 for call graphs of a build without frame pointers)."""
import argparse
import base64
import hashlib
import json
import multiprocessing as mp
import os
import re
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
os.environ.setdefault("PALAVER_SOURCE", os.path.join(here, ".."))
from harness import Browser, Palaverd  # noqa: E402

AUTHORIZE = "/signin/v1/identifier/_/authorize"
TOKEN = "/konnect/v1/token"
USERINFO = "/konnect/v1/userinfo"
MEET_SCOPE = "openid profile email kopano/kwm kopano/gc kopano/kvs"
APP_REDIRECT = "https://app.example/cb"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce():
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


# --- a minimal keep-alive HTTP/1.1 client over TLS ------------------------------------------------

class Conn:
    def __init__(self, port, ca, timeout=20):
        self.port, self.timeout = port, timeout
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.sock, self.buf = None, b""
        self.host = f"localhost:{port}"

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = self.ctx.wrap_socket(raw, server_hostname="localhost"), b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def get(self, target, headers=""):
        return self.send(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{headers}\r\n".encode())

    def post_form(self, target, body, headers=""):
        body = body.encode()
        head = (f"POST {target} HTTP/1.1\r\nHost: {self.host}\r\n{headers}"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        return self.send(head.encode() + body)

    def send(self, data):
        """Returns (status, header block, body). Reconnects lazily after errors."""
        if self.sock is None:
            self.connect()
        try:
            self.sock.sendall(data)
            return self._read()
        except (OSError, ValueError):
            self.close()
            raise

    def _read(self):
        buf = self.buf
        while (i := buf.find(b"\r\n\r\n")) < 0:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by palaverd")
            buf += chunk
        head, rest = buf[:i], buf[i + 4:]
        lower = head.lower()
        status = int(head[9:12])
        j = lower.find(b"\r\ncontent-length:")
        if j >= 0:
            end = lower.find(b"\r\n", j + 2)
            length = int(lower[j + 17:end if end >= 0 else len(lower)])
        elif b"transfer-encoding: chunked" in lower:
            raise ValueError("chunked responses are not expected here")
        else:
            length = 0
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by palaverd mid-body")
            rest += chunk
        self.buf = rest[length:]
        return status, head, rest[:length]


def header(head, name):
    """The value of header `name` (lower case) in a response header block, or None."""
    j = head.lower().find(b"\r\n" + name + b":")
    if j < 0:
        return None
    end = head.find(b"\r\n", j + 2)
    return head[j + len(name) + 3:end if end >= 0 else len(head)].strip().decode()


# --- palaverd CPU -------------------------------------------------------------------------------

def server_cpu(pid):
    """(utime+stime seconds from /proc/<pid>/stat, sum of per-thread schedstat run time seconds,
    utime seconds, stime seconds)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    ticks = utime + stime
    ns = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return ticks / CLK_TCK, ns / 1e9, utime / CLK_TCK, stime / CLK_TCK


# --- load processes -----------------------------------------------------------------------------

def authorize_target(client_id, redirect_uri, challenge=None, scope=MEET_SCOPE, fragment=True, claims=True,
                     prompt="none"):
    """Meet's authorization request (code flow, fragment mode, PKCE, the `name` claim asked for)."""
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope,
              "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4)}
    if prompt:
        params["prompt"] = prompt
    if fragment:
        params["response_mode"] = "fragment"
    if challenge:
        params["code_challenge"], params["code_challenge_method"] = challenge, "S256"
    if claims:
        params["claims"] = json.dumps({"id_token": {"name": None}})
    return AUTHORIZE + "?" + urllib.parse.urlencode(params)


def code_of(location):
    tail = location.split("#", 1)[1] if "#" in location else urllib.parse.urlsplit(location).query
    for part in tail.split("&"):
        if part.startswith("code="):
            return urllib.parse.unquote(part[5:])
    raise ValueError("no code in " + location[:200])


def worker(kind, job, cfg, start, out):
    """One load process: connect, report ready, wait for the start, run `job`, report."""
    os.sched_setaffinity(0, cfg["client_cpus"])
    conn = Conn(cfg["port"], cfg["ca"])
    conn.host = cfg.get("host", conn.host)
    res = {"kind": kind, "ok": 0, "errors": 0, "samples": [], "lat": [], "extra": None}
    try:
        conn.connect()
        conn.get("/health-check")  # the connection is up and warm before the clock starts
    except Exception as e:  # noqa: BLE001 — reported, not raised
        res["errors"] = 1
        res["samples"].append(f"connect: {e}")
        out.put(("ready", None))
        out.put(("done", res))
        return
    out.put(("ready", None))
    if not start.wait(60):
        out.put(("done", res))
        return
    deadline = time.monotonic() + cfg["timeout"]
    cpu0 = time.process_time()
    t0 = time.monotonic()
    lat = res["lat"]

    def fail(what):
        res["errors"] += 1
        if len(res["samples"]) < 3:
            res["samples"].append(what)

    if kind == "authorize":
        codes = []
        for verifier, target in job["requests"]:
            if time.monotonic() > deadline:
                break
            ts = time.perf_counter()
            try:
                status, head, _ = conn.get(target, job["headers"])
                location = header(head, b"location") or ""
                code = code_of(location) if status == 302 else None
            except Exception as e:  # noqa: BLE001
                fail(f"{type(e).__name__}: {e}")
                continue
            lat.append(time.perf_counter() - ts)
            if code is None:
                fail(f"{status} {location[:120]}")
                continue
            res["ok"] += 1
            codes.append((verifier, code))
        res["extra"] = codes
    elif kind == "exchange":
        tokens = []
        for code, verifier in job["codes"]:
            if time.monotonic() > deadline:
                break
            body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                           "client_id": job["client_id"], "redirect_uri": job["redirect_uri"],
                                           "code_verifier": verifier})
            ts = time.perf_counter()
            try:
                status, _, data = conn.post_form(TOKEN, body)
            except Exception as e:  # noqa: BLE001
                fail(f"{type(e).__name__}: {e}")
                continue
            lat.append(time.perf_counter() - ts)
            if status != 200 or b'"id_token"' not in data:
                fail(f"{status} {data[:160]!r}")
                continue
            res["ok"] += 1
            if len(tokens) < 2:
                tokens.append(json.loads(data)["access_token"])
        res["extra"] = tokens
    elif kind == "refresh":
        token = job["refresh_token"]
        auth = job["auth_header"]
        for _ in range(job["count"]):
            if time.monotonic() > deadline:
                break
            body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": token})
            ts = time.perf_counter()
            try:
                status, _, data = conn.post_form(TOKEN, body, auth)
            except Exception as e:  # noqa: BLE001
                fail(f"{type(e).__name__}: {e}")
                break  # the chain's state is unknown now: stop it rather than trip reuse detection
            lat.append(time.perf_counter() - ts)
            if status != 200:
                fail(f"{status} {data[:160]!r}")
                break
            got = json.loads(data)
            if "refresh_token" not in got or "id_token" not in got:
                fail(f"no tokens: {data[:160]!r}")
                break
            token = got["refresh_token"]
            res["ok"] += 1
        res["extra"] = token
    elif kind.startswith("floor"):
        # The same keep-alive connection and request shape, for a small static answer: what one
        # HTTPS request and response cost the server on this machine, without the provider.
        for _ in range(job["count"]):
            if time.monotonic() > deadline:
                break
            ts = time.perf_counter()
            try:
                status, _, data = conn.get(job["target"])
            except Exception as e:  # noqa: BLE001
                fail(f"{type(e).__name__}: {e}")
                continue
            lat.append(time.perf_counter() - ts)
            if status != 200 or len(data) != job["length"]:
                fail(f"{status} {len(data)} bytes")
                continue
            res["ok"] += 1
    elif kind == "userinfo":
        headers = f"Authorization: Bearer {job['access_token']}\r\n"
        for _ in range(job["count"]):
            if time.monotonic() > deadline:
                break
            ts = time.perf_counter()
            try:
                status, _, data = conn.get(USERINFO, headers)
            except Exception as e:  # noqa: BLE001
                fail(f"{type(e).__name__}: {e}")
                continue
            lat.append(time.perf_counter() - ts)
            if status != 200 or b'"sub"' not in data:
                fail(f"{status} {data[:160]!r}")
                continue
            res["ok"] += 1
    res["t_start"], res["t_end"] = t0, time.monotonic()
    res["client_cpu_s"] = time.process_time() - cpu0
    conn.close()
    out.put(("done", res))


def run_phase(name, jobs, cfg, pid):
    """Runs one load process per job at once; returns the phase's figures and the workers' results."""
    ctx = mp.get_context("fork")
    out, start = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=worker, args=(name, job, cfg, start, out), daemon=True) for job in jobs]
    for p in procs:
        p.start()
    limit = time.monotonic() + 60
    ready = 0
    while ready < len(procs) and time.monotonic() < limit:
        try:
            kind, _ = out.get(timeout=max(0.1, limit - time.monotonic()))
        except Exception:  # noqa: BLE001 — queue.Empty: the limit passed
            break
        ready += kind == "ready"
    time.sleep(0.2)  # let connection set-up on the server settle
    cpu_a = server_cpu(pid)
    t0 = time.monotonic()
    start.set()
    results = []
    limit = t0 + cfg["timeout"] + 30
    while len(results) < len(procs) and time.monotonic() < limit:
        try:
            kind, res = out.get(timeout=max(0.1, limit - time.monotonic()))
        except Exception:  # noqa: BLE001 — queue.Empty: the limit passed
            break
        if kind == "done":
            results.append(res)
    cpu_b = server_cpu(pid)
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join(5)
    if len(results) < len(procs):
        raise RuntimeError(f"{name}: only {len(results)} of {len(procs)} load processes reported")
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    wall = max(r["t_end"] for r in results if "t_end" in r) - t0 if ok else float("nan")
    cpu_stat, cpu_sched = cpu_b[0] - cpu_a[0], cpu_b[1] - cpu_a[1]
    cpu_user, cpu_sys = cpu_b[2] - cpu_a[2], cpu_b[3] - cpu_a[3]
    lat = sorted(x for r in results for x in r["lat"])
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    fig = {"phase": name, "ok": ok, "errors": errors, "clients": len(procs), "wall_s": wall,
           "req_s": ok / wall if ok else 0.0,
           "cpu_us": cpu_stat / ok * 1e6 if ok else float("nan"),
           "user_us": cpu_user / ok * 1e6 if ok else float("nan"),
           "sys_us": cpu_sys / ok * 1e6 if ok else float("nan"),
           "sched_us": cpu_sched / ok * 1e6 if ok else float("nan"),
           "server_util": cpu_sched / wall if ok else float("nan"),
           "client_util": sum(r.get("client_cpu_s", 0) for r in results) / wall if ok else float("nan"),
           "p50_ms": pct(0.5), "p99_ms": pct(0.99),
           "samples": [s for r in results for s in r["samples"]][:3]}
    return fig, results


def es256_sign_rate(cpu, seconds):
    """One core's ES256 sign/s from `openssl speed ecdsap256` (it divides by the CPU time it got). Its
    table row reads `256 bits ecdsa (nistp256)   0.0000s   0.0001s  24233.9   7743.9` (sign/s, verify/s)."""
    r = subprocess.run(["taskset", "-c", str(cpu), "openssl", "speed", "-seconds", str(seconds), "ecdsap256"],
                       capture_output=True, text=True, timeout=2 * seconds + 60)
    rows = [line for line in r.stdout.splitlines() if re.match(r"^\s*256 bits ecdsa \(nistp256\)", line)]
    return float(rows[-1].split()[-2]) if rows else float("nan")


def perf_start(a, phase, run, pid):
    if not a.perf or run != 1 or phase != a.perf_phase:
        return None
    graph = os.environ.get("PERF_CALLGRAPH", "fp")
    # cpu-clock: a software event, so it samples also where the hardware counters are not offered
    # (virtual machines, containers).
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "--call-graph", graph, "-p", str(pid),
                          "-o", a.perf,
                          "--", "sleep", str(min(120, a.timeout))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return p


def perf_stop(p):
    if p is not None:
        p.send_signal(2)
        p.wait(30)


def fmt(fig):
    s = (f"phase={fig['phase']} ok={fig['ok']} errors={fig['errors']} clients={fig['clients']} "
         f"wall_s={fig['wall_s']:.2f} req_s={fig['req_s']:.0f} cpu_us_per_req={fig['cpu_us']:.0f} "
         f"user_us={fig['user_us']:.0f} sys_us={fig['sys_us']:.0f} "
         f"schedstat_us_per_req={fig['sched_us']:.0f} server_cpu_util={fig['server_util']:.2f} "
         f"client_cpu_util={fig['client_util']:.2f} p50_ms={fig['p50_ms']:.2f} p99_ms={fig['p99_ms']:.2f}")
    if fig["samples"]:
        s += " error_samples=" + json.dumps(fig["samples"])
    return s


def split(items, n):
    return [items[i::n] for i in range(n)]


# --- set-up -------------------------------------------------------------------------------------

def sign_in(s, user, password):
    """A Browser signed in through the sign-in page, as the Meet app's first visit does."""
    b = Browser(s)
    origin = f"https://localhost:{s.https_port}"
    meet = origin + "/meet/"
    target = authorize_target("kpop-" + meet, meet + "#oidc-callback", pkce()[1], prompt=None)
    status, h, _ = b.get(target)
    if status != 302 or not h["location"].startswith("/signin/v1/identifier?"):
        raise RuntimeError(f"authorize did not send to the sign-in page: {status} {h}")
    status, _, page = b.get(h["location"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    flow = re.search(r'name="flow" value="([^"]*)"', page).group(1)
    status, h, _ = b.post("/signin/v1/identifier/_/form", form={"csrf": csrf, "query": query, "flow": flow,
                                                                  "action": "signin", "username": user,
                                                                  "password": password})
    if status != 303:
        raise RuntimeError(f"sign-in failed: {status}")
    status, h, _ = b.get(h["location"])
    if status != 302 or "code=" not in h["location"]:
        raise RuntimeError(f"no code after sign-in: {status} {h.get('location')}")
    return b


def refresh_chain_start(conn, cookie, auth_header):
    target = authorize_target("app", APP_REDIRECT, scope="openid profile offline_access", fragment=False,
                              claims=False)
    status, head, _ = conn.get(target, cookie)
    code = code_of(header(head, b"location") or "")
    status, _, data = conn.post_form(TOKEN, urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                                                    "redirect_uri": APP_REDIRECT}), auth_header)
    if status != 200:
        raise RuntimeError(f"app code exchange failed: {status} {data[:200]!r}")
    return json.loads(data)["refresh_token"]


FLOOR_TARGET = "/meet/manifest.webmanifest"  # a small file the web module serves from memory


class Nginx:
    """nginx on loopback, pinned to the server CPU, one process (`master_process off`): the same
    TLS 1.3 + HTTP/1.1 keep-alive request answered by `return 200` with a body of the given length,
    the cheapest answer nginx has — the per-request floor of an nginx-class net layer here.
    (bench/lib/static-ref-up.sh starts nginx as a file server with master and workers, which is
    what the static-file bench compares; this floor wants neither the file nor the second process.)"""

    def __init__(self, cpu, length, tmp):
        os.makedirs(tmp, exist_ok=True)
        self.cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        os.makedirs(os.path.join(tmp, "logs"), exist_ok=True)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as c:
            c.write(f"""daemon off; master_process off; worker_processes 1;
error_log {tmp}/logs/error.log warn; pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {tmp}/tmp; proxy_temp_path {tmp}/tmp; fastcgi_temp_path {tmp}/tmp;
  uwsgi_temp_path {tmp}/tmp; scgi_temp_path {tmp}/tmp;
  server {{
    listen 127.0.0.1:{self.port} ssl; ssl_certificate {self.cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3; keepalive_requests 1000000; keepalive_timeout 120s;
    location = {FLOOR_TARGET} {{ default_type text/plain; return 200 "{'x' * length}"; }}
  }}
}}
""")
        self.proc = subprocess.Popen(["taskset", "-c", str(cpu), "nginx", "-p", tmp, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        limit = time.monotonic() + 20
        while time.monotonic() < limit:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {open(os.path.join(tmp, 'logs', 'error.log')).read()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("nginx did not listen within 20 s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--palaverd", default=os.environ.get("PALAVERD",
                                                         os.path.join(here, "..", "build", "appliance", "palaverd")))
    ap.add_argument("--codes", type=int, default=3000, help="code exchanges per run [3000]")
    ap.add_argument("--refreshes", type=int, default=3000, help="refreshes per run, over all chains [3000]")
    ap.add_argument("--userinfos", type=int, default=6000, help="userinfo requests per run [6000]")
    ap.add_argument("--floors", type=int, default=6000,
                    help="GETs of a small static file per run, palaverd's per-request floor [6000]")
    ap.add_argument("--nginx", action="store_true",
                    help="also measure the same floor on nginx (one process on the server CPU), side by side")
    ap.add_argument("--clients", type=int, default=8, help="load processes = connections = refresh chains [8]")
    ap.add_argument("--runs", type=int, default=5, help="runs of every phase; medians are reported [5]")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4, help="palaverd [palaver] workers (its default: 4) [4]")
    ap.add_argument("--timeout", type=float, default=90, help="wall-clock limit of each phase, s [90]")
    ap.add_argument("--sign-rate", type=float, default=0, help="one-core ES256 sign/s (openssl speed) for ratios")
    ap.add_argument("--speed-seconds", type=int, default=1,
                    help="before each run, `openssl speed -seconds N ecdsap256` on the server CPU for per-run ratios "
                         "that cancel this shared machine's drift (0 = off) [1]")
    ap.add_argument("--md", help="also write the result table (markdown) to this file")
    ap.add_argument("--perf", metavar="FILE", help="perf record palaverd during the first run's --perf-phase")
    ap.add_argument("--perf-phase", default="exchange",
                    choices=("authorize", "exchange", "refresh", "userinfo", "floor"))
    a = ap.parse_args()
    if a.codes > 15000:
        ap.error("--codes: codes live 120 s and the server keeps 20000; use at most 15000")
    binary = os.path.abspath(a.palaverd)
    if not os.access(binary, os.X_OK):
        sys.exit(f"oidc-token.py: {binary} is not executable (build palaverd first)")

    # The web apps the build made (next to palaverd in the build tree), else the harness's default.
    built = os.path.join(os.path.dirname(os.path.dirname(binary)), "webui")
    site = built if os.path.isdir(built) else None
    nginx = None
    s = Palaverd({"palaver": {"log_level": "warn", "workers": str(a.workers), "max_connections_per_ip": "100000",
                              "header_timeout": "10s", "body_timeout": "10s"}},
                 expect_start=False, binary=binary, site=site)
    try:
        s.add_user("bench", "bench-secret-pw", "--display-name", "Bench User", "--mail", "bench@example.org")
        r = subprocess.run([binary, "client", "add", "app", "--redirect-uri", APP_REDIRECT, "--trusted", "--secret",
                            "--config", s.config_path], capture_output=True, text=True, timeout=30)
        m = re.search(r"client secret \(shown once\): (\S+)", r.stdout)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"client add failed: {r.stderr}")
        app_auth = "Authorization: Basic " + base64.b64encode(f"app:{m.group(1)}".encode()).decode() + "\r\n"

        # palaverd inherits the server CPU; this process and its load processes stay on the client CPU.
        os.sched_setaffinity(0, {a.server_cpu})
        s.start()
        os.sched_setaffinity(0, {a.client_cpu})
        pid = s.proc.pid
        cpus = set()
        for tid in os.listdir(f"/proc/{pid}/task"):
            cpus |= os.sched_getaffinity(int(tid))
        origin = f"https://localhost:{s.https_port}"
        meet = origin + "/meet/"
        kpop, meet_redirect = "kpop-" + meet, meet + "#oidc-callback"
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"# {version}; palaverd pid {pid} on CPU {sorted(cpus)} ({len(os.listdir(f'/proc/{pid}/task'))} threads, "
              f"workers={a.workers}); load on CPU {a.client_cpu}; {a.clients} keep-alive HTTP/1.1 connections; "
              f"{a.runs} runs", flush=True)

        browser = sign_in(s, "bench", "bench-secret-pw")
        cookie = "Cookie: " + browser.cookies_for(AUTHORIZE) + "\r\n"
        cfg = {"port": s.https_port, "ca": s.ca, "timeout": a.timeout, "client_cpus": {a.client_cpu}}

        setup = Conn(s.https_port, s.ca)
        chains = [refresh_chain_start(setup, cookie, app_auth) for _ in range(a.clients)]
        status, _, floor_body = setup.get(FLOOR_TARGET)
        if status != 200 or not floor_body:
            raise RuntimeError(f"{FLOOR_TARGET}: {status}")
        setup.close()
        phases = ["authorize", "exchange", "refresh", "userinfo", "floor"]
        if a.nginx:
            nginx = Nginx(a.server_cpu, len(floor_body), os.path.join(s.dir, "nginx"))
            phases.append("floor_nginx")
            ncfg = dict(cfg, port=nginx.port, ca=nginx.cert, host=f"localhost:{nginx.port}")

        figs = {k: [] for k in phases}
        rates = []
        for run in range(1, a.runs + 1):
            if a.speed_seconds > 0:
                rates.append(es256_sign_rate(a.server_cpu, a.speed_seconds))
                print(f"run={run} es256_sign_per_s={rates[-1]:.0f} (openssl speed -seconds {a.speed_seconds}, "
                      f"CPU {a.server_cpu}, palaverd idle)", flush=True)
            # 1. a pool of codes (authorize with the session cookie, prompt=none)
            pool = []
            for _ in range(a.codes):
                verifier, challenge = pkce()
                pool.append((verifier, authorize_target(kpop, meet_redirect, challenge)))
            perf = perf_start(a, "authorize", run, pid)
            fig, results = run_phase("authorize", [{"requests": part, "headers": cookie}
                                                   for part in split(pool, a.clients)], cfg, pid)
            perf_stop(perf)
            figs["authorize"].append(fig)
            print(f"run={run} " + fmt(fig), flush=True)
            codes = [(code, verifier) for r in results for verifier, code in (r["extra"] or [])]
            if len(codes) < a.codes:
                raise RuntimeError(f"only {len(codes)} of {a.codes} codes: {fig['samples']}")
            # 2. exchange them
            perf = perf_start(a, "exchange", run, pid)
            fig, results = run_phase("exchange", [{"codes": part, "client_id": kpop, "redirect_uri": meet_redirect}
                                                  for part in split(codes, a.clients)], cfg, pid)
            perf_stop(perf)
            figs["exchange"].append(fig)
            print(f"run={run} " + fmt(fig), flush=True)
            access = [t for r in results for t in (r["extra"] or [])]
            # 3. refresh chains, continuing where the previous run stopped
            per = a.refreshes // len(chains)
            perf = perf_start(a, "refresh", run, pid)
            fig, results = run_phase("refresh", [{"refresh_token": t, "count": per, "auth_header": app_auth}
                                                 for t in chains], cfg, pid)
            perf_stop(perf)
            figs["refresh"].append(fig)
            print(f"run={run} " + fmt(fig), flush=True)
            chains = [r["extra"] for r in results]
            # 4. userinfo with access tokens from this run's exchanges
            per = a.userinfos // a.clients
            perf = perf_start(a, "userinfo", run, pid)
            fig, _ = run_phase("userinfo", [{"access_token": access[i % len(access)], "count": per}
                                            for i in range(a.clients)], cfg, pid)
            perf_stop(perf)
            figs["userinfo"].append(fig)
            print(f"run={run} " + fmt(fig), flush=True)
            # 5. the per-request floor: a small file, palaverd (and nginx with --nginx)
            per = a.floors // a.clients
            perf = perf_start(a, "floor", run, pid)
            fig, _ = run_phase("floor", [{"target": FLOOR_TARGET, "count": per, "length": len(floor_body)}
                                         for _ in range(a.clients)], cfg, pid)
            perf_stop(perf)
            figs["floor"].append(fig)
            print(f"run={run} " + fmt(fig), flush=True)
            if nginx:
                fig, _ = run_phase("floor_nginx", [{"target": FLOOR_TARGET, "count": per, "length": len(floor_body)}
                                                   for _ in range(a.clients)], ncfg, nginx.proc.pid)
                figs["floor_nginx"].append(fig)
                print(f"run={run} " + fmt(fig), flush=True)

        errors = sum(f["errors"] for fl in figs.values() for f in fl)
        med = {k: {m: statistics.median(f[m] for f in fl) for m in ("req_s", "cpu_us", "user_us", "sys_us", "sched_us",
                                                                         "server_util", "client_util", "p50_ms",
                                                                         "p99_ms")}
               for k, fl in figs.items()}
        for k, m in med.items():
            cpu = [f["cpu_us"] for f in figs[k]]
            print(f"median phase={k} req_s={m['req_s']:.0f} cpu_us_per_req={m['cpu_us']:.0f} "
                  f"cpu_us_range={min(cpu):.0f}-{max(cpu):.0f} user_us={m['user_us']:.0f} sys_us={m['sys_us']:.0f} "
                  f"schedstat_us_per_req={m['sched_us']:.0f} server_cpu_util={m['server_util']:.2f} "
                  f"client_cpu_util={m['client_util']:.2f} p50_ms={m['p50_ms']:.2f} p99_ms={m['p99_ms']:.2f}")
        table = render_table(a, med, figs, rates, errors)
        print()
        print(table)
        if a.md:
            with open(a.md, "w") as f:
                f.write(table)
        if errors:
            print(f"oidc-token.py: {errors} failed requests (see error_samples above)", file=sys.stderr)
            return 1
        return 0
    finally:
        if nginx:
            nginx.close()
        s.close()


def num(x):
    """12345.6 -> "12 346" (the thousands separator docs/performance.md uses)."""
    return f"{x:,.0f}".replace(",", " ")


def render_table(a, med, figs, rates, errors):
    rate = a.sign_rate
    rows = [("authorize, `prompt=none` (a new code)", "authorize", "none (SQLite user lookup)"),
            ("code exchange (Meet: public client, PKCE)", "exchange", "sign 2"),
            ("refresh (rotation; confidential client)", "refresh", "verify 1, sign 3 (SQLite: read + 2 writes)"),
            ("userinfo (Bearer)", "userinfo", "verify 1 (SQLite user lookup)"),
            (f"floor: GET `{FLOOR_TARGET}` (web module, from memory)", "floor", "none")]
    if "floor_nginx" in med:
        rows.append((f"floor on **nginx** (`return 200`, same length, one process)", "floor_nginx", "none"))
    out = ["| request | ES256 work per request | req/s | server CPU µs/req (range) | of it kernel µs "
           "| req per server CPU-s | ÷ one-core ES256 sign/s |",
           "|---|---|---:|---:|---:|---:|---:|"]
    if rate:
        out.append(f"| `openssl speed ecdsap256` (one core) | sign 1 | — | {1e6 / rate:.1f} | — | {num(rate)} | 1.00 |")
    for label, key, work in rows:
        m = med[key]
        per_cpu_s = 1e6 / m["cpu_us"]
        ratio = f"{per_cpu_s / rate:.2f}" if rate else "—"
        cpu = [f["cpu_us"] for f in figs[key]]
        spread = f" ({num(min(cpu))}–{num(max(cpu))})" if len(cpu) > 1 else ""
        out.append(f"| {label} | {work} | {num(m['req_s'])} | {num(m['cpu_us'])}{spread} | {num(m['sys_us'])} "
                   f"| {num(per_cpu_s)} | {ratio} |")
    out.append("")
    out.append(f"Medians of {a.runs} runs; per run {a.codes} codes, {a.refreshes} refreshes ({a.clients} chains), "
               f"{a.userinfos} userinfo requests; {a.clients} load processes (one keep-alive HTTP/1.1 connection each) "
               f"on CPU {a.client_cpu}, palaverd (`workers = {a.workers}`) on CPU {a.server_cpu}; CPU µs from "
               f"`/proc/<pid>/stat` utime+stime (kernel: stime); {a.floors} floor GETs per run; {errors} failed "
               f"requests.")
    if rate:
        ex, rf = 1e6 / med["exchange"]["cpu_us"], 1e6 / med["refresh"]["cpu_us"]
        out.append("")
        out.append(f"Token endpoint per palaverd CPU-second vs. one core's ES256 sign/s: code exchange "
                   f"{ex / rate:.2f}× ({2 * ex / rate:.2f}× counting its 2 signatures), refresh {rf / rate:.2f}× "
                   f"({3 * rf / rate:.2f}× counting 3 signatures). Target ≥ 0.3× (code exchange, issue 20): "
                   f"**{'met' if ex / rate >= 0.3 else 'not met'}**.")
    if rate:
        # What the exchange would cost on the cheapest net layer measured here: nginx's floor (or
        # palaverd's own, without --nginx) plus the two signatures at `openssl speed`'s rate.
        floor_key = "floor_nginx" if "floor_nginx" in med else "floor"
        floor = med[floor_key]["cpu_us"]
        best = floor + 2e6 / rate
        out.append("")
        out.append(f"Lower bound of a code exchange here: the {'nginx' if floor_key == 'floor_nginx' else 'palaverd'} "
                   f"floor ({floor:.0f} µs, {med[floor_key]['sys_us']:.0f} µs of it kernel) + 2 signatures "
                   f"({2e6 / rate:.0f} µs) = {best:.0f} µs, i.e. at most {1e6 / best / rate:.2f}× with no provider "
                   f"work at all; 0.3× needs ≤ {1e6 / (0.3 * rate):.0f} µs. palaverd's exchange above the floor "
                   f"and the signatures: {med['exchange']['cpu_us'] - med['floor']['cpu_us'] - 2e6 / rate:.0f} µs.")
    good = [(r, f["cpu_us"]) for r, f in zip(rates, figs["exchange"]) if r == r]
    if good:
        per_run = sorted(1e6 / us / r for r, us in good)
        out.append("")
        out.append(f"Per run, against `openssl speed -seconds {a.speed_seconds}` just before it "
                   f"({num(min(r for r, _ in good))}–{num(max(r for r, _ in good))} sign/s): code exchange "
                   f"{statistics.median(per_run):.2f}× (median; {per_run[0]:.2f}–{per_run[-1]:.2f}).")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
