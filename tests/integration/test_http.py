"""HTTP behaviour of the real palaverd: HTTP/2 by ALPN, static files, headers, bad input."""
import gzip
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from harness import PALAVERD_TESTBED, SOURCE, Palaverd, PalaverTestCase, http_exchange, status_of, wait_until, write

BIG = 3 * 1024 * 1024


def make_site():
    root = tempfile.mkdtemp(prefix="palaver-site-")
    meet = os.path.join(root, "meet")
    write(os.path.join(meet, "index.html"), "<!doctype html><title>Meet</title><p>index</p>")
    js = "console.log('palaver');\n" * 400
    write(os.path.join(meet, "assets", "app-B6xk9aQ2.js"), js)
    with open(os.path.join(meet, "assets", "app-B6xk9aQ2.js.gz"), "wb") as f:
        f.write(gzip.compress(js.encode()))
    write(os.path.join(meet, "service-worker.js"), "self.addEventListener('fetch', () => {});")
    write(os.path.join(meet, ".env"), "SECRET=1")
    with open(os.path.join(meet, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    write(os.path.join(root, "secret.txt"), "outside the meet root")
    return root


class StaticAndHeaders(PalaverTestCase):
    site = staticmethod(make_site)

    def test_http2_is_negotiated_by_alpn(self):
        status, _, body, version = self.server.curl("/meet/", http="--http2")
        self.assertEqual((status, version), (200, "2"))
        self.assertIn(b"index", body)
        status, _, _, version = self.server.curl("/meet/", http="--http1.1")
        self.assertEqual((status, version), (200, "1.1"))

    def test_nghttp_client_speaks_h2(self):
        r = subprocess.run(["nghttp", "-nv",
                            f"https://127.0.0.1:{self.server.https_port}/meet/"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("h2", r.stdout)
        self.assertIn(":status: 200", r.stdout)

    def test_index_headers(self):
        status, h, _, _ = self.server.curl("/meet/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertEqual(h["strict-transport-security"], "max-age=31536000")
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        csp = h["content-security-policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn(f"connect-src 'self' wss://localhost:{self.server.https_port};", csp)
        self.assertIn("frame-ancestors 'self'", csp)  # Meet frames itself for silent renew
        self.assertEqual(h["x-frame-options"], "SAMEORIGIN")
        # Over HTTP/2 the host comes from :authority.
        _, h2, _, version = self.server.curl("/meet/", http="--http2")
        self.assertEqual(version, "2")
        self.assertIn(f"connect-src 'self' wss://localhost:{self.server.https_port};", h2["content-security-policy"])

    def test_spa_fallback_and_missing_assets(self):
        for path in ["/meet/r/call", "/meet/r/group/public/team%20x", "/meet/r/join/conference/a/b"]:
            status, h, body, _ = self.server.curl(path)
            self.assertEqual(status, 200, path)
            self.assertIn(b"index", body)
            self.assertEqual(h["cache-control"], "no-cache")
        status, _, _, _ = self.server.curl("/meet/assets/missing-X1y2Z3w4.js")
        self.assertEqual(status, 404)

    def test_redirects_to_slash(self):
        status, h, _, _ = self.server.curl("/meet")
        self.assertEqual(status, 301)
        self.assertEqual(h["location"], "/meet/")
        status, h, _, _ = self.server.curl("/")
        self.assertEqual((status, h["location"]), (302, "/meet/"))

    def test_hashed_asset_is_immutable_and_precompressed(self):
        status, h, body, _ = self.server.curl("/meet/assets/app-B6xk9aQ2.js", "-H", "Accept-Encoding: gzip")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-encoding"], "gzip")
        self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
        self.assertEqual(h["vary"], "Accept-Encoding")
        self.assertEqual(gzip.decompress(body).decode().count("palaver"), 400)
        status, h, body, _ = self.server.curl("/meet/assets/app-B6xk9aQ2.js")
        self.assertNotIn("content-encoding", h)
        self.assertEqual(body.decode().count("palaver"), 400)
        self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")

    def test_service_worker_not_cached(self):
        status, h, _, _ = self.server.curl("/meet/service-worker.js")
        self.assertEqual((status, h["cache-control"]), (200, "no-cache"))

    def test_etag_and_if_none_match(self):
        _, h, _, _ = self.server.curl("/meet/index.html")
        etag = h["etag"]
        status, h2, body, _ = self.server.curl("/meet/index.html", "-H", f"If-None-Match: {etag}")
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        status, _, _, _ = self.server.curl("/meet/index.html", "-H", 'If-None-Match: "other"')
        self.assertEqual(status, 200)
        # The gzip variant has its own ETag.
        _, hg, _, _ = self.server.curl("/meet/assets/app-B6xk9aQ2.js", "-H", "Accept-Encoding: gzip")
        _, hi, _, _ = self.server.curl("/meet/assets/app-B6xk9aQ2.js")
        self.assertNotEqual(hg["etag"], hi["etag"])

    def test_byte_ranges(self):
        full = open(os.path.join(self.server.site, "meet", "big.bin"), "rb").read()
        status, h, body, _ = self.server.curl("/meet/big.bin", "-H", "Range: bytes=10-19")
        self.assertEqual(status, 206)
        self.assertEqual(h["content-range"], f"bytes 10-19/{BIG}")
        self.assertEqual(body, full[10:20])
        status, h, body, _ = self.server.curl("/meet/big.bin", "-H", "Range: bytes=-5", http="--http2")
        self.assertEqual((status, body), (206, full[-5:]))
        status, h, _, _ = self.server.curl("/meet/big.bin", "-H", f"Range: bytes={BIG}-")
        self.assertEqual(status, 416)
        self.assertEqual(h["content-range"], f"bytes */{BIG}")

    def test_large_file_streams_intact_over_h1_and_h2(self):
        full = open(os.path.join(self.server.site, "meet", "big.bin"), "rb").read()
        for http in ("--http1.1", "--http2"):
            status, h, body, _ = self.server.curl("/meet/big.bin", http=http)
            self.assertEqual(status, 200)
            self.assertEqual(int(h["content-length"]), BIG)
            self.assertEqual(body, full, http)

    def test_head_has_length_but_no_body(self):
        status, h, body, _ = self.server.curl("/meet/big.bin", "-I")
        self.assertEqual(status, 200)
        self.assertEqual(int(h["content-length"]), BIG)
        # The connection stays usable after HEAD: two requests on one connection.
        with self.server.tls_socket() as s:
            r1 = http_exchange(s, b"HEAD /meet/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(status_of(r1), 200)
            self.assertFalse(r1.split(b"\r\n\r\n", 1)[1])
            r2 = http_exchange(s, b"GET /meet/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(status_of(r2), 200)
            self.assertIn(b"index", r2)

    def test_path_traversal_is_refused(self):
        for path in ["/meet/../secret.txt", "/meet/../../etc/passwd", "/meet/%2e%2e/secret.txt",
                     "/meet/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/meet/..%2fsecret.txt", "/meet/.env",
                     "/meet/%2eenv", "/meet/assets/..%5c..%5csecret.txt"]:
            status, _, body, _ = self.server.curl(path, "--path-as-is")
            self.assertIn(status, (400, 404), path)  # refused; never served (200) or an error (5xx)
            self.assertNotIn(b"outside the meet root", body, path)
            self.assertNotIn(b"root:", body, path)
            self.assertNotIn(b"SECRET", body, path)

    def test_meet_config_json(self):
        status, h, body, _ = self.server.curl("/api/config/v1/kopano/meet/config.json", "-H", "Kopano-XSRF: 1")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertEqual(h["cache-control"], "no-cache, no-store, must-revalidate")
        cfg = json.loads(body)
        self.assertEqual(cfg["apiPrefix"], "/api/gc/v1")
        self.assertFalse(cfg["guests"]["enabled"])
        self.assertIn("kopano/kwm", cfg["oidc"]["scope"])
        status, _, _, _ = self.server.curl("/api/config/v1/kopano/other/config.json")
        self.assertEqual(status, 404)

    def test_unknown_route_and_method(self):
        status, _, _, _ = self.server.curl("/nope")
        self.assertEqual(status, 404)
        status, h, _, _ = self.server.curl("/healthz", "-X", "DELETE")
        self.assertEqual(status, 405)
        self.assertIn("GET", h["allow"])
        status, _, _, _ = self.server.curl("/healthz", "-X", "FROBNICATE")
        self.assertEqual(status, 405)  # an unknown method: the route exists, the method does not
        status, _, _, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)


class ListenAddress(PalaverTestCase):
    def test_ipv4_listen_address_binds_only_that_address(self):
        # [palaver] listen = 127.0.0.1 (the harness default): nothing on ::1 or other addresses.
        import socket as _socket
        for port in (self.server.https_port, self.server.http_port):
            with _socket.create_connection(("127.0.0.1", port), timeout=3):
                pass
            try:
                with _socket.socket(_socket.AF_INET6, _socket.SOCK_STREAM) as s6:
                    s6.settimeout(3)
                    self.assertNotEqual(s6.connect_ex(("::1", port)), 0, f"port {port} answers on ::1")
            except OSError:
                pass  # no IPv6 here at all


class PlainListener(PalaverTestCase):
    def test_redirects_to_https_keeping_path_and_query(self):
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                            f"http://127.0.0.1:{self.server.http_port}/meet/r/call?x=1&y=a%20b"],
                           capture_output=True, text=True, timeout=20)
        code, location = r.stdout.split(" ", 1)
        self.assertEqual(code, "301")
        # To a name the certificate covers: the canonical host for an address or unknown name,
        # the name asked for when it is one of `hostnames` (issue 15).
        self.assertEqual(location, f"https://localhost:{self.server.https_port}/meet/r/call?x=1&y=a%20b")
        for host, expected in (("LocalHost", "localhost"), ("evil.example", "localhost")):
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{redirect_url}", "-H", f"Host: {host}",
                                f"http://127.0.0.1:{self.server.http_port}/x"], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.stdout, f"https://{expected}:{self.server.https_port}/x")

    def test_acme_challenge_path_is_not_redirected(self):
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.server.http_port}/.well-known/acme-challenge/token"],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.stdout, "301")

    def test_bad_host_header_does_not_reach_location(self):
        with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5) as s:
            resp = http_exchange(s, b"GET / HTTP/1.1\r\nHost: evil.example\"><script>\r\n\r\n")
        self.assertNotIn(b"<script>", resp)


class BadInput(PalaverTestCase):
    sections = {"palaver": {"max_connections_per_ip": "8", "max_header_size": "4k"}}

    def raw(self, data, tls=True):
        if tls:
            s = self.server.tls_socket()
        else:
            s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5)
        with s:
            try:
                return http_exchange(s, data)
            except socket.timeout:
                # A hang is a failure, never "status 0": every bad request gets an answer or a close.
                raise AssertionError(f"no answer and no close within 5 s for {data[:80]!r}") from None
            except OSError:  # reset or closed by the server: no response (status 0)
                return b""

    def assert_alive(self):
        status, _, _, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)

    def test_malformed_request_lines(self):
        for junk in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /x HTTP/9.9\r\nHost: a\r\n\r\n",
                     b"\x00\x01\x02\x03\r\n\r\n", b"GET /meet/ HTTP/1.1\r\nNoColonHere\r\n\r\n"]:
            resp = self.raw(junk)
            # An unparseable request line gets 400 (505 for an unknown version) at once. (Bytes
            # starting with 0x00/0x01 are a STUN message on the TLS port: TURN's, not HTTP's.)
            self.assertIn(status_of(resp), (0, 400, 505) if junk[0] <= 1 else (400, 505), junk)
            self.assert_alive()

    def test_oversized_headers_get_431(self):
        for header in (b"Cookie: ", b"Authorization: Bearer ", b"User-Agent: "):
            big = b"GET /meet/ HTTP/1.1\r\nHost: localhost\r\n" + header + b"a" * 8000 + b"\r\n\r\n"
            resp = self.raw(big)
            self.assertEqual(status_of(resp), 431, resp[:200])
        long_url = b"GET /meet/?q=" + b"x" * 8000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
        self.assertEqual(status_of(self.raw(long_url)), 431)
        self.assert_alive()

    def test_header_block_far_beyond_the_limit_gets_431(self):
        # 80 KB of headers the server has no name for: answered 431 like any other oversized head.
        huge = b"GET /meet/ HTTP/1.1\r\nHost: localhost\r\n" + b"".join(
            b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(80)) + b"\r\n"
        resp = self.raw(huge)
        self.assertEqual(status_of(resp), 431)
        self.assert_alive()

    def test_oversized_body_gets_413(self):
        # The log-level route takes at most 4 KB.
        status, _, _, _ = self.server.curl("/admin/api/v1/log-levels", "-X", "PUT", "--data-binary", "x" * 10000)
        self.assertEqual(status, 413)
        self.assert_alive()

    def test_slow_header_client_is_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # never finishes the headers
        start = time.time()
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        elapsed = time.time() - start
        s.close()
        self.assertIn(status_of(data), (0, 408), data)
        self.assertLess(elapsed, 9, "header_timeout is 3s in this test")
        self.assert_alive()

    def test_slow_body_client_is_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
        # The plain listener only redirects, so use TLS to reach a body-taking route.
        s.close()
        t = self.server.tls_socket()
        t.settimeout(10)
        t.sendall(b"PUT /admin/api/v1/log-levels HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nweb=")
        start = time.time()
        try:
            data = t.recv(100)
        except (ConnectionResetError, OSError):
            data = b""
        elapsed = time.time() - start
        t.close()
        self.assertIn(status_of(data), (0, 408))
        self.assertLess(elapsed, 9, "body_timeout is 3s in this test")
        self.assert_alive()

