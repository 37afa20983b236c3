"""conn-mem.py N plain|tls|ws — palaverd-testbed's RSS per held connection: N plain TCP connections
with a partial request, N TLS connections after the handshake (no request), or N TLS WebSockets
(the testbed's echo endpoint). Needs PALAVERD_TESTBED (a built palaverd-testbed) and
PALAVER_SOURCE (this checkout). Used for docs/performance.md ("Memory per idle connection")."""
import asyncio, ssl, sys, time, os, resource
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
from harness import Palaverd, PALAVERD_TESTBED, rss_kb
N = int(sys.argv[1]); mode = sys.argv[2]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
s = Palaverd({"palaver": {"max_connections": "20000", "max_connections_per_ip": "20000", "header_timeout": "600s",
                          "idle_timeout": "600s", "websocket_ping_interval": "600s", "websocket_timeout": "1200s"}}, binary=PALAVERD_TESTBED)
try:
    ctx = ssl.create_default_context(cafile=s.ca); ctx.set_alpn_protocols(["http/1.1"])
    async def one(sem):
        async with sem:
            if mode == "plain":
                r, w = await asyncio.open_connection("127.0.0.1", s.http_port)
                w.write(b"GET /x HTTP/1.1\r\nHost: localhost\r\n"); await w.drain()
            else:
                r, w = await asyncio.open_connection("127.0.0.1", s.https_port, ssl=ctx, server_hostname="localhost")
                if mode == "ws":
                    w.write(b"GET /testbed/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    await r.readuntil(b"\r\n\r\n"); await r.read(100)
            return r, w
    async def run():
        before = rss_kb(s.proc.pid)
        sem = asyncio.Semaphore(100)
        conns = await asyncio.gather(*(one(sem) for _ in range(N)))
        await asyncio.sleep(8)
        after = rss_kb(s.proc.pid)
        print(f"{mode}: N={N} before={before} after={after} per_conn={(after-before)*1024/N:.0f} B", flush=True)
        for _, w in conns: w.close()
    asyncio.run(run())
finally:
    s.close()
