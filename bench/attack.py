#!/usr/bin/env python3
"""bench/attack.py — the memory attacks of issue 12 (findings 1, 5, 6, 7) at full size against a
real palaverd-testbed on loopback, each while a well-behaved client asks for /healthz.

For each attack: a fresh server, its RSS sampled every 50 ms (peak growth over the RSS before the
attack), and the well-behaved client's /healthz latencies (p50/p99/max, failures) during it.
Target (issue 12): under 64 MB of growth per attack, and the well-behaved client served throughout.

Usage: bench/attack.py [--only bodies,bodies-token,ping,signaling,zero-window] [--out FILE]
Env:   PALAVERD_TESTBED (default build/tests/palaverd-testbed), PALAVER_SOURCE (the checkout).
Every loop is bounded in count and time; loopback only.
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("PALAVER_SOURCE", ROOT)
os.environ.setdefault("PALAVERD_TESTBED", os.path.join(ROOT, "build", "tests", "palaverd-testbed"))
os.environ.setdefault("PALAVERD", os.path.join(ROOT, "build", "appliance", "palaverd"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import PALAVERD_TESTBED, Palaverd, rss_kb  # noqa: E402


class Watch:
    """Samples RSS and runs the well-behaved /healthz client until stopped."""

    def __init__(self, server):
        self.server, self.stop = server, threading.Event()
        self.base = rss_kb(server.proc.pid)
        self.peak = self.base
        self.lat, self.failures = [], 0
        self.threads = [threading.Thread(target=self.sample, daemon=True), threading.Thread(target=self.client, daemon=True)]
        for t in self.threads:
            t.start()

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kb(self.server.proc.pid))
            time.sleep(0.05)

    def client(self):
        sock = None
        while not self.stop.is_set():
            try:
                if sock is None:
                    sock = self.server.tls_socket()
                    sock.settimeout(5)
                t = time.perf_counter()
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
                while len(rest) < length:
                    rest += sock.recv(65536)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise ConnectionError(head[:40])
                self.lat.append((time.perf_counter() - t) * 1000)
            except (OSError, ConnectionError, IndexError, ValueError):
                self.failures += 1
                sock = None
            time.sleep(0.02)

    def done(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        lat = sorted(self.lat) or [0.0]
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        return {"growth_mb": round((self.peak - self.base) / 1024, 1), "healthz_n": len(self.lat),
                "p50_ms": round(p(0.5), 2), "p99_ms": round(p(0.99), 2), "max_ms": round(lat[-1], 2),
                "healthz_failures": self.failures}


def tls(server, alpn=("http/1.1",)):
    s = server.tls_socket(alpn=alpn)
    s.settimeout(5)
    return s


def attack_bodies(server, token):
    """40 connections each PUT 16 MB to kvs, all but the last byte (finding 1)."""
    socks, answers = [], {}
    chunk = b"x" * (256 * 1024)
    head = ("PUT /api/kvs/v1/kv/user/meet/big HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "") + "Content-Length: 16000000\r\n\r\n").encode()
    for _ in range(40):
        s = tls(server)
        s.sendall(head)
        socks.append(s)
    deadline = time.time() + 60
    sent = {id(s): 0 for s in socks}
    live = list(socks)
    while live and time.time() < deadline:
        for s in list(live):
            try:
                s.settimeout(0.05)
                if sent[id(s)] + len(chunk) < 16000000:
                    s.sendall(chunk)
                    sent[id(s)] += len(chunk)
                else:
                    live.remove(s)
            except socket.timeout:
                pass
            except OSError:
                live.remove(s)
            try:
                data = s.recv(200)
                if data:
                    answers[id(s)] = data.split(b"\r\n", 1)[0].decode(errors="replace")
                    if s in live:
                        live.remove(s)
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except OSError:
                if s in live:
                    live.remove(s)
    time.sleep(1)
    for s in socks:
        s.close()
    statuses = {}
    for a in answers.values():
        statuses[a] = statuses.get(a, 0) + 1
    return {"answers": statuses, "body_bytes_sent_mb": round(sum(sent.values()) / 2**20)}


def attack_ping(server):
    """One HTTP/2 connection sends 3 million PINGs and never reads (finding 5)."""
    s = tls(server, alpn=("h2",))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    batch = (b"\x00\x00\x08\x06\x00\x00\x00\x00\x0012345678") * 1000
    sent, deadline = 0, time.time() + 30
    s.settimeout(2)
    while sent < 3_000_000 and time.time() < deadline:
        try:
            s.sendall(batch)
            sent += 1000
        except (OSError, socket.timeout):
            break
    s.close()
    return {"pings_sent": sent, "cut_off": sent < 3_000_000}


def attack_signaling(server):
    """4 connections × 1 000 joins with 30 KB group names (finding 6)."""
    from test_signaling import Rtm  # noqa: E402
    token = server.mint_token("anna openid kopano/kwm")
    conns = [Rtm(server, token) for _ in range(4)]
    for c in conns:
        for i in range(1000):
            c.join(f"group/{i}-" + "n" * 30000)
    time.sleep(2)
    for c in conns:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
    return {"joins_sent": 4000}


def attack_zero_window(server):
    """2 HTTP/2 connections × 100 streams asking for 4 MiB answers with a stream window of 0
    (finding 7; /testbed/big stands in for a kvs listing)."""
    def literal(n, v):
        return b"\x00" + bytes([len(n)]) + n.encode() + bytes([len(v)]) + v.encode()

    def frame(kind, flags, stream, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

    socks = []
    for _ in range(2):
        s = tls(server, alpn=("h2",))
        out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, struct.pack(">HI", 4, 0))
        for i in range(100):
            block = b"".join(literal(n, v) for n, v in ((":method", "GET"), (":scheme", "https"),
                                                         (":path", "/testbed/big?kb=4096"), (":authority", "localhost")))
            out += frame(1, 0x5, 2 * i + 1, block)
        s.sendall(out)
        socks.append(s)
    time.sleep(8)
    for s in socks:
        s.close()
    return {"streams": 200, "answer_mb_asked": 800}


ATTACKS = {
    "bodies": ("16 MB kvs PUTs without a token, 40 connections", lambda s: attack_bodies(s, None)),
    "bodies-forged": ("16 MB kvs PUTs with a forged bearer token, 40 connections",
                      lambda s: attack_bodies(s, "eyJhbGciOiJFUzI1NiJ9.e30.forged")),
    "bodies-token": ("16 MB kvs PUTs by a signed-in user (valid token), 40 connections",
                     lambda s: attack_bodies(s, s.mint_token("anna openid kopano/kvs"))),
    "ping": ("HTTP/2 PING flood, 3 M PINGs, never read", attack_ping),
    "signaling": ("4 connections × 1 000 joins, 30 KB names", attack_signaling),
    "zero-window": ("HTTP/2 zero window, 200 streams × 4 MiB answers", attack_zero_window),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(ATTACKS))
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for name in args.only.split(","):
        title, fn = ATTACKS[name]
        server = Palaverd({"palaver": {"max_connections_per_ip": "512"}}, binary=PALAVERD_TESTBED, expect_start=False)
        try:
            server.add_user("anna", "pw")
            server.start()
            time.sleep(0.5)
            watch = Watch(server)
            t = time.time()
            detail = fn(server)
            time.sleep(1)
            result = watch.done()
            result.update(detail, attack=name, title=title, seconds=round(time.time() - t, 1),
                          alive=server.proc.poll() is None)
            rows.append(result)
            print(json.dumps(result), flush=True)
        finally:
            server.close()
    lines = ["| attack | peak RSS growth | well-behaved /healthz p50 / p99 / max | failed /healthz | details |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("attack", "title", "growth_mb", "p50_ms", "p99_ms", "max_ms",
                                                          "healthz_failures", "healthz_n")}
        lines.append(f"| {r['title']} | {r['growth_mb']} MB | {r['p50_ms']} / {r['p99_ms']} / {r['max_ms']} ms "
                     f"({r['healthz_n']} requests) | {r['healthz_failures']} | `{json.dumps(extra)}` |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    ok = all(r["growth_mb"] < 64 and r["alive"] and r["healthz_failures"] == 0 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
