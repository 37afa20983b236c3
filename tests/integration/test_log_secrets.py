"""The harness's check for secrets in palaverd's logs (issue 19) is itself tested here: it knows
the secrets of the state dir (admin password, TURN secret, CLI token, every line of the private
keys) and fails a test whose palaverd logged one. Every other suite relies on it at close()."""
import re
import unittest
import urllib.parse

from harness import Browser, Palaverd


class LogSecretsCheck(unittest.TestCase):
    def test_knows_the_state_dir_secrets(self):
        s = Palaverd()
        try:
            s.collect_state_secrets()
            kinds = set(s.secrets.values())
            for what in ("the admin password", "the TURN secret", "the CLI admin token"):
                self.assertIn(what, kinds)
            self.assertTrue(any("private key" in k and "ca.key" in k for k in kinds), kinds)
            status, _, _, _ = s.curl("/healthz")
            self.assertEqual(status, 200)
        finally:
            s.close()  # a clean run: no leak, no failure

    def test_a_logged_secret_fails_the_test(self):
        s = Palaverd()
        leaked = "not-a-user-but-a-secret-7f3a9c"
        s.register_secret(leaked, "a test secret")
        # A failed sign-in logs the name it was given (for fail2ban): here, the "secret".
        b = Browser(s)
        params = {"client_id": f"kpop-https://localhost:{s.https_port}/meet/", "response_type": "code",
                  "redirect_uri": f"https://localhost:{s.https_port}/meet/#oidc-callback", "scope": "openid",
                  "state": "s", "nonce": "n", "code_challenge_method": "S256",
                  "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}
        _, h, _ = b.get("/signin/v1/identifier/_/authorize?" + urllib.parse.urlencode(params))
        _, _, page = b.get(h["location"])
        field = lambda n: re.search(rf'name="{n}" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, _, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": field("csrf"), "query": field("query"), "flow": field("flow"),
                                    "action": "signin", "username": leaked, "password": "wrong"})
        self.assertEqual(status, 401)
        with self.assertRaises(AssertionError) as caught:
            s.close()
        message = str(caught.exception)
        self.assertIn("a test secret is in the log", message)
        self.assertIn("sign-in failed user=<SECRET>", message)
        self.assertNotIn(leaked, message)  # the report masks it


if __name__ == "__main__":
    unittest.main()
