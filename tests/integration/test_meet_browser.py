"""Palaver's own Meet web app (webui/meet, built into <build>/webui) in Debian's Chromium, driven
by playwright-core (tests/node/meet-*.js) against the real palaverd."""
import json
import os
import shutil
import subprocess
import unittest

from harness import NODE_DIR, Palaverd, require_node



def run_node(test, script, *args, timeout=170):
    """Runs a tests/node script; returns its last JSON line, failing the test with its report."""
    r = subprocess.run([shutil.which("node"), os.path.join(NODE_DIR, script), *args],
                       capture_output=True, text=True, timeout=timeout, cwd=NODE_DIR)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    test.assertTrue(lines, f"{script} printed no result (rc={r.returncode}):\n{r.stderr[-3000:]}")
    out = json.loads(lines[-1])
    test.assertEqual(r.returncode, 0, f"{script} failed at {out.get('step')}: {out.get('error')}\n"
                     f"console: {json.dumps(out.get('console', []), indent=1)}\nstderr: {r.stderr[-2000:]}"
                     + (f"\nsignaling trace: {json.dumps(out['trace'], indent=1)}" if out.get("trace") else ""))
    return out


class MeetBrowserCase(unittest.TestCase):
    users = (("anna", "anna-secret", "Anna Alder"), ("bert", "bert-secret", "Bert Berg"))

    def setUp(self):
        _, site = require_node(self, chromium=True, webui=True)
        self.s = Palaverd(site=site, expect_start=False)
        for name, password, display in self.users:
            self.s.add_user(name, password, "--display-name", display)
        self.s.start()
        self.iss = f"https://localhost:{self.s.https_port}"

    def tearDown(self):
        self.s.close()


class Shell(MeetBrowserCase):
    def test_sign_in_install_offline_sign_out(self):
        out = run_node(self, "meet-shell.js", self.iss, self.s.ca, "anna", "anna-secret")
        self.assertEqual(out["name"], "Anna Alder")
        self.assertEqual(out["url"], "/meet/r/call")
        self.assertEqual(out["sw"], f"{self.iss}/meet/sw.js")
        self.assertEqual(out["manifest"], {"start_url": "/meet/?utm_source=homescreen", "display": "standalone", "icons": 4})
        self.assertTrue(out["controlled"])
        self.assertIn("offline", out["offline_text"])
        self.assertTrue(out["signin_again"])


if __name__ == "__main__":
    unittest.main()
