"""`[palaver] trusted_proxies`: X-Forwarded-For (or RFC 7239 Forwarded) names the client only
when the TCP peer is a configured proxy; then the access log, sign-in logs and the per-address
sign-in limit, the metrics allow-list and the per-address connection limit see the real client.
The proxy is played by connections from 127.0.0.2, ordinary clients come from 127.0.0.1."""
import json
import re
import socket
import ssl
import time
import unittest

from harness import Palaverd, http_exchange, status_of

PROXY = "127.0.0.2"
API = "/signin/v1/identifier/_"


class TrustedProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"trusted_proxies": f"{PROXY}, ::1", "access_log": "yes",
                                      "log_levels": "net=debug", "max_connections_per_ip": "3"}},
                         expect_start=False)
        cls.s.add_user("anna", "anna-secret")
        cls.s.start()
        cls.origin = f"https://localhost:{cls.s.https_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def connect(self, source, alpn=("http/1.1",)):
        ctx = ssl.create_default_context(cafile=self.s.ca)
        ctx.set_alpn_protocols(list(alpn))
        raw = socket.create_connection(("127.0.0.1", self.s.https_port), timeout=10, source_address=(source, 0))
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def get(self, source, path, headers=()):
        with self.connect(source) as sock:
            req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n" + "".join(f"{h}\r\n" for h in headers) + \
                  "Connection: close\r\n\r\n"
            return http_exchange(sock, req.encode())

    def access_line(self, path, since, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.s.stderr()[since:].splitlines():
                if f" path={path} " in line and "[access]" in line:
                    return line
            time.sleep(0.05)
        self.fail(f"no access line for {path}:\n{self.s.stderr()[since:]}")

    def addr_of(self, source, path, headers=()):
        since = len(self.s.stderr())
        self.assertEqual(status_of(self.get(source, path, headers)), 404)
        return re.search(r"addr=(\S+)", self.access_line(path, since)).group(1)

    def test_headers_from_an_untrusted_peer_are_ignored(self):
        self.assertEqual(self.addr_of("127.0.0.1", "/nope-1", ["X-Forwarded-For: 203.0.113.9"]), "127.0.0.1")
        self.assertEqual(self.addr_of("127.0.0.1", "/nope-2", ["Forwarded: for=203.0.113.9"]), "127.0.0.1")

    def test_trusted_proxy_names_the_rightmost_untrusted_hop(self):
        self.assertEqual(self.addr_of(PROXY, "/nope-3", ["X-Forwarded-For: 6.6.6.6, 203.0.113.7"]), "203.0.113.7")
        # The proxy's own chain (::1 is trusted too) is skipped; IPv6 comes out canonical.
        self.assertEqual(self.addr_of(PROXY, "/nope-4", ["X-Forwarded-For: 2001:DB8::7", "X-Forwarded-For: ::1"]),
                         "2001:db8::7")
        # Only the configured header (x-forwarded-for) is read: a Forwarded header passes
        # through Apache unchanged, so a client could forge it.
        self.assertEqual(self.addr_of(PROXY, "/nope-5", ["Forwarded: for=6.6.6.6"]), PROXY)
        # No header: a request the proxy makes on its own.
        self.assertEqual(self.addr_of(PROXY, "/nope-6"), PROXY)

    def test_malformed_headers_are_ignored_with_a_debug_line(self):
        for i, value in enumerate(("evil.example", "203.0.113.7,", "1.2.3.4\t5.6.7.8", "unknown")):
            self.assertEqual(self.addr_of(PROXY, f"/bad-{i}", [f"X-Forwarded-For: {value}"]), PROXY)
        log = self.s.stderr()
        self.assertIn("forwarding header ignored proxy=127.0.0.2 header=x-forwarded-for reason=malformed", log)
        self.assertIn("forwarding header ignored proxy=127.0.0.2 header=x-forwarded-for reason=unknown_hop", log)
        status, _, body, _ = self.s.curl("/metrics")
        self.assertEqual(status, 200)
        m = re.search(rb"^palaver_http_forwarded_headers_ignored_total (\d+)", body, re.M)
        self.assertIsNotNone(m, body[:2000])
        self.assertGreaterEqual(int(m.group(1)), 4)
        # palaverd still serves the proxy normally.
        self.assertEqual(status_of(self.get(PROXY, "/healthz", ["X-Forwarded-For: evil.example"])), 200)

    def test_http2_requests_too(self):
        since = len(self.s.stderr())
        status, _, _, version = self.s.curl("/nope-h2", "--interface", PROXY, "-H", "X-Forwarded-For: 198.51.100.4",
                                            http="--http2")
        self.assertEqual((status, version), (404, "2"))
        line = self.access_line("/nope-h2", since)
        self.assertIn("addr=198.51.100.4 ", line)
        self.assertIn("proto=h2", line)

    def test_metrics_allow_list_sees_the_forwarded_client(self):
        # Loopback may read /metrics, a client forwarded by the proxy may not.
        self.assertEqual(status_of(self.get(PROXY, "/metrics")), 200)
        self.assertEqual(status_of(self.get(PROXY, "/metrics", ["X-Forwarded-For: 203.0.113.7"])), 403)
        self.assertEqual(status_of(self.get("127.0.0.1", "/metrics", ["X-Forwarded-For: 203.0.113.7"])), 200)

    def test_connection_limit_per_address_does_not_apply_to_the_proxy(self):
        held = [self.connect(PROXY) for _ in range(5)]
        try:
            for sock in held:
                self.assertEqual(status_of(http_exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")),
                                 200)
        finally:
            for sock in held:
                sock.close()
        direct = [self.connect("127.0.0.1") for _ in range(3)]
        try:
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                extra = self.connect("127.0.0.1")
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                if not extra.recv(1):
                    raise ConnectionError("closed")
        finally:
            for sock in direct:
                sock.close()

    def logon(self, source_headers, user, password):
        args = ["-X", "POST", "-H", "Content-Type: application/json", "-H", f"Origin: {self.origin}",
                "-H", "Kopano-Konnect-XSRF: 1",
                "--data-binary", json.dumps({"state": "st", "params": [user, password, "1"]})]
        source, headers = source_headers
        args += ["--interface", source]
        for h in headers:
            args += ["-H", h]
        return self.s.curl(f"{API}/logon", *args)[0]

    def test_sign_in_limit_and_logs_see_the_real_client(self):
        client_a = (PROXY, ["X-Forwarded-For: 203.0.113.70"])
        client_b = (PROXY, ["X-Forwarded-For: 203.0.113.71"])
        # 20 failed sign-ins from one address (each under another name: the per-account limit is 5).
        for i in range(20):
            self.assertEqual(self.logon(client_a, f"nobody{i}", "wrong"), 204)
        self.assertIn("sign-in failed user=nobody0 addr=203.0.113.70 reason=bad_credentials", self.s.stderr())
        self.assertEqual(self.logon(client_a, "anna", "anna-secret"), 429)
        self.assertIn("sign-in refused user=anna addr=203.0.113.70 reason=rate_limited", self.s.stderr())
        # Another client behind the same proxy, and the proxy host itself, are not limited.
        self.assertEqual(self.logon(client_b, "anna", "anna-secret"), 200)
        self.assertIn("signed in user=anna addr=203.0.113.71", self.s.stderr())
        self.assertEqual(self.logon(("127.0.0.1", ["X-Forwarded-For: 203.0.113.70"]), "anna", "anna-secret"), 200)


class TrustedProxyForwarded(unittest.TestCase):
    """proxy_header = forwarded (RFC 7239), and trusted_proxies applied on reload."""

    def setUp(self):
        self.s = Palaverd({"palaver": {"trusted_proxies": "", "proxy_header": "forwarded", "access_log": "yes"}})

    def tearDown(self):
        self.s.close()

    def addr_of(self, path, value):
        since = len(self.s.stderr())
        ctx = ssl.create_default_context(cafile=self.s.ca)
        raw = socket.create_connection(("127.0.0.1", self.s.https_port), timeout=10, source_address=(PROXY, 0))
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nForwarded: {value}\r\nConnection: close\r\n\r\n"
            self.assertEqual(status_of(http_exchange(sock, req.encode())), 404)
        deadline = time.time() + 5
        while time.time() < deadline:
            m = re.search(rf"addr=(\S+) method=GET path={re.escape(path)} ", self.s.stderr()[since:])
            if m:
                return m.group(1)
            time.sleep(0.05)
        self.fail("no access line:\n" + self.s.stderr()[since:])

    def test_forwarded_header_after_reload(self):
        value = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https'
        self.assertEqual(self.addr_of("/a", value), PROXY)  # nobody trusted yet
        self.s.sections["palaver"]["trusted_proxies"] = f"{PROXY}/32"
        self.s.write_config()
        tail = self.s.reload()
        self.assertIn("reload applied", tail)
        self.assertNotIn("restart", tail)
        self.assertEqual(self.addr_of("/b", value), "2001:db8:cafe::17")
        self.assertEqual(self.addr_of("/c", "for=_hidden"), PROXY)

    def test_bad_values_are_config_errors(self):
        self.s.sections["palaver"]["trusted_proxies"] = "127.0.0.1, apache.example"
        self.s.sections["palaver"]["proxy_header"] = "x-real-ip"
        self.s.write_config()
        code, _, err = self.s.run_once()
        self.assertNotEqual(code, 0)
        self.assertIn("trusted_proxies", err)
        self.assertIn('"apache.example" is not an address or CIDR range', err)
        self.assertIn("proxy_header", err)


if __name__ == "__main__":
    unittest.main()
