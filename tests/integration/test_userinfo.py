"""UserInfo (spec §1.6) and end session (§1.7) against the real binary; access tokens are minted
by the test-only testbed module until the token endpoint exists."""
import json
import subprocess
import unittest

from harness import PALAVERD_TESTBED, Palaverd


class UserInfoAndEndSession(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        cls.s.add_user("anna", "pw", "--display-name", "Anna Apfel", "--given-name", "Anna", "--surname", "Apfel",
                       "--mail", "anna@example.org")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def userinfo(self, token, *extra, http="--http1.1"):
        return self.s.curl("/konnect/v1/userinfo", "-H", f"Authorization: Bearer {token}", *extra, http=http)

    def test_claims_follow_scopes(self):
        status, h, body, _ = self.userinfo(self.s.mint_token("anna openid profile email"), http="--http2")
        self.assertEqual(status, 200)
        self.assertEqual(h["access-control-allow-origin"], "*")
        info = json.loads(body)
        self.assertTrue(info["sub"])
        self.assertEqual((info["name"], info["given_name"], info["family_name"], info["preferred_username"]),
                         ("Anna Apfel", "Anna", "Apfel", "anna"))
        self.assertEqual((info["email"], info["email_verified"]), ("anna@example.org", True))
        info = json.loads(self.userinfo(self.s.mint_token("anna openid"))[2])
        self.assertEqual(set(info), {"sub"})
        self.assertEqual(self.userinfo(self.s.mint_token("anna openid"), "-X", "POST")[0], 200)

    def test_bad_tokens_get_401_with_www_authenticate(self):
        for token in ("garbage", self.s.mint_token("anna openid")[:-3] + "AAA"):
            status, h, body, _ = self.userinfo(token)
            self.assertEqual(status, 401)
            self.assertIn('error="invalid_token"', h["www-authenticate"])
            self.assertEqual(json.loads(body)["error"], "invalid_token")
        status, _, _, _ = self.s.curl("/konnect/v1/userinfo")
        self.assertEqual(status, 401)

    def test_end_session_redirects_only_to_our_origin(self):
        target = f"{self.iss}/meet/#oidc-endsession-callback"
        status, h, _, _ = self.s.curl("/signin/v1/identifier/_/endsession", "-G",
                                      "--data-urlencode", f"post_logout_redirect_uri={target}",
                                      "--data-urlencode", "state=a b")
        self.assertEqual(status, 302)
        self.assertEqual(h["location"], f"{self.iss}/meet/?state=a%20b#oidc-endsession-callback")
        self.assertIn("Max-Age=0", h["set-cookie"])
        for evil in ("https://evil.example/", f"{self.iss}.evil.example/", "//evil.example/"):
            status, h, _, _ = self.s.curl("/signin/v1/identifier/_/endsession", "-G",
                                          "--data-urlencode", f"post_logout_redirect_uri={evil}")
            self.assertEqual((status, h["location"]), (302, "/signin/v1/goodbye?flow=oidc"))
        status, h, body, _ = self.s.curl("/signin/v1/goodbye", "-H", "Accept-Language: de-DE")
        self.assertEqual(status, 200)
        self.assertIn("Sie sind abgemeldet", body.decode())
        self.assertIn("signed out", self.s.curl("/signin/v1/goodbye")[2].decode())



class TokensOfUsersWhoAreGone(unittest.TestCase):
    """Access tokens of removed or disabled users, or issued before a password change, are
    refused at once on every API (finding 4), not when they expire."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        for name in ("anna", "carl", "dora", "erik"):
            cls.s.add_user(name, "pw", "--display-name", name.title())
        cls.s.start()
        scopes = "openid profile email kopano/gc kopano/kvs kopano/kwm"
        cls.tokens = {name: cls.s.mint_token(f"{name} {scopes}") for name in ("anna", "carl", "dora", "erik")}

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def calls(self, token):
        """Status of userinfo, a kvs PUT, the address book and rtm/connect with `token`."""
        auth = ["-H", f"Authorization: Bearer {token}"]
        return {
            "userinfo": self.s.curl("/konnect/v1/userinfo", *auth)[0],
            "kvs": self.s.curl("/api/kvs/v1/kv/user/x/1", "-X", "PUT", "-H", "Content-Type: application/json",
                               "--data-binary", "{}", *auth)[0],
            "gc": self.s.curl("/api/gc/v1/me", *auth)[0],
            "rtm": self.s.curl("/api/kwm/v2/rtm/connect", "-X", "POST", "--data-binary", "", *auth)[0],
        }

    def test_every_api_refuses_them(self):
        for name, token in self.tokens.items():
            self.assertEqual(self.calls(token), {"userinfo": 200, "kvs": 200, "gc": 200, "rtm": 200}, name)
        for args, input_ in ((["disable", "carl"], None), (["remove", "dora"], None), (["passwd", "erik"], "pw2\n")):
            r = subprocess.run([self.s.binary, "user", *args, "--config", self.s.config_path], input=input_,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("carl", "dora", "erik"):
            self.assertEqual(self.calls(self.tokens[name]), {"userinfo": 401, "kvs": 403, "gc": 403, "rtm": 403}, name)
        self.assertEqual(self.calls(self.tokens["anna"]), {"userinfo": 200, "kvs": 200, "gc": 200, "rtm": 200})
        self.assertEqual(self.calls(self.s.mint_token("erik openid profile email kopano/gc kopano/kvs kopano/kwm")),
                         {"userinfo": 200, "kvs": 200, "gc": 200, "rtm": 200})  # a new token of erik's works


if __name__ == "__main__":
    unittest.main()
