"""Net loop seams exercised through the test-only `testbed` module (palaverd-testbed):
WebSockets, the raw fallback on the TLS listener, workers, timers, request bodies."""
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import PALAVERD_TESTBED, Palaverd, WsClient, http_exchange, status_of


class NetLoop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def ws(self, path="/testbed/ws"):
        return WsClient(self.s.tls_socket(), path)

    def test_websocket_echo_text_binary_and_fragments(self):
        ws = self.ws()
        self.assertEqual(ws.status, 101)
        opcode, hello = ws.recv()
        self.assertEqual(opcode, 1)
        self.assertTrue(hello.startswith(b"hello "))
        ws.send("hi there")
        self.assertEqual(ws.recv(), (1, b"echo:hi there"))
        ws.send_frame(b"\x00\x01\xff", opcode=2)
        self.assertEqual(ws.recv(), (2, b"\x00\x01\xff"))
        ws.send_frame(b"frag", opcode=1, fin=False)
        ws.send_frame(b"mented", opcode=0, fin=True)
        self.assertEqual(ws.recv(), (1, b"echo:fragmented"))
        ws.send("close")
        self.assertEqual(ws.close_code(), 4000)

    def test_websocket_oversized_message_closes_1009(self):
        ws = self.ws()
        ws.recv()
        ws.send("x" * 5000)
        self.assertEqual(ws.close_code(), 1009)

    def test_websocket_invalid_utf8_is_refused(self):
        ws = self.ws()
        ws.recv()
        ws.send_frame(b"\xff\xfe\xfd", opcode=1)
        self.assertEqual(ws.close_code(), 1007)

    def test_slow_reader_is_disconnected_not_buffered(self):
        ws = self.ws()
        ws.recv()
        ws.send("flood:200")  # 200 KB against a 64 KB send-queue bound
        self.assertEqual(ws.close_code(), 1008)
        _, _, body, _ = self.s.curl("/metrics")
        self.assertRegex(body.decode(), r"palaver_http_websocket_slow_readers_closed_total [1-9]")

    def test_refused_and_unknown_upgrades(self):
        self.assertNotEqual(self.ws("/testbed/ws?refuse=1").status, 101)
        self.assertNotEqual(self.ws("/no/such/socket").status, 101)
        plain = socket.create_connection(("127.0.0.1", self.s.http_port), timeout=5)
        self.assertNotEqual(WsClient(plain, "/testbed/ws").status, 101)
        plain.close()
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    def test_websocket_metrics(self):
        ws = self.ws()
        ws.recv()
        _, _, body, _ = self.s.curl("/metrics")
        self.assertRegex(body.decode(), r"palaver_http_websockets_open [1-9]")
        self.assertRegex(body.decode(), r'palaver_http_websocket_messages_total\{direction="out"\} [1-9]')
        ws.sock.close()

    def test_raw_fallback_keeps_the_first_bytes(self):
        conn = self.s.tls_socket(alpn=("stun.turn",))
        first = b"\x00\x01\x00\x08\x21\x12\xa4\x42not-http-at-all"
        conn.sendall(first)
        conn.settimeout(5)
        got = b""
        while len(got) < len(first) + 4:
            chunk = conn.recv(4096)
            if not chunk:
                break
            got += chunk
        self.assertEqual(got, b"raw:" + first)
        conn.close()
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    def test_worker_completion_runs_on_the_loop(self):
        status, _, body, _ = self.s.curl("/testbed/worker")
        self.assertEqual((status, body), (200, b"worker=yes done_on_loop=yes"))
        status, _, body, _ = self.s.curl("/testbed/worker-direct", http="--http2")
        self.assertEqual((status, body), (200, b"from worker"))

    def test_timers_fire_and_cancel(self):
        status, _, body, _ = self.s.curl("/testbed/timer?ms=200")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(int(body.decode().split("=")[1]), 190)
        status, _, body, _ = self.s.curl("/testbed/timer-cancel")
        self.assertEqual(body, b"cancelled_fired=no")

    def test_throwing_handler_gives_500_and_server_lives(self):
        status, _, _, _ = self.s.curl("/testbed/throw")
        self.assertEqual(status, 500)
        self.assertIn("handler threw", self.s.stderr())
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    def test_request_bodies_over_h1_and_h2(self):
        payload = os.urandom(300 * 1024)
        path = os.path.join(self.s.dir, "payload")
        with open(path, "wb") as f:
            f.write(payload)
        for http in ("--http1.1", "--http2"):
            status, _, body, _ = self.s.curl("/testbed/echo", "--data-binary", f"@{path}", http=http)
            self.assertEqual(status, 200, http)
            self.assertEqual(body, payload, http)
        with open(path, "wb") as f:
            f.write(os.urandom(1024 * 1024 + 1))
        for http in ("--http1.1", "--http2"):
            status, _, _, _ = self.s.curl("/testbed/echo", "--data-binary", f"@{path}", http=http)
            self.assertEqual(status, 413, http)
        self.assertEqual(self.s.curl("/healthz")[0], 200)


class WebSocketShutdown(unittest.TestCase):
    def test_websocket_keepalive_pings_and_drops_dead_peers(self):
        s = Palaverd({"palaver": {"websocket_ping_interval": "1s", "websocket_timeout": "3s"}}, binary=PALAVERD_TESTBED)
        try:
            alive = WsClient(s.tls_socket(), "/testbed/ws")
            alive.recv()
            dead = WsClient(s.tls_socket(), "/testbed/ws")
            dead.recv()
            # The live client answers the server's PINGs (recv does) while it waits; the dead one
            # reads nothing, so it never answers.
            alive.sock.settimeout(0.5)
            pings_seen = 0
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    b0, b1 = alive._read(2)
                except socket.timeout:
                    continue
                n = b1 & 0x7F
                payload = alive._read(n)
                if b0 & 0x0F == 9:
                    pings_seen += 1
                    alive.send_frame(payload, 10)
            self.assertGreaterEqual(pings_seen, 2)
            alive.sock.settimeout(5)
            alive.send("still here")
            self.assertEqual(alive.recv(), (1, b"echo:still here"))
            dead.sock.settimeout(5)
            with self.assertRaises((ConnectionError, OSError)):
                while True:
                    opcode, _ = dead.recv()
                    if opcode == 8:
                        raise ConnectionError("closed by the server")
            metrics = s.curl("/metrics")[2].decode()
            self.assertRegex(metrics, r"palaver_http_websocket_dead_peers_closed_total [1-9]")
        finally:
            s.close()

    def test_sigterm_closes_websockets_with_going_away(self):
        s = Palaverd(binary=PALAVERD_TESTBED)
        try:
            ws = WsClient(s.tls_socket(), "/testbed/ws")
            ws.recv()
            s.signal(signal.SIGTERM)
            self.assertEqual(ws.close_code(), 1001)
            self.assertEqual(s.proc.wait(timeout=20), 0)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
