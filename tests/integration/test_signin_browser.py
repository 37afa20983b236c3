"""The sign-in pages in a real browser: Debian's Chromium driven by playwright-core
(tests/node/signin-browser.js) — keyboard-only sign-in, error message, redirect with a code,
the check-session iframe, sign-out and the German page."""
import json
import os
import subprocess
import unittest

from harness import NODE_DIR, Palaverd, require_node



class SigninBrowser(unittest.TestCase):
    def setUp(self):
        self.node = require_node(self, chromium=True)
        self.s = Palaverd(expect_start=False)
        self.s.add_user("anna", "anna-secret", "--display-name", "Anna Alder")
        self.s.start()

    def tearDown(self):
        self.s.close()

    def test_sign_in_with_a_real_browser(self):
        iss = f"https://localhost:{self.s.https_port}"
        r = subprocess.run([self.node, os.path.join(NODE_DIR, "signin-browser.js"), iss, "anna", "anna-secret"],
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        # config.json as Meet reads it: empty iss/clientID mean "this origin" and "kpop-<app URL>".
        self.assertEqual((out["config_oidc"]["iss"], out["config_oidc"]["clientID"]), ("", ""))
        self.assertEqual(out["authorization_endpoint"], f"{iss}/signin/v1/identifier/_/authorize")
        self.assertEqual(out["signin_url"], "/signin/v1/identifier")
        self.assertEqual(out["lang"], "en")
        self.assertEqual(out["focused"], "username")
        self.assertEqual(out["wrong_alert"], "The username or password is not correct.")
        self.assertEqual(out["focused_after_error"], "password")
        self.assertTrue(out["code"])
        # Meet refuses to run unless openid, profile, email and kopano/kwm are granted.
        self.assertEqual((out["state"], out["scope"]),
                         ("browser-state", "openid profile email kopano/kwm kopano/gc kopano/kvs"))
        self.assertEqual(out["session_unchanged"], "unchanged")
        self.assertEqual(out["session_other"], "changed")
        self.assertEqual(out["after_logout_url"], "/meet/")
        self.assertEqual(out["session_after_logout"], "changed")
        self.assertEqual(out["silent_after_logout"], "login_required")
        self.assertEqual((out["german_lang"], out["german_button"]), ("de", "Anmelden"))


if __name__ == "__main__":
    unittest.main()
