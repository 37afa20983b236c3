"""A real relying-party library against the real binary: openid-client (npm, run by node) does
discovery, the code flow with PKCE, verifies the ID token with the JWKS, calls userinfo and
rotates a confidential client's refresh token (tests/node/oidc-flow.js)."""
import json
import os
import re
import subprocess
import unittest

from harness import NODE_DIR, Palaverd, require_node



class OpenIdClient(unittest.TestCase):
    def setUp(self):
        self.node = require_node(self, package="openid-client")
        self.s = Palaverd(expect_start=False)
        self.s.add_user("anna", "anna-secret", "--display-name", "Anna Alder", "--mail", "anna@example.org")
        r = subprocess.run([self.s.binary, "client", "add", "app", "--redirect-uri", "https://app.example/cb",
                            "--trusted", "--secret", "--config", self.s.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.secret = re.search(r"client secret \(shown once\): (\S+)", r.stdout).group(1)
        self.s.start()

    def tearDown(self):
        self.s.close()

    def run_flow(self, password="anna-secret"):
        iss = f"https://localhost:{self.s.https_port}"
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=self.s.ca)
        return subprocess.run([self.node, os.path.join(NODE_DIR, "oidc-flow.js"), iss, "anna", password, self.secret],
                              capture_output=True, text=True, timeout=120, env=env), iss

    def test_code_flow_pkce_userinfo_and_refresh(self):
        r, iss = self.run_flow()
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["issuer"], iss)
        meet = out["meet"]
        self.assertEqual((meet["name"], meet["aud"], meet["alg"]), ("Anna Alder", f"kpop-{iss}/meet/", "ES256"))
        self.assertTrue(meet["sub"].endswith("@konnect"))
        self.assertEqual(meet["scope"], "openid profile email kopano/kwm kopano/gc kopano/kvs")
        self.assertFalse(meet["has_refresh_token"])
        self.assertEqual(out["userinfo"]["sub"], meet["sub"])
        self.assertEqual(out["userinfo"]["email"], "anna@example.org")
        self.assertEqual(out["code_replay"], "invalid_grant")
        self.assertEqual(out["wrong_verifier"], "invalid_grant")
        self.assertEqual(out["app"]["sub"], meet["sub"])
        self.assertEqual(out["app"]["refreshed_sub"], meet["sub"])
        self.assertTrue(out["app"]["rotated"])
        self.assertEqual(out["refresh_reuse"], "invalid_grant")

    def test_wrong_password_stops_the_flow(self):
        r, _ = self.run_flow("wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("logon answered 204", r.stderr)


if __name__ == "__main__":
    unittest.main()