class ConnectionLimit(PalaverTestCase):
    # A long header timeout, so that idle test sockets are never closed by it while the test runs
    # on a busy machine.
    sections = {"palaver": {"max_connections_per_ip": "8", "header_timeout": "60s"}}

    def assert_alive(self):
        status, _, _, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)

    def test_too_many_connections_from_one_address(self):
        socks = []
        try:
            for _ in range(8):
                socks.append(socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5))
            time.sleep(0.3)
            extra = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=5)
            extra.settimeout(5)
            try:
                extra.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = extra.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            extra.close()
            self.assertEqual(data, b"", "the 9th connection must be refused")
        finally:
            for s in socks:
                s.close()
        # The closed connections are released: wait for the server to take a new one, not a fixed time.
        wait_until(lambda: self.server.curl("/healthz", check=False)[0] == 200, timeout=5, what="a connection accepted again")
        _, _, body, _ = self.server.curl("/metrics")
        self.assertRegex(body.decode(), r"palaver_http_connections_refused_total(\{[^}]*\})? [1-9]")


class MetricsAndHealth(PalaverTestCase):
    def test_metrics_on_loopback(self):
        self.server.curl("/meet/")
        status, h, body, _ = self.server.curl("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        self.assertRegex(text, r'palaver_http_requests_total\{route="web",code="200"\} [1-9]')
        self.assertIn("palaver_http_connections_open", text)
        self.assertIn('palaver_module_health{module="web",state="ok"} 1', text)
        self.assertIn('palaver_module_health{module="web",state="failed"} 0', text)

    def test_detailed_health_on_loopback(self):
        status, _, body, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)
        health = json.loads(body)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["modules"]["web"]["status"], "ok")

    def test_log_levels_route(self):
        # Readable by the monitoring audience; changes need an administrator (test_admin.py).
        status, _, body, _ = self.server.curl("/admin/api/v1/log-levels")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["web"], "info")
        status, _, _, _ = self.server.curl("/admin/api/v1/log-levels", "-X", "PUT", "--data-binary", "web=debug")
        self.assertEqual(status, 401)
        status, _, _, _ = self.server.curl("/admin/api/v1/log-levels", "-H", "Origin: https://evil.example")
        self.assertEqual(status, 403)


