"""The OpenID provider's public documents: discovery and JWKS (konnect layout, spec §1.1-1.3)."""
import json
import unittest
import urllib.parse

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
            self.assertIn("reload applied", s.reload())
            keys = self.jwks(s)
            self.assertEqual([k["alg"] for k in keys], ["PS256", "ES256"])  # old key kept for its tokens
            self.assertEqual(keys[1]["kid"], first)
            d = json.loads(s.curl("/.well-known/openid-configuration")[2])
            self.assertEqual(sorted(d["id_token_signing_alg_values_supported"]), ["ES256", "PS256"])
        finally:
            s.close()



class RedirectUriWithLineBreaks(unittest.TestCase):
    """A CR/LF inside redirect_uri makes the request invalid (finding 14): a 400 page, no
    redirect to a cut-off URI."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd()
        cls.iss = f"https://localhost:{cls.s.https_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def query(self, redirect_uri):
        return urllib.parse.urlencode({"client_id": f"kpop-{self.iss}/meet/", "redirect_uri": redirect_uri,
                                       "response_type": "code", "scope": "openid", "code_challenge": "x" * 43,
                                       "code_challenge_method": "S256"})

    def test_form_post(self):
        for uri in (f"{self.iss}/meet/\r\nX-Evil: 1", f"{self.iss}/me\net/", f"{self.iss}/meet/\r"):
            status, h, body, _ = self.s.curl("/signin/v1/identifier/_/authorize", "-X", "POST",
                                             "-H", "Content-Type: application/x-www-form-urlencoded",
                                             "--data-binary", self.query(uri))
            self.assertEqual(status, 400, uri)
            self.assertNotIn("location", h)
            self.assertIn("invalid_request", body.decode())

    # The net layer hands the query over as sent, so the provider sees the encoded line break.
    def test_query(self):
        status, h, body, _ = self.s.curl(f"/signin/v1/identifier/_/authorize?{self.query(self.iss + '/me' + chr(10) + 'et/')}")
        self.assertEqual(status, 400)
        self.assertNotIn("location", h)


if __name__ == "__main__":
    unittest.main()
