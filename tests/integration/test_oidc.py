"""The OpenID provider's public documents: discovery and JWKS (konnect layout, spec §1.1-1.3)."""
import json
import unittest

from harness import Palaverd


class Discovery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_discovery_document(self):
        status, h, body, _ = self.s.curl("/.well-known/openid-configuration")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertEqual(h["access-control-allow-origin"], "*")
        d = json.loads(body)
        iss = f"https://localhost:{self.s.https_port}"
        self.assertEqual(d["issuer"], iss)
        self.assertEqual(d["authorization_endpoint"], iss + "/signin/v1/identifier/_/authorize")
        self.assertEqual(d["token_endpoint"], iss + "/konnect/v1/token")
        self.assertEqual(d["userinfo_endpoint"], iss + "/konnect/v1/userinfo")
        self.assertEqual(d["end_session_endpoint"], iss + "/signin/v1/identifier/_/endsession")
        self.assertEqual(d["jwks_uri"], iss + "/konnect/v1/jwks.json")
        self.assertEqual(d["id_token_signing_alg_values_supported"], ["ES256"])
        for scope in ("openid", "profile", "email", "kopano/kwm", "kopano/gc", "kopano/kvs"):
            self.assertIn(scope, d["scopes_supported"])
        self.assertIn("id_token token", d["response_types_supported"])
        self.assertTrue(d["claims_parameter_supported"])

    def test_jwks(self):
        status, h, body, _ = self.s.curl("/konnect/v1/jwks.json")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/jwk-set+json")
        keys = json.loads(body)["keys"]
        self.assertEqual(len(keys), 1)
        k = keys[0]
        self.assertEqual((k["kty"], k["crv"], k["alg"], k["use"]), ("EC", "P-256", "ES256", "sig"))
        self.assertEqual(len(k["x"]), 43)  # 32 bytes, base64url without padding
        self.assertNotIn("d", k)          # never the private part
        self.assertEqual(self.s.curl("/health-check")[0], 200)


class KeysAcrossRestartsAndReload(unittest.TestCase):
    def jwks(self, s):
        return json.loads(s.curl("/konnect/v1/jwks.json")[2])["keys"]

    def test_key_survives_restart_and_algorithm_change_rotates(self):
        s = Palaverd()
        try:
            first = self.jwks(s)[0]["kid"]
            s.stop()
            s.start()
            self.assertEqual(self.jwks(s)[0]["kid"], first)
            s.sections["oidc"] = {"signing_alg": "PS256"}
            s.write_config()
            self.assertIn("configuration reloaded", s.reload())
            keys = self.jwks(s)
            self.assertEqual([k["alg"] for k in keys], ["PS256", "ES256"])  # old key kept for its tokens
            self.assertEqual(keys[1]["kid"], first)
            d = json.loads(s.curl("/.well-known/openid-configuration")[2])
            self.assertEqual(sorted(d["id_token_signing_alg_values_supported"]), ["ES256", "PS256"])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
