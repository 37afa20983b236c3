"""Signaling (kwmserver-compatible) against the real binary with a real WebSocket client: node's
`ws` in tests/node/signaling.test.js (1:1 calls, a group of four, guests and live policy,
bad input). Users sign in through the OpenID provider."""
import os
import shutil
import subprocess
import unittest

from harness import Palaverd, SOURCE

NODE_DIR = os.path.join(SOURCE, "tests", "node")


class Signaling(unittest.TestCase):
    def setUp(self):
        self.node = shutil.which("node")
        if not self.node or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws")):
            self.fail("node and tests/node/node_modules are needed: ./dev test installs them")
        self.s = Palaverd(expect_start=False)
        for name in ("anna", "bert", "carl", "dora"):
            self.s.add_user(name, f"{name}-secret", "--display-name", name.title())
        self.s.add_user("root", "root-secret", "--admin", "--display-name", "Root")
        self.s.start()

    def tearDown(self):
        self.s.close()

    def test_signaling_with_a_real_websocket_client(self):
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=self.s.ca, PALAVER_ISS=f"https://localhost:{self.s.https_port}")
        r = subprocess.run([self.node, "--test", "--test-reporter=spec", os.path.join(NODE_DIR, "signaling.test.js")],
                           capture_output=True, text=True, timeout=300, env=env, cwd=NODE_DIR)
        self.assertEqual(r.returncode, 0, r.stdout[-6000:] + r.stderr[-3000:])
        self.assertIn("pass 8", r.stdout)
        self.assertIn("fail 0", r.stdout)
        # The server logged the live policy changes with the administrator's name.
        self.assertIn("setting changed key=signaling.guests_enabled value=true by=root", self.s.stderr())


if __name__ == "__main__":
    unittest.main()
