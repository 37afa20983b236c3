"""Tokens of another OpenID provider (a second palaverd standing in for an existing konnect):
the resource APIs accept them once the issuer is trusted in `[oidc] external_issuers`; its keys
are fetched over HTTPS and fetched again when a token names a key not seen yet."""
import time
import unittest

from harness import PALAVERD_TESTBED, Palaverd

KV = "/api/kvs/v1/kv/user/kopano-meet-recents/contact/x1"


def wait_for_log(server, text, since=0, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in server.stderr()[since:]:
            return
        time.sleep(0.05)
    raise AssertionError(f"no '{text}' in log:\n{server.stderr()[since:]}")


class ExternalIssuer(unittest.TestCase):
    def setUp(self):
        self.other = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        self.other.add_user("anna")
        self.other.start()
        self.other_iss = f"https://localhost:{self.other.https_port}"
        self.s = Palaverd({"oidc": {"external_issuers": self.other_iss, "external_ca_file": self.other.ca}},
                          binary=PALAVERD_TESTBED, expect_start=False)
        self.s.add_user("bert")
        self.s.start()
        wait_for_log(self.s, "external issuer keys loaded")

    def tearDown(self):
        self.s.close()
        self.other.close()

    def put(self, token):
        return self.s.curl(KV, "-X", "PUT", "-H", "Kopano-XSRF: 1", "-H", f"Authorization: Bearer {token}",
                           "-H", "Content-Type: application/json", "--data-binary", '{"id":"x1"}')[0]

    def test_tokens_of_a_trusted_issuer_are_accepted(self):
        token = self.other.mint_token("anna openid kopano/kvs")
        self.assertEqual(self.put(token), 200)
        # Scopes still count, signatures still count, our own tokens still work.
        self.assertEqual(self.put(self.other.mint_token("anna openid")), 403)
        head, payload, sig = token.split(".")
        self.assertEqual(self.put(f"{head}.{payload}.{sig[:-6]}AAAAAA"), 403)
        self.assertEqual(self.put(self.s.mint_token("bert openid kopano/kvs")), 200)

    def test_untrusted_issuer_is_refused(self):
        third = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        try:
            third.add_user("anna")
            third.start()
            self.assertEqual(self.put(third.mint_token("anna openid kopano/kvs")), 403)
        finally:
            third.close()

    def test_rotated_keys_are_fetched_on_demand(self):
        # The other provider switches algorithm: a new key (new kid) signs its tokens.
        self.other.sections["oidc"] = {"signing_alg": "RS256"}
        self.other.write_config()
        self.other.reload(wait_for="signing key rotated")
        token = self.other.mint_token("anna openid kopano/kvs")
        before = len(self.s.stderr())
        self.assertEqual(self.put(token), 403)  # unknown key: refused, and a refresh starts
        wait_for_log(self.s, "external issuer keys loaded", since=before)
        self.assertEqual(self.put(token), 200)

    def test_unreachable_issuer_does_not_stop_the_start(self):
        self.other.close()
        self.s.close()
        s = Palaverd({"oidc": {"external_issuers": self.other_iss, "external_ca_file": self.other.ca}})
        try:
            wait_for_log(s, "external issuer keys not refreshed")
            self.assertEqual(s.curl("/healthz")[0], 200)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