class MetricsFromOutside(unittest.TestCase):
    """With loopback not in metrics_allow, the world sees only the overall status."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="palaver-token-")
        cls.token = "t0ken-" + "x" * 20
        write(os.path.join(cls.dir, "token"), cls.token + "\n", 0o600)
        cls.server = Palaverd({"palaver": {"metrics_allow": "10.0.0.0/8",
                                           "metrics_token_file": os.path.join(cls.dir, "token")}})

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_metrics_refused_without_token(self):
        status, _, body, _ = self.server.curl("/metrics")
        self.assertEqual(status, 403)
        self.assertNotIn(b"palaver_http_requests_total", body)
        status, _, _, _ = self.server.curl("/metrics", "-H", "Authorization: Bearer wrong-token-xxxxxxxxxxxx")
        self.assertEqual(status, 403)

    def test_metrics_with_token(self):
        status, _, body, _ = self.server.curl("/metrics", "-H", f"Authorization: Bearer {self.token}")
        self.assertEqual(status, 200)
        self.assertIn(b"palaver_http_requests_total", body)

    def test_health_is_summary_only(self):
        status, _, body, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_log_levels_are_not_for_an_untrusted_address(self):
        # Loopback is outside metrics_allow here: without an administrator's token, reading the
        # live log levels is refused like changing them, and the answer names no logger.
        status, _, body, _ = self.server.curl("/admin/api/v1/log-levels")
        self.assertEqual(status, 401)
        self.assertNotIn(b'"web"', body)
        status, _, body, _ = self.server.curl("/admin/api/v1/log-levels", "-X", "PUT", "--data-binary", "web=debug")
        self.assertEqual(status, 401)
        self.assertNotIn("log level changed", self.server.stderr())

    def test_token_is_not_logged(self):
        self.server.curl("/metrics", "-H", f"Authorization: Bearer {self.token}")
        self.assertNotIn(self.token, self.server.stderr())


MEET_CONFIG = "/api/config/v1/kopano/meet/config.json"
SETTINGS = "/admin/api/v1/settings"


class MeetConfigFromSettings(unittest.TestCase):
    """config.json built from the settings that govern it, changed through the admin API (issue 11,
    defect 5), over HTTP/1.1 and HTTP/2."""
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        cls.s.add_user("root", "pw", "--admin")
        cls.s.start()
        cls.root = cls.s.mint_token("root openid")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def config(self, http):
        status, h, body, version = self.s.curl(MEET_CONFIG, "-H", "Kopano-XSRF: 1", http=http)
        self.assertEqual((status, version), (200, "2" if http == "--http2" else "1.1"))
        self.assertTrue(h["content-type"].startswith("application/json"))
        return json.loads(body)

    def put(self, key, value):
        status, _, body, _ = self.s.curl(f"{SETTINGS}/{key}", "-X", "PUT", "-H", f"Authorization: Bearer {self.root}",
                                         "-H", "Content-Type: application/json", "--data-binary",
                                         json.dumps({"value": value}))
        self.assertEqual(status, 200, body)

    def test_values_follow_the_settings(self):
        for http in ("--http1.1", "--http2"):
            with self.subTest(http=http):
                self.put("signaling.guests_enabled", False)
                self.put("signaling.public_guest_access_regexp", "^group/public/.*")
                self.put("web.guests_default", False)
                self.put("web.disable_remote_talking_detection", False)
                cfg = self.config(http)
                # The original's defaults, and signaling's own public rooms (not Meet's constant).
                self.assertEqual(cfg["guests"], {"enabled": False, "default": None,
                                                 "publicGroupRegexp": "^group/public/.*",
                                                 "defaultPublicGroupPrefix": "public/", "defaultAudioOnly": False})
                self.assertIs(cfg["disableRemoteTalkingDetection"], False)
                self.assertIs(cfg["disableFullGAB"], False)
                self.assertIs(cfg["useIdentifiedUser"], False)

                # The admin opens guest access to two kinds of rooms.
                self.put("signaling.guests_enabled", True)
                self.put("signaling.public_guest_access_regexp", "^group/(extern|public)/.*")
                self.put("web.guests_default", True)
                self.put("web.disable_remote_talking_detection", True)
                cfg = self.config(http)
                self.assertEqual(cfg["guests"], {"enabled": True, "default": "1",
                                                 "publicGroupRegexp": "^group/(extern|public)/.*",
                                                 "defaultPublicGroupPrefix": "extern/", "defaultAudioOnly": False})
                self.assertIs(cfg["disableRemoteTalkingDetection"], True)

                # No public rooms: Meet offers none (an empty JavaScript RegExp would match all).
                self.put("signaling.public_guest_access_regexp", "")
                self.assertEqual(self.config(http)["guests"]["publicGroupRegexp"], "(?!)")
                # guests.default only while guests may log on at all.
                self.put("signaling.guests_enabled", False)
                self.assertIsNone(self.config(http)["guests"]["default"])

    def test_settings_are_typed(self):
        status, _, _, _ = self.s.curl(f"{SETTINGS}/web.guests_default", "-X", "PUT", "-H",
                                      f"Authorization: Bearer {self.root}", "-H", "Content-Type: application/json",
                                      "--data-binary", '{"value": "1"}')
        self.assertEqual(status, 400)


class Favicon(unittest.TestCase):
    """The app's icon at /favicon.ico (issue 11, defect 9)."""
    def test_the_apps_icon(self):
        s = Palaverd()
        try:
            icon = open(os.path.join(s.site, "meet", "favicon.ico"), "rb").read()
            for http in ("--http1.1", "--http2"):
                status, h, body, _ = s.curl("/favicon.ico", http=http)
                self.assertEqual((status, h["content-type"]), (200, "image/x-icon"))
                self.assertEqual(body, icon)
        finally:
            s.close()

    def test_built_in_icon_when_the_app_has_none(self):
        import tempfile
        site = tempfile.mkdtemp(prefix="palaver-site-")
        os.makedirs(os.path.join(site, "meet"))
        s = Palaverd(site=site)
        try:
            status, h, body, _ = s.curl("/favicon.ico")
            self.assertEqual((status, h["content-type"]), (200, "image/x-icon"))
            self.assertEqual(body[:4], b"\x00\x00\x01\x00")  # an ICO header
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
