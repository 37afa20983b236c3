"""The sign-in JSON API (konnect's /signin/v1/identifier/_/…, spec §1.13): CSRF guard, logon,
hello, logoff, the session cookie, and the failed-sign-in rate limit."""
import json
import unittest

from harness import Palaverd

API = "/signin/v1/identifier/_"


class Signin(unittest.TestCase):
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
        self.assertRegex(metrics.decode(), r'oidc_signins_total\{result="rate_limited"\} [1-9]')
        self.assertRegex(metrics.decode(), r'oidc_signins_total\{result="failed"\} 5')


if __name__ == "__main__":
    unittest.main()
