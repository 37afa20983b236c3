#!/usr/bin/env python3
"""bench/floods.py — floods and slow clients (issue 19) against a real palaverd-testbed on
loopback: slowloris, half-open TLS handshakes, WebSocket clients that never read, oversized
WebSocket frames and a TURN allocation flood from one address.

For each attack: a fresh server; its RSS sampled every 50 ms (peak growth, bench/attack.py's
Watch); the per-address limit the attack runs into, counted; and a well-behaved client from
another loopback address that, over and over during the attack, signs in (the OIDC code flow
through the sign-in form, argon2id included, then the token exchange) and places a call (two
RTM WebSockets: call, ring, accept, answer), with its cycle latency p50/p99/max and failures.
The attackers use source addresses 127.0.0.2-127.0.0.40, so their per-address limits are theirs.

Usage: bench/floods.py [--only slowloris,half-open,ws-never-read,oversized-frames,turn] [--scale 1.0] [--out FILE]
Every loop is bounded in count and time; loopback only. tests/integration/test_floods.py runs the
same attacks at a smaller scale and asserts the outcome.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("PALAVER_SOURCE", ROOT)
os.environ.setdefault("PALAVERD_TESTBED", os.path.join(ROOT, "build", "tests", "palaverd-testbed"))
os.environ.setdefault("PALAVERD", os.path.join(ROOT, "build", "appliance", "palaverd"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from attack import Watch  # noqa: E402
from harness import PALAVERD_TESTBED, Browser, Palaverd, WsClient  # noqa: E402
import stun_client  # noqa: E402

AUTHORIZE = "/signin/v1/identifier/_/authorize"
V = 20180703
PER_IP = 256  # [palaver] max_connections_per_ip default


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Rtm:
    """One RTM WebSocket (kwmjs's messages), as tests/integration/test_signaling.py's."""

    def __init__(self, server, token):
        status, _, body, _ = server.curl("/api/kwm/v2/rtm/connect", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                         "--data-binary", "")
        if status != 200:
            raise RuntimeError(f"rtm/connect: {status} {body!r}")
        self.ws = WsClient(server.tls_socket(), json.loads(body)["url"])
        self.ws.sock.settimeout(10)
        self.id = self.next(lambda m: m["type"] == "hello")["self"]["id"]
        self.seq = 0

    def send(self, **message):
        self.seq += 1
        self.ws.send(json.dumps(dict(message, id=self.seq)))
        return self.seq

    def next(self, match):
        while True:
            opcode, payload = self.ws.recv()
            if opcode == 8:
                raise RuntimeError(f"closed: {payload!r}")
            m = json.loads(payload)
            if match(m):
                return m

    def close(self):
        self.ws.sock.close()


class CallProbe:
    """The well-behaved client: sign in through the form, exchange the code (PKCE), call bert."""

    def __init__(self, server):
        self.server, self.stop = server, threading.Event()
        self.cycles, self.failures, self.errors = [], 0, []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sign_in(self):
        s = self.server
        meet = f"https://localhost:{s.https_port}/meet/"
        verifier = b64url(secrets.token_bytes(32))
        params = {"client_id": f"kpop-{meet}", "redirect_uri": meet + "#oidc-callback", "response_type": "code",
                  "response_mode": "fragment", "scope": "openid profile kopano/kwm", "state": "s", "nonce": "n",
                  "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
                  "code_challenge_method": "S256"}
        b = Browser(s)
        target = AUTHORIZE + "?" + urllib.parse.urlencode(params)
        status, h, _ = b.get(target)
        status, _, page = b.get(h["location"])
        if status != 200:
            raise RuntimeError(f"sign-in page: {status}")
        field = lambda n: re.search(rf'name="{n}" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, h, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": field("csrf"), "query": field("query"), "flow": field("flow"),
                                    "action": "signin", "username": "anna", "password": "anna-secret"})
        if status != 303:
            raise RuntimeError(f"sign-in: {status}")
        status, h, _ = b.get(h["location"])
        got = dict(urllib.parse.parse_qsl(h["location"].split("#oidc-callback&", 1)[1]))
        status, _, body = b.post("/konnect/v1/token", body=urllib.parse.urlencode(
            {"grant_type": "authorization_code", "code": got["code"], "client_id": params["client_id"],
             "redirect_uri": params["redirect_uri"], "code_verifier": verifier}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError(f"token: {status} {body[:200]}")
        return json.loads(body)["access_token"]

    def call(self, token):
        a = Rtm(self.server, token)
        b = Rtm(self.server, self.server.mint_token("bert openid kopano/kwm"))
        try:
            seq = a.send(type="webrtc", subtype="webrtc_call", target=b.id, initiator=True, state="sA", channel="",
                         group="", hash="", transaction="", v=V)
            channel = a.next(lambda m: m.get("reply_to") == seq)
            ring = b.next(lambda m: m.get("subtype") == "webrtc_call")
            b.send(type="webrtc", subtype="webrtc_call", target=a.id, initiator=False, state="sB",
                   channel=ring["channel"], group="", hash=ring["hash"], transaction="",
                   data={"accept": True, "state": "sA"}, v=V)
            answer = a.next(lambda m: m.get("subtype") == "webrtc_call")
            if channel.get("subtype") != "webrtc_channel" or not answer["data"]["accept"]:
                raise RuntimeError("call not accepted")
        finally:
            a.close()
            b.close()

    def run(self):
        while not self.stop.is_set():
            t = time.perf_counter()
            try:
                self.call(self.sign_in())
                self.cycles.append((time.perf_counter() - t) * 1000)
            except Exception as e:  # noqa: BLE001 — every failure counts
                import traceback
                self.failures += 1
                where = traceback.extract_tb(e.__traceback__)[-1]
                self.errors.append(f"{e!r}"[:200] + f" at {where.name}:{where.lineno}")
            time.sleep(0.05)

    def done(self):
        self.stop.set()
        self.thread.join(60)
        lat = sorted(self.cycles) or [0.0]
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        return {"calls": len(self.cycles), "call_p50_ms": round(p(0.5), 1), "call_p99_ms": round(p(0.99), 1),
                "call_max_ms": round(lat[-1], 1), "call_failures": self.failures, "call_errors": self.errors[:3]}


def src(i):
    return f"127.0.0.{2 + i}"


def connect_from(server, address, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((address, 0))
    s.connect(("127.0.0.1", server.https_port))
    return s


def closed_by_server(sock):
    """True when the server has closed (EOF or reset); does not block."""
    try:
        p = select.poll()  # select() cannot take descriptors above 1023
        p.register(sock, select.POLLIN)
        if not p.poll(0):
            return False
        if isinstance(sock, ssl.SSLSocket):  # no MSG_PEEK through TLS: read what came (a 408, an alert)
            sock.setblocking(False)
            try:
                return sock.recv(65536) == b""
            except (ssl.SSLWantReadError, BlockingIOError):
                return False
        return sock.recv(65536, socket.MSG_PEEK) == b""
    except (OSError, ssl.SSLError):
        return True


def wait_closed(socks, seconds):
    """How many of `socks` the server closed within `seconds` (polling, bounded)."""
    deadline = time.time() + seconds
    open_ = list(socks)
    while open_ and time.time() < deadline:
        open_ = [s for s in open_ if not closed_by_server(s)]
        time.sleep(0.1)
    return len(socks) - len(open_)


def attack_slowloris(server, scale):
    """Request heads a byte a second over TLS: `PER_IP + 44` connections from one address (the
    per-address limit refuses the excess at accept), the rest bounded by header_timeout."""
    ctx = ssl.create_default_context(cafile=server.ca)
    n = PER_IP + 44
    socks, refused = [], 0
    for _ in range(n):
        try:
            raw = connect_from(server, src(0))
            socks.append(ctx.wrap_socket(raw, server_hostname="localhost"))
        except (OSError, ssl.SSLError):
            refused += 1
    head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200
    t0, sent = time.time(), 0
    limit = server.header_timeout + 3
    alive = list(socks)
    while alive and time.time() - t0 < limit and sent < len(head):
        for s in list(alive):
            try:
                s.send(head[sent:sent + 1])
            except (OSError, ssl.SSLError):
                alive.remove(s)
        sent += 1
        time.sleep(1)
    closed = wait_closed(alive, max(0.0, limit - (time.time() - t0))) + (len(socks) - len(alive))
    seconds = round(time.time() - t0, 1)
    for s in socks:
        s.close()
    return {"connections": n, "accepted": len(socks), "refused_at_accept": refused,
            "closed_by_header_timeout": closed, "bytes_dripped_each": sent, "drip_seconds": seconds,
            "limit_held": len(socks) <= PER_IP and closed == len(socks)}


def attack_half_open(server, scale):
    """Thousands of TCP connections that start a TLS handshake (a record header) and stop:
    2 000 from 8 addresses, and PER_IP + 100 from one more (the excess refused at accept)."""
    addrs, per = (8, 250) if scale >= 1 else (4, int(250 * scale))
    record = b"\x16\x03\x01\x02\x00"  # a ClientHello record of 512 bytes is coming... never
    socks = []
    for a in range(addrs):
        for _ in range(per):
            try:
                s = connect_from(server, src(1 + a))
                s.sendall(record)
                socks.append(s)
            except OSError:
                pass
    one = []
    for _ in range(int((PER_IP + 100) * max(scale, 1.0)) if scale >= 1 else PER_IP + 20):
        try:
            s = connect_from(server, src(20))
            s.sendall(record)
            one.append(s)
        except OSError:
            pass
    time.sleep(0.5)
    one_open = sum(1 for s in one if not closed_by_server(s))
    t0 = time.time()
    closed = wait_closed(socks + one, server.header_timeout + 3)
    for s in socks + one:
        s.close()
    return {"half_open": len(socks) + len(one), "from_one_address": len(one), "kept_from_one_address": one_open,
            "closed_by_header_timeout": closed, "seconds_to_close": round(time.time() - t0, 1),
            "limit_held": one_open <= PER_IP and closed == len(socks) + len(one)}


def ws_connect(server, address, path="/testbed/ws"):
    ctx = ssl.create_default_context(cafile=server.ca)
    s = ctx.wrap_socket(connect_from(server, address), server_hostname="localhost")
    ws = WsClient(s, path)
    if ws.status != 101:
        raise RuntimeError(f"upgrade: {ws.status}")
    return ws


def attack_ws_never_read(server, scale):
    """WebSocket clients that never read: each asks the server for 200 KB of pushes (the echo
    endpoint's `flood:` command; signaling's fan-out in real life) and then keeps sending. The
    server's queue for each is bounded (64 KiB here, `max_queued_bytes`; signaling 2 MiB): the
    connection is closed with 1008, nothing more is buffered."""
    n = max(10, int(100 * scale))
    clients = [ws_connect(server, src(2 + i % 8)) for i in range(n)]
    payload = os.urandom(2000)
    t0 = time.time()
    sent_total = 0
    for ws in clients:
        ws.send("flood:200")
        ws.sock.setblocking(False)
    live = list(clients)
    mask = os.urandom(4)
    frame = bytes([0x82, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + \
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    while live and time.time() - t0 < 15:
        for ws in list(live):
            try:
                ws.sock.send(frame)
                sent_total += len(payload)
            except (ssl.SSLWantWriteError, BlockingIOError):
                if closed_by_server(ws.sock):
                    live.remove(ws)
            except (OSError, ssl.SSLError):
                live.remove(ws)
        time.sleep(0.01)
    cut = n - len(live)
    for ws in clients:
        ws.sock.close()
    return {"clients": n, "sent_mb": round(sent_total / 1e6, 1), "cut_off": cut, "seconds": round(time.time() - t0, 1),
            "limit_held": cut == n}


def attack_oversized_frames(server, scale):
    """Frames declaring 1 GiB (the echo endpoint allows 4 KiB; signaling 256 KiB), followed by
    256 KiB of bytes: each is closed with 1009 from the frame header, nothing is buffered."""
    n = max(10, int(400 * scale))
    codes = {}
    junk = os.urandom(256 * 1024)
    t0 = time.time()
    for i in range(n):
        ws = ws_connect(server, src(2 + i % 8))
        try:
            ws.sock.sendall(bytes([0x82, 0xFF]) + (1 << 30).to_bytes(8, "big") + os.urandom(4))
            try:
                ws.sock.sendall(junk)
            except OSError:
                pass
            code = ws.close_code()
        finally:
            ws.sock.close()
        codes[code] = codes.get(code, 0) + 1
    # Signaling's own limit: a 300 KiB text message from a signed-in client.
    token = server.mint_token("anna openid kopano/kwm")
    try:
        rtm = Rtm(server, token)
    except RuntimeError as e:
        return {"frames": n, "close_codes": {str(k): v for k, v in codes.items()}, "signaling_300k_close": repr(e),
                "seconds": round(time.time() - t0, 1), "limit_held": False}
    rtm.ws.send_frame(b"x" * (300 * 1024), 1)
    try:
        while True:
            opcode, payload = rtm.ws.recv()
            if opcode == 8:
                signaling_code = int.from_bytes(payload[:2], "big")
                break
    except (OSError, ConnectionError):
        signaling_code = None
    rtm.close()
    return {"frames": n, "close_codes": {str(k): v for k, v in codes.items()}, "signaling_300k_close": signaling_code,
            "seconds": round(time.time() - t0, 1), "limit_held": codes == {1009: n} and signaling_code == 1009}


def attack_turn(server, scale):
    """From one address: a burst of unauthenticated Allocates (answered up to the per-address
    rate, the rest dropped), then authenticated allocations of one user from many ports (the
    per-user quota, 200, answers 486 past it)."""
    port = server.turn_ports()["udp"]
    addr = ("127.0.0.1", port)
    with open(os.path.join(server.state, "turn_secret")) as f:
        secret = f.read().strip()
    user, password = stun_client.rest_credentials(secret, "flooder")

    def client():
        c = stun_client.TurnClient(addr, user, password, timeout=1.0)
        c.sock.close()
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sock.bind((src(30), 0))
        c.sock.settimeout(1.0)
        return c

    # 1. Unauthenticated burst from one port.
    burst = int(3000 * max(scale, 0.2))
    c = client()
    for _ in range(burst):
        c.send_raw(stun_client.Message(stun_client.ALLOCATE, 0).add(
            stun_client.REQUESTED_TRANSPORT, bytes([17, 0, 0, 0])).build())
    answered = 0
    c.sock.settimeout(0.5)
    try:
        while True:
            c.recv_raw()
            answered += 1
    except OSError:
        pass
    c.close()
    time.sleep(4.5)  # the rate bucket refills (50/s: 200 in 4 s)
    # 2. Authenticated allocations of one user from many ports (one challenge, then the nonce).
    n = 240 if scale >= 0.5 else 220
    first = client()
    clients, ok, quota, other = [first], 0, 0, {}
    a = first.allocate()  # answers the challenge once; the others reuse its nonce
    ok += 1 if a.success else 0
    for _ in range(n - 1):
        c = client()
        c.realm, c.nonce = first.realm, first.nonce
        clients.append(c)
    for c in clients[1:]:
        try:
            a = c.allocate()
        except OSError:
            other["timeout"] = other.get("timeout", 0) + 1
            continue
        if a.success:
            ok += 1
        elif a.code == 486:
            quota += 1
        else:
            other[str(a.code)] = other.get(str(a.code), 0) + 1
    for c in clients:
        c.close()
    return {"unauthenticated_sent": burst, "unauthenticated_answered": answered, "allocations_tried": n,
            "allocated": ok, "quota_486": quota, "other": other,
            "limit_held": answered <= 400 and ok == 200 and quota == n - 200}


ATTACKS = {
    "slowloris": ("slowloris: request heads a byte a second, 300 TLS connections from one address", attack_slowloris),
    "half-open": ("half-open TLS handshakes: 2 000 from 8 addresses + 356 from one", attack_half_open),
    "ws-never-read": ("100 WebSocket clients that send and never read", attack_ws_never_read),
    "oversized-frames": ("400 WebSocket frames declaring 1 GiB (+256 KiB sent each); a 300 KiB RTM message",
                         attack_oversized_frames),
    "turn": ("TURN from one address: 3 000 unauthenticated Allocates, 240 allocations of one user", attack_turn),
}


def start_server(header_timeout="10s"):
    server = Palaverd({"palaver": {"header_timeout": header_timeout}}, binary=PALAVERD_TESTBED, expect_start=False)
    server.header_timeout = int(header_timeout.rstrip("s"))
    server.add_user("anna", "anna-secret")
    server.add_user("bert", "pw")
    server.start()
    return server


def run(name, scale=1.0, header_timeout="10s"):
    title, fn = ATTACKS[name]
    server = start_server(header_timeout)
    try:
        # Warm-up: concurrent sign-ins so that every worker thread has hashed once. argon2id's
        # 19 MiB stay in each worker's malloc arena afterwards: that is the server's steady state,
        # not growth caused by an attack.
        warm = CallProbe.__new__(CallProbe)
        warm.server = server
        for _ in range(2):
            ts = [threading.Thread(target=warm.sign_in) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
        time.sleep(0.5)
        watch = Watch(server)
        probe = CallProbe(server)
        time.sleep(1.5)  # the probe's first cycles before the attack starts
        # Growth is counted from the peak of those cycles: a sign-in's argon2id holds 19 MiB while
        # it hashes, which is the probe's own cost, not the attack's.
        watch.base = watch.peak
        t = time.time()
        detail = fn(server, scale)
        time.sleep(0.5)
        calls = probe.done()
        result = watch.done()
        result.update(detail, **calls, attack=name, title=title, seconds=round(time.time() - t, 1),
                      alive=server.proc.poll() is None)
        return result
    finally:
        server.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(ATTACKS))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for name in args.only.split(","):
        r = run(name, args.scale)
        rows.append(r)
        print(json.dumps(r), flush=True)
    lines = ["| attack | limit held | peak RSS growth | sign-in + call p50 / p99 / max (calls, failures) | details |",
             "|---|---|---:|---:|---|"]
    skip = {"attack", "title", "growth_mb", "p50_ms", "p99_ms", "max_ms", "healthz_failures", "healthz_n", "calls",
            "call_p50_ms", "call_p99_ms", "call_max_ms", "call_failures", "call_errors", "limit_held"}
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in skip}
        lines.append(f"| {r['title']} | {'yes' if r['limit_held'] else 'NO'} | {r['growth_mb']} MB | "
                     f"{r['call_p50_ms']} / {r['call_p99_ms']} / {r['call_max_ms']} ms ({r['calls']}, "
                     f"{r['call_failures']}) | `{json.dumps(extra)}` |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    ok = all(r["growth_mb"] < 64 and r["alive"] and r["call_failures"] == 0 and r["limit_held"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
