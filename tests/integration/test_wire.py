"""Wire-level behaviour of the net layer against hostile or unusual clients, on HTTP/1.1 and
HTTP/2 (issue 11 defects 1-4 and 8, issue 12 findings 1, 2, 5, 10-12 and the status line of 14)."""
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
import unittest

from harness import (PALAVERD_TESTBED, Palaverd, WsClient, assert_rss_growth_below, http_exchange, read_http_response,
                     metric, rss_kb, status_of, wait_until)


def nghttp(server, *paths, args=(), timeout=30):
    """Runs nghttp -v for `paths` (one connection) against the server; returns its output."""
    urls = [f"https://127.0.0.1:{server.https_port}{p}" for p in paths]
    r = subprocess.run(["nghttp", "-nv", *args, *urls], capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def h2_statuses(out):
    """{stream_id: status} from nghttp -v output."""
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"recv \(stream_id=(\d+)\) :status: (\d+)", out)}


class Wire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"max_header_size": "16k", "max_buffered_body_bytes": "4m",
                                      "max_connections_per_ip": "64", "log_levels": "net=debug"}},
                         binary=PALAVERD_TESTBED)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def raw(self, data, tls=True, timeout=5):
        s = self.s.tls_socket() if tls else socket.create_connection(("127.0.0.1", self.s.http_port), timeout=5)
        with s:
            try:
                return http_exchange(s, data, read_timeout=timeout)
            except socket.timeout:
                # A hang is a failure, never "status 0": every bad request gets an answer or a close.
                raise AssertionError(f"no answer and no close within {timeout} s for {data[:80]!r}") from None
            except OSError:  # reset or closed by the server: no response (status 0)
                return b""

    def assert_alive(self):
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    # --- issue 11, defect 1: WebSockets and HTTP/2 ---------------------------------------

    def test_h2_does_not_offer_extended_connect(self):
        # Without SETTINGS_ENABLE_CONNECT_PROTOCOL browsers open WebSockets on HTTP/1.1, which is
        # served; the setting would invite RFC 8441 streams this server does not carry.
        out = nghttp(self.s, "/healthz")
        self.assertIn("recv SETTINGS frame", out)
        self.assertNotIn("ENABLE_CONNECT_PROTOCOL", out)
        self.assertEqual(h2_statuses(out).get(13), 200, out)

    def test_h2_connect_resets_only_its_stream_and_says_why(self):
        # A CONNECT (or an RFC 8441 extended CONNECT, whose setting is not offered) is a malformed
        # request here: that stream is reset, the reason is logged, the connection lives on.
        out = nghttp(self.s, "/healthz", args=("-H", ":method: CONNECT"))
        self.assertIn("RST_STREAM", out)
        self.assertNotIn("GOAWAY frame <length=8, flags=0x00, stream_id=0>\n          (last_stream_id=0, error_code=PROTOCOL", out)
        deadline = time.time() + 5
        while "http2 invalid frame" not in self.s.stderr() and time.time() < deadline:
            time.sleep(0.05)
        self.assertRegex(self.s.stderr(), r"http2 invalid frame client=127.0.0.1 stream=\d+ type=1 reason=Violation in HTTP messaging rule")
        self.assert_alive()

    # --- defect 2: custom headers are visible on HTTP/2 -----------------------------------

    def test_custom_headers_reach_handlers_on_h2(self):
        for http in ("--http1.1", "--http2"):
            status, _, body, version = self.s.curl("/testbed/headers", "-H", "Kopano-Konnect-XSRF: 1",
                                                  "-H", "X-Forwarded-For: 192.0.2.7", "-H", "X-Anything: yes", http=http)
            self.assertEqual(status, 200)
            headers = dict(json.loads(body))
            self.assertEqual(headers.get("kopano-konnect-xsrf"), "1", (http, headers))
            self.assertEqual(headers.get("x-forwarded-for"), "192.0.2.7", (http, headers))
            self.assertEqual(headers.get("x-anything"), "yes", (http, headers))

    def test_signin_api_refuses_a_missing_xsrf_header_on_h1_and_h2(self):
        origin = f"https://localhost:{self.s.https_port}"
        for http in ("--http1.1", "--http2"):
            status, _, body, version = self.s.curl("/signin/v1/identifier/_/logon", "-X", "POST",
                                                  "-H", "Content-Type: application/json", "-H", f"Origin: {origin}",
                                                  "--data-binary", '{"params":["admin","wrong","1"]}', http=http)
            self.assertEqual(status, 400, (http, body))
            self.assertIn(b"XSRF", body, http)

    # --- defect 3: %00 in the query ----------------------------------------------------------

    def test_nul_in_query_answers_that_request_only(self):
        resp = self.raw(b"GET /healthz?x=%00 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertIn(status_of(resp), (200, 400), resp[:200])
        resp = self.raw(b"GET /meet/%00 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(status_of(resp), 400, resp[:200])
        # HTTP/2: the bad request gets its answer on its own stream; the connection's other
        # streams are served.
        out = nghttp(self.s, "/meet/?x=%00", "/meet/%00", "/healthz")
        statuses = h2_statuses(out)
        self.assertEqual(len(statuses), 3, out)
        self.assertEqual(statuses.get(17), 200, out)  # /healthz, the third stream
        self.assertEqual(statuses.get(15), 400, out)  # /meet/%00
        self.assertIn(statuses.get(13), (200, 400), out)
        self.assertNotIn("recv GOAWAY", out)
        self.assert_alive()

    # --- defect 4: oversized headers --------------------------------------------------------

    def test_oversized_unknown_headers_get_431_on_h1_and_h2(self):
        for size in (17 * 1024, 64 * 1024):
            resp = self.raw(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
            self.assertEqual(status_of(resp), 431, (size, resp[:100]))
            # nghttp itself sends header blocks of at most 64 KB in all.
            out = nghttp(self.s, "/healthz", args=("-H", "x-big: " + "a" * min(size, 60 * 1024)))
            self.assertEqual(list(h2_statuses(out).values()), [431], out[-2000:])
        self.assert_alive()

    # --- defect 8: refused upgrades get a status --------------------------------------------

    def test_refused_websocket_upgrades_get_a_status(self):
        self.assertEqual(WsClient(self.s.tls_socket(), "/testbed/ws?refuse=1").status, 403)
        self.assertEqual(WsClient(self.s.tls_socket(), "/no/such/socket").status, 404)
        s = self.s.tls_socket()
        s.sendall(b"GET /testbed/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertEqual(status_of(http_exchange(s, b"")), 400)
        s.close()

    # --- keep-alive, pipelining and half-close (net layer review) -------------------------

    def read_responses(self, s, n):
        """Reads n HTTP/1.1 responses from a socket; returns their statuses."""
        s.settimeout(5)
        statuses, rest = [], b""
        for _ in range(n):
            response, rest = read_http_response(s, rest)
            if not response:
                break
            statuses.append(status_of(response))
        return statuses

    def test_keep_alive_goes_on_after_early_answers(self):
        s = self.s.tls_socket()
        for request in (b"GET /no/such/thing HTTP/1.1\r\nHost: localhost\r\n\r\n",
                        b"DELETE /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
                        b"PUT /api/kvs/v1/kv/user/meet/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
                        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"):
            s.sendall(request)
            self.assertEqual(len(self.read_responses(s, 1)), 1, request)
        s.close()

    def test_pipelined_requests_are_answered_in_order(self):
        s = self.s.tls_socket()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET /no/such/thing HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nok"
                  b"GET /testbed/worker HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(self.read_responses(s, 4), [200, 404, 200, 200])
        s.close()

    def test_a_request_followed_by_a_half_close_is_answered(self):
        raw = socket.create_connection(("127.0.0.1", self.s.http_port), timeout=5)
        raw.sendall(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\nGET /y HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw.shutdown(socket.SHUT_WR)
        self.assertEqual(self.read_responses(raw, 2), [301, 301])
        raw.close()

    # --- issue 12, finding 10: strict header syntax -----------------------------------------

    def test_malformed_header_lines_get_400_at_once(self):
        for bad in (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\nhello",
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n folded\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n: empty\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: local\x00host\r\n\r\n"):
            start = time.time()
            resp = self.raw(bad)
            self.assertEqual(status_of(resp), 400, bad)
            self.assertLess(time.time() - start, 2, bad)  # not the header timeout
        self.assert_alive()

    def test_status_line_is_http11(self):
        resp = self.raw(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 200 "), resp[:100])
        resp = self.raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", tls=False)
        self.assertTrue(resp.startswith(b"HTTP/1.1 301 "), resp[:100])

    # --- finding 11: no h2c -----------------------------------------------------------------

    def test_h2c_upgrade_is_not_taken(self):
        for tls in (True, False):
            resp = self.raw(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", tls=tls)
            self.assertNotEqual(status_of(resp), 101, resp[:100])
            self.assertIn(status_of(resp), (200, 301), resp[:100])

    # --- finding 12: unmasked client frames -------------------------------------------------

    def test_unmasked_websocket_frame_closes_1002(self):
        ws = WsClient(self.s.tls_socket(), "/testbed/ws")
        self.assertEqual(ws.status, 101)
        ws.recv()  # greeting
        ws.sock.sendall(bytes([0x81, 5]) + b"hello")
        self.assertEqual(ws.close_code(), 1002)

    def test_websocket_upgrade_headers_are_seen_at_open_and_given_back_after(self):
        # The handler sees the upgrade's headers in OnOpen; afterwards the host keeps only the
        # request line's parts and the peer (an idle socket does not hold headers and cookies).
        # Those parts are packed after OnOpen and made into a Request again when asked for: each
        # one is checked, twice (the second answer comes from the Request made for the first).
        ws = WsClient(self.s.tls_socket(), "/testbed/ws?k=v%20w&x=", host="LocalHost",
                      extra_headers="X-Probe: seen-at-open\r\nCookie: s=secret\r\n")
        self.assertEqual(ws.status, 101)
        self.assertTrue(ws.recv()[1].startswith(b"hello "))
        for _ in range(2):
            ws.send("probe")
            self.assertEqual(ws.recv(), (1, b"probe open=seen-at-open now=(none) path=/testbed/ws peer=127.0.0.1 "
                                            b"method=GET query=k=v%20w&x= host=localhost tls=yes"))

    # --- chunked request bodies (were refused with 411) -------------------------------------

    def test_chunked_body_is_decoded(self):
        s = self.s.tls_socket()
        resp = http_exchange(s, b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
        s.close()
        self.assertEqual(status_of(resp), 200, resp[:200])
        self.assertTrue(resp.endswith(b"hello world"), resp[-50:])
        resp = self.raw(b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                        b"Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(status_of(resp), 400)

    # --- finding 2: body_timeout is a deadline ----------------------------------------------

    def test_body_timeout_is_a_deadline_not_an_idle_timer(self):
        s = self.s.tls_socket()
        s.sendall(b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")
        start = time.time()
        got = b""
        s.settimeout(0.5)
        # One byte every half second: each arrives well within body_timeout (3s) of the last.
        while time.time() - start < 10:
            try:
                s.sendall(b"x")
            except OSError:
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
                if b"\r\n\r\n" in got:
                    break
            except socket.timeout:
                pass
        elapsed = time.time() - start
        s.close()
        self.assertLess(elapsed, 5, "the body deadline (3s) did not hold")
        self.assertEqual(status_of(got), 408, got[:100])

    def test_a_body_arriving_at_a_fair_rate_may_take_longer_than_body_timeout(self):
        # 16 KB every 0.25 s (64 KB/s, over body_min_rate) for about 4.5 s: past body_timeout (3s).
        s = self.s.tls_socket()
        s.settimeout(10)
        chunk, n = b"r" * 16384, 18
        s.sendall(b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (len(chunk) * n))
        start = time.time()
        for _ in range(n):
            s.sendall(chunk)
            time.sleep(0.25)
        resp = http_exchange(s, b"")
        s.close()
        self.assertGreater(time.time() - start, 3.5)
        self.assertEqual(status_of(resp), 200, resp[:100])
        self.assertEqual(len(resp.partition(b"\r\n\r\n")[2]), len(chunk) * n)

    # --- finding 1: request bodies have a server-wide budget --------------------------------

    def test_unfinished_bodies_are_bounded_by_the_budget(self):
        before = rss_kb(self.s.proc.pid)
        socks, statuses = [], []
        body = b"b" * (900 * 1024)
        for _ in range(20):  # 18 MB offered against a 4 MB budget
            s = self.s.tls_socket()
            s.settimeout(5)
            s.sendall(b"POST /testbed/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (len(body) + 1))
            try:
                s.sendall(body)
            except OSError:
                pass
            socks.append(s)
        time.sleep(0.5)
        grown = rss_kb(self.s.proc.pid) - before
        for s in socks:
            s.settimeout(0.2)
            try:
                statuses.append(status_of(s.recv(200)))
            except (socket.timeout, OSError):
                statuses.append(0)
            s.close()
        self.assertIn(503, statuses)
        assert_rss_growth_below(self, grown, 16 * 1024)
        metrics = self.s.curl("/metrics")[2].decode()
        self.assertRegex(metrics, r"palaver_http_request_body_bytes_buffered \d+")
        self.assert_alive()

    def test_anonymous_body_for_a_token_route_is_refused_before_it_is_read(self):
        for http2 in (False, True):
            if http2:
                body = os.path.join(self.s.dir, "small-body")
                with open(body, "wb") as f:
                    f.write(b"x" * 200000)
                out = nghttp(self.s, "/api/kvs/v1/kv/user/meet/x", args=("-H", ":method: PUT", "-d", body))
                self.assertIn(403, h2_statuses(out).values(), out[-1500:])
                continue
            # Headers only, without a token or with a forged one: the answer must come without the body.
            for auth in (b"", b"Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.forged\r\n"):
                s = self.s.tls_socket()
                s.settimeout(5)
                s.sendall(b"PUT /api/kvs/v1/kv/user/meet/x HTTP/1.1\r\nHost: localhost\r\n" + auth +
                          b"Content-Length: 16000000\r\n\r\n")
                resp = s.recv(4096)
                s.close()
                self.assertEqual(status_of(resp), 403, (auth, resp[:200]))

    # --- finding 7: answers held for a client that does not read ---------------------------

    def test_h2_zero_window_client_cannot_make_the_server_hold_every_answer(self):
        def hpack_literal(name, value):
            out = b"\x00"
            for part in (name.encode(), value.encode()):
                assert len(part) < 127
                out += bytes([len(part)]) + part
            return out

        def frame(kind, flags, stream, payload):
            return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

        ctx = ssl.create_default_context(cafile=self.s.ca)
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.s.https_port), timeout=5),
                            server_hostname="localhost")
        self.assertEqual(s.selected_alpn_protocol(), "h2")
        before = rss_kb(self.s.proc.pid)
        refused_before = self.metric("palaver_http_responses_refused_total")
        # A stream window of 0: the server may send headers but no DATA until the client allows it.
        out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, struct.pack(">HI", 4, 0))
        for i in range(60):  # 60 answers of 1 MiB each
            block = b"".join(hpack_literal(n, v) for n, v in ((":method", "GET"), (":scheme", "https"),
                                                              (":path", "/testbed/big?kb=1024"),
                                                              (":authority", "localhost")))
            out += frame(1, 0x5, 2 * i + 1, block)
        s.sendall(out)
        wait_until(lambda: self.metric("palaver_http_responses_refused_total") != refused_before,
                   what="a refused response counted")
        time.sleep(0.5)
        grown = rss_kb(self.s.proc.pid) - before
        held = self.metric("palaver_http_response_body_bytes_held")
        s.close()
        self.assertGreater(self.metric("palaver_http_responses_refused_total"), refused_before)
        self.assertLessEqual(held, 16 * 1024 * 1024)
        assert_rss_growth_below(self, grown, 40 * 1024)
        # Released with the connection.
        wait_until(lambda: self.metric("palaver_http_response_body_bytes_held") == 0, timeout=5,
                   what="response bodies released")
        self.assert_alive()

    def metric(self, name):
        return metric(self.s, name) or 0

    # --- finding 5: HTTP/2 PING flood -------------------------------------------------------

    def test_h2_ping_flood_is_cut_off(self):
        ctx = ssl.create_default_context(cafile=self.s.ca)
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", self.s.https_port), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.assertEqual(s.selected_alpn_protocol(), "h2")
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0))
        ping = struct.pack(">I", 8)[1:] + bytes([6, 0]) + struct.pack(">I", 0) + b"12345678"
        before = rss_kb(self.s.proc.pid)
        s.settimeout(2)
        sent, closed = 0, False
        batch = ping * 1000
        deadline = time.time() + 20
        while sent < 3_000_000 and time.time() < deadline:  # never reads the ACKs
            try:
                s.sendall(batch)
                sent += 1000
            except (socket.timeout, OSError):
                closed = True
                break
        grown = rss_kb(self.s.proc.pid) - before
        s.close()
        self.assertTrue(closed, f"{sent} PINGs sent and the connection is still open")
        assert_rss_growth_below(self, grown, 16 * 1024)
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()
