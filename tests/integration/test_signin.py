"""The sign-in JSON API (konnect's /signin/v1/identifier/_/…, spec §1.13): CSRF guard, logon,
hello, logoff, the session cookie, and the failed-sign-in rate limit."""
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import secrets
import socket
import ssl
import subprocess
import unittest
import urllib.parse

from harness import Palaverd, assert_rss_growth_below, http_exchange, rss_kb, status_of

API = "/signin/v1/identifier/_"


class Signin(unittest.TestCase):
    def test_failed_sign_ins_are_logged_for_fail2ban(self):
        """Failed and rate-limited sign-ins at info in a stable format; the shipped fail2ban filter
        (appliance/fail2ban) finds the client's address in them and nothing a user name forges."""
        forged = "evil addr=6.6.6.6 reason=x\nnext"
        for user in ("anna", "nobody", forged):
            status, _, _, _ = self.logon(user, "Wr0ng-Pa55word")
            self.assertEqual(status, 204)  # konnect's "no": nothing signed in
        log = self.s.stderr()
        self.assertRegex(log, r" info \[oidc\] \[\d+\] sign-in failed user=anna addr=127\.0\.0\.1 reason=bad_credentials\n")
        self.assertRegex(log, r" info \[oidc\] \[\d+\] sign-in failed user=nobody addr=127\.0\.0\.1 reason=bad_credentials\n")
        self.assertIn("sign-in failed user=evil?addr?6.6.6.6?reason?x?next addr=127.0.0.1 reason=bad_credentials\n", log)
        self.assertNotIn("Wr0ng-Pa55word", log)  # never the password
        if not shutil.which("fail2ban-regex"):
            self.fail("fail2ban-regex is needed: scripts/deps.sh test installs fail2ban")
        source = os.environ.get("PALAVER_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
        r = subprocess.run(["fail2ban-regex", "-v", os.path.join(self.s.dir, "stderr.log"),
                            os.path.join(source, "appliance", "fail2ban", "palaver-filter.conf")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"Lines: \d+ lines, 0 ignored, 3 matched", r.stdout)
        addresses = set(re.findall(r"^\|\s+(\d+\.\d+\.\d+\.\d+)\s", r.stdout, re.M))
        self.assertEqual(addresses, {"127.0.0.1"}, r.stdout)

    def setUp(self):
        self.s = Palaverd(expect_start=False)
        for name, pw in (("anna", "anna-secret"), ("bert", "bert-secret")):
            self.s.add_user(name, pw, "--display-name", name.title())
        self.s.start()
        self.origin = f"https://localhost:{self.s.https_port}"

    def tearDown(self):
        self.s.close()

    def post(self, op, body, cookie=None, xsrf=True, origin=None, http="--http1.1", content_type="application/json"):
        args = ["-X", "POST", "-H", f"Content-Type: {content_type}", "--data-binary", json.dumps(body),
                "-H", f"Origin: {origin or self.origin}"]
        if xsrf:
            args += ["-H", "Kopano-Konnect-XSRF: 1"]
        if cookie:
            args += ["-b", f"__Secure-KKT={cookie}"]
        return self.s.curl(f"{API}/{op}", *args, http=http)

    def logon(self, user, pw, mode="1", cookie=None):
        return self.post("logon", {"state": "st", "params": [user, pw, mode]}, cookie)

    @staticmethod
    def cookie_of(headers):
        return Palaverd.cookie(headers, "__Secure-KKT")

    def test_logon_hello_logoff(self):
        status, h, body, _ = self.logon("anna", "anna-secret")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual((doc["success"], doc["state"], doc["hello"]["username"], doc["hello"]["displayName"]),
                         (True, "st", "anna", "Anna"))
        cookie, header = self.cookie_of(h)
        self.assertIn("Path=/signin/v1/identifier/_/", header)
        for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
            self.assertIn(flag, header)
        status, _, body, _ = self.post("hello", {"state": "h1"}, cookie)
        self.assertEqual((status, json.loads(body)["username"]), (200, "anna"))
        status, h, _, _ = self.post("hello", {"state": "h2"})
        self.assertEqual((status, h["kopano-konnect-state"]), (204, "h2"))
        # Continue as the signed-in user without a password (account chooser)...
        self.assertEqual(self.logon("anna", "", "0", cookie)[0], 200)
        # ...but not as someone else, and never with an empty password in mode 1.
        self.assertEqual(self.logon("bert", "", "0", cookie)[0], 204)
        self.assertEqual(self.logon("anna", "", "1")[0], 204)
        status, h, _, _ = self.post("logoff", {"state": "bye"}, cookie)
        self.assertEqual(status, 200)
        self.assertIn("Max-Age=0", Palaverd.cookie(h, "__Secure-KKT")[1])

    def test_password_checks_give_their_memory_back(self):
        # Each password check takes argon2id's 19 MiB. Before palaverd fixed the allocator's mmap
        # threshold, glibc raised its threshold after the first check and kept the next ones' 19
        # MiB in each worker thread's heap for good: an idle server grew by ~76 MB (4 workers)
        # after a few sign-ins.
        def rounds():
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                for _ in range(3):
                    statuses = list(pool.map(lambda i: self.logon(("anna", "bert")[i % 2], ("anna", "bert")[i % 2] + "-secret")[0],
                                             range(8)))
                    self.assertEqual(statuses, [200] * 8)
        before = rss_kb(self.s.proc.pid)
        rounds()
        assert_rss_growth_below(self, rss_kb(self.s.proc.pid) - before, 16 * 1024)

    def test_wrong_credentials_say_nothing_specific(self):
        for user, pw in (("anna", "wrong"), ("nobody", "anna-secret")):
            status, h, body, _ = self.logon(user, pw)
            self.assertEqual((status, body), (204, b""))
            self.assertEqual(h["kopano-konnect-state"], "st")
            self.assertNotIn("set-cookie", h)
        self.assertNotIn("anna-secret", self.s.stderr())
        self.assertNotIn("wrong", self.s.stderr().split("listening")[-1])

    def test_csrf_guard(self):
        self.assertEqual(self.post("logon", {"params": ["anna", "anna-secret", "1"]}, xsrf=False)[0], 400)
        self.assertEqual(self.post("logon", {"params": ["anna", "anna-secret", "1"]},
                                   origin="https://evil.example")[0], 400)
        self.assertEqual(self.post("hello", {"state": "x"}, origin="null")[0], 400)
        status, _, _, _ = self.s.curl(f"{API}/logon", "-X", "GET")
        self.assertEqual(status, 405)
        self.assertEqual(self.post("logon", {"params": "nope"})[0], 400)

    def test_logon_over_http2_as_browsers_use_it(self):
        status, h, body, version = self.post("logon", {"state": "s", "params": ["anna", "anna-secret", "1"]},
                                             http="--http2")
        self.assertEqual((status, version), (200, "2"))
        self.assertIsNotNone(Palaverd.cookie(h, "__Secure-KKT")[0])
        self.assertEqual(self.post("logon", {"params": ["anna", "anna-secret", "1"]}, http="--http2",
                                   origin="https://evil.example")[0], 400)
        self.assertEqual(self.post("logon", {"params": ["anna", "anna-secret", "1"]}, http="--http2",
                                   content_type="text/plain")[0], 400)

    def test_tampered_cookie_is_not_a_session(self):
        _, h, _, _ = self.logon("anna", "anna-secret")
        cookie, _ = self.cookie_of(h)
        forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        self.assertEqual(self.post("hello", {"state": "x"}, forged)[0], 204)

    def test_failed_sign_ins_are_rate_limited(self):
        for _ in range(5):
            self.assertEqual(self.logon("bert", "wrong")[0], 204)
        status, h, body, _ = self.logon("bert", "bert-secret")
        self.assertEqual(status, 429)
        self.assertEqual(h["retry-after"], "300")
        self.assertIn("Too many failed sign-ins", json.loads(body)["error_description"])
        self.assertEqual(self.logon("anna", "anna-secret")[0], 200)  # other accounts unaffected
        _, _, metrics, _ = self.s.curl("/metrics")
        self.assertRegex(metrics.decode(), r'palaver_oidc_signins_total\{result="rate_limited"\} [1-9]')
        self.assertRegex(metrics.decode(), r'palaver_oidc_signins_total\{result="failed"\} 5')


    # --- the limit under concurrency (finding 3) ------------------------------------------------

    def connections(self, n):
        """`n` TLS connections (HTTP/1.1), handshakes done, so a burst goes out at once."""
        ctx = ssl.create_default_context(cafile=self.s.ca)
        ctx.set_alpn_protocols(["http/1.1"])

        def one(_):
            raw = socket.create_connection(("127.0.0.1", self.s.https_port), timeout=30)
            return ctx.wrap_socket(raw, server_hostname="localhost")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))

    def json_logon_bytes(self, user, pw):
        body = json.dumps({"state": "b", "params": [user, pw, "1"]}).encode()
        return (f"POST {API}/logon HTTP/1.1\r\nHost: localhost:{self.s.https_port}\r\n"
                f"Origin: {self.origin}\r\nKopano-Konnect-XSRF: 1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def form_logon_bytes(self, user, pw, csrf):
        body = urllib.parse.urlencode({"csrf": csrf, "query": "", "flow": "", "action": "signin",
                                       "username": user, "password": pw}).encode()
        return (f"POST {API}/form HTTP/1.1\r\nHost: localhost:{self.s.https_port}\r\n"
                f"Origin: {self.origin}\r\nCookie: __Secure-KKF={csrf}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    def form_token(self):
        _, h, page, _ = self.s.curl("/signin/v1/identifier")
        return re.search(r'name="csrf" value="([^"]+)"', page.decode()).group(1)

    def burst(self, requests):
        """Sends every request on its own connection, all before reading any answer; returns the
        statuses in request order."""
        socks = self.connections(len(requests))
        try:
            for sock, request in zip(socks, requests):
                sock.sendall(request)
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                return list(pool.map(lambda sock: status_of(http_exchange(sock, b"", read_timeout=60)), socks))
        finally:
            for sock in socks:
                sock.close()

    def test_a_concurrent_burst_cannot_pass_the_account_limit(self):
        csrf = self.form_token()
        wrong = [self.json_logon_bytes("bert", f"wrong{i}") if i % 2 else self.form_logon_bytes("bert", f"wrong{i}", csrf)
                 for i in range(30)]
        statuses = self.burst(wrong + [self.json_logon_bytes("bert", "bert-secret")])
        # Only as many attempts as the limit allows (5) were checked at all. The server takes the
        # connections in whatever order it accepts them, so the right password (sent last) may be
        # among the checked ones (200) or refused (429); wrong ones are checked (JSON 204, form 401)
        # or refused.
        checked = [st for st in statuses if st != 429]
        self.assertLessEqual(len(checked), 5, statuses)
        self.assertTrue(all(st in (204, 401, 429) for st in statuses[:-1]), statuses)
        self.assertIn(statuses[-1], (200, 429), statuses)
        _, _, metrics, _ = self.s.curl("/metrics")
        failed = int(re.search(r'palaver_oidc_signins_total\{result="failed"\} (\d+)', metrics.decode()).group(1))
        self.assertLessEqual(failed, 5)
        if statuses[-1] == 429:
            # Refused: five wrong ones were checked first, so the account stays limited.
            self.assertEqual(self.logon("bert", "bert-secret")[0], 429)

    def test_a_concurrent_burst_cannot_pass_the_address_limit(self):
        csrf = self.form_token()
        wrong = [self.json_logon_bytes(f"user{i}", "wrong") if i % 2 else self.form_logon_bytes(f"user{i}", "wrong", csrf)
                 for i in range(30)]
        statuses = self.burst(wrong + [self.json_logon_bytes("anna", "anna-secret")])
        # The server takes the 31 connections in whatever order it accepts them, so which requests
        # are checked is not fixed (the right password may be among them): at most the limit (20)
        # were checked at all, each answered as a checked sign-in, and every other one got 429.
        checked = [st for st in statuses if st != 429]
        self.assertLessEqual(len(checked), 20, statuses)
        # Wrong passwords: checked (JSON API 204, form 401) or refused; the right one: signed in or refused.
        self.assertTrue(all(st in (204, 401, 429) for st in statuses[:-1]), statuses)
        self.assertIn(statuses[-1], (200, 429), statuses)

    def test_a_burst_of_http2_streams_cannot_pass_the_limit(self):
        # One HTTP/2 connection, many streams (curl multiplexes --parallel transfers). The server
        # may take streams in any order, so the burst is all wrong passwords; at most the limit
        # of them is checked at all.
        args = ["curl", "-sS", "--parallel", "--parallel-max", "50", "--http2"]
        for i in range(20):
            if i:
                args.append("--next")
            args += ["--http2", "--cacert", self.s.ca, "--resolve", f"localhost:{self.s.https_port}:127.0.0.1",
                     "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{url_effective}\n",
                     "-X", "POST", "-H", "Content-Type: application/json", "-H", f"Origin: {self.origin}",
                     "-H", "Kopano-Konnect-XSRF: 1",
                     "--data-binary", json.dumps({"state": "h2", "params": ["bert", f"wrong{i}", "1"]}),
                     f"{self.s.url(API + '/logon')}?n={i}"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        codes = []
        for line in out.stdout.split("\n"):
            if line.strip():
                code, version, _ = line.split()
                self.assertEqual(version, "2")
                codes.append(int(code))
        self.assertEqual(len(codes), 20)
        self.assertLessEqual(len([c for c in codes if c != 429]), 5, codes)
        self.assertEqual(self.logon("bert", "bert-secret")[0], 429)  # and the right password after it

    # --- sessions end server-side (finding 4) ------------------------------------------------

    def authorize_silently(self, cookie):
        """A Meet-style silent authorization (prompt=none) with only the sign-in cookie: the
        redirect's parameters (code=... when the cookie still counts, error=... otherwise)."""
        verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        meet = f"{self.origin}/meet/"
        params = {"client_id": f"kpop-{meet}", "redirect_uri": meet, "response_type": "code", "scope": "openid profile",
                  "prompt": "none", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
        status, h, _, _ = self.s.curl(f"/signin/v1/identifier/_/authorize?{urllib.parse.urlencode(params)}",
                                      "-b", f"__Secure-KKT={cookie}")
        self.assertEqual(status, 302)
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h["location"]).query))

    def signed_in_cookie(self, user="anna", pw="anna-secret"):
        status, h, _, _ = self.logon(user, pw)
        self.assertEqual(status, 200)
        cookie = self.cookie_of(h)[0]
        self.assertIn("code", self.authorize_silently(cookie))  # the cookie gets codes now
        return cookie

    def test_a_copied_cookie_is_dead_after_logoff(self):
        cookie = self.signed_in_cookie()
        copy = cookie
        other = self.signed_in_cookie()  # another sign-in (device) of the same user
        self.assertEqual(self.post("logoff", {"state": "bye"}, cookie)[0], 200)
        self.assertEqual(self.authorize_silently(copy).get("error"), "login_required")
        status, h, _, _ = self.post("hello", {"state": "h"}, copy)
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", self.cookie_of(h)[1])
        self.assertEqual(self.logon("anna", "", "0", copy)[0], 204)
        self.assertIn("code", self.authorize_silently(other))  # only that session ended

    def test_a_copied_cookie_is_dead_after_end_session(self):
        cookie = self.signed_in_cookie()
        status, _, _, _ = self.s.curl("/signin/v1/identifier/_/endsession", "-b", f"__Secure-KKT={cookie}")
        self.assertEqual(status, 302)
        self.assertEqual(self.authorize_silently(cookie).get("error"), "login_required")

    def test_a_password_change_ends_every_session(self):
        first, second = self.signed_in_cookie(), self.signed_in_cookie()
        bert = self.signed_in_cookie("bert", "bert-secret")
        r = subprocess.run([self.s.binary, "user", "passwd", "anna", "--config", self.s.config_path],
                           input="new-secret\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for cookie in (first, second):
            self.assertEqual(self.authorize_silently(cookie).get("error"), "login_required")
        self.assertIn("code", self.authorize_silently(bert))  # other users are untouched
        self.assertIn("code", self.authorize_silently(self.signed_in_cookie("anna", "new-secret")))

    def test_a_password_change_ends_refresh_tokens(self):
        cookie = self.signed_in_cookie()
        verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        meet, client = f"{self.origin}/meet/", f"kpop-{self.origin}/meet/"
        params = {"client_id": client, "redirect_uri": meet, "response_type": "code", "prompt": "none",
                  "scope": "openid offline_access", "code_challenge": challenge, "code_challenge_method": "S256"}
        _, h, _, _ = self.s.curl(f"/signin/v1/identifier/_/authorize?{urllib.parse.urlencode(params)}",
                                 "-b", f"__Secure-KKT={cookie}")
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h["location"]).query))["code"]

        def token(form):
            status, _, body, _ = self.s.curl("/konnect/v1/token", "-X", "POST", "--data-binary",
                                             urllib.parse.urlencode({"client_id": client, **form}))
            return status, json.loads(body)
        status, tokens = token({"grant_type": "authorization_code", "code": code, "redirect_uri": meet,
                                "code_verifier": verifier})
        self.assertEqual(status, 200, tokens)
        status, rotated = token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        self.assertEqual(status, 200, rotated)  # refreshing works...
        r = subprocess.run([self.s.binary, "user", "passwd", "anna", "--config", self.s.config_path],
                           input="new-secret\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, err = token({"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]})
        self.assertEqual((status, err.get("error")), (400, "invalid_grant"))  # ...until the password changes
        status, _, _, _ = self.s.curl("/konnect/v1/userinfo", "-H", f"Authorization: Bearer {rotated['access_token']}")
        self.assertEqual(status, 401)  # and its access tokens die with it

    def test_disabling_or_removing_a_user_ends_their_sessions(self):
        anna, bert = self.signed_in_cookie(), self.signed_in_cookie("bert", "bert-secret")
        for args in (["disable", "anna"], ["remove", "bert"]):
            r = subprocess.run([self.s.binary, "user", *args, "--config", self.s.config_path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        for cookie in (anna, bert):
            self.assertEqual(self.authorize_silently(cookie).get("error"), "login_required")
        r = subprocess.run([self.s.binary, "user", "enable", "anna", "--config", self.s.config_path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.authorize_silently(anna).get("error"), "login_required")  # stays ended

    # --- content types (finding 14) -------------------------------------------------------

    def test_json_content_type_is_a_media_type_not_a_prefix(self):
        self.assertEqual(self.post("logon", {"state": "s", "params": ["anna", "anna-secret", "1"]},
                                   content_type="application/jsonx")[0], 400)
        self.assertEqual(self.post("logon", {"state": "s", "params": ["anna", "anna-secret", "1"]},
                                   content_type="Application/JSON; charset=utf-8")[0], 200)


if __name__ == "__main__":
    unittest.main()
