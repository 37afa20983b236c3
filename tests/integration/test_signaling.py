"""Signaling (kwmserver-compatible) against the real binary with a real WebSocket client: node's
`ws` in tests/node/signaling.test.js (1:1 calls, a group of four, guests and live policy,
bad input). Users sign in through the OpenID provider."""
import json
import os
import shutil
import signal
import subprocess
import unittest

from harness import PALAVERD_TESTBED, Palaverd, SOURCE, WsClient

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
        # Every connection is gone and nothing of it is left behind; the counters saw the traffic.
        import re, time
        deadline = time.time() + 10
        while True:
            metrics = self.s.curl("/metrics")[2].decode()
            gauges = {m: int(v) for m, v in re.findall(r"^(signaling_(?:connections|users|guests)) (\d+)$", metrics, re.M)}
            if gauges == {"signaling_connections": 0, "signaling_users": 0, "signaling_guests": 0} or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(gauges, {"signaling_connections": 0, "signaling_users": 0, "signaling_guests": 0})
        received = int(re.search(r'^signaling_messages_total\{direction="in"\} (\d+)$', metrics, re.M).group(1))
        self.assertGreater(received, 100)
        self.assertGreater(int(re.search(r'^signaling_drops_total\{reason="rate_limited"\} (\d+)$', metrics, re.M).group(1)), 0)


class Shutdown(unittest.TestCase):
    """An orderly shutdown says goodbye before closing (kwmserver queued it too late to arrive)."""

    def test_goodbye_then_going_away(self):
        s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        try:
            s.add_user("anna", "pw", "--display-name", "Anna")
            s.start()
            token = s.mint_token("anna openid kopano/kwm")
            status, _, body, _ = s.curl("/api/kwm/v2/rtm/connect", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                        "--data-binary", "")
            self.assertEqual(status, 200, body)
            connect = json.loads(body)
            # The built-in turn module's REST credentials, for its own listeners.
            turn = connect["turn"]
            self.assertTrue(any(u.startswith("turn:localhost:") and u.endswith("?transport=udp") for u in turn["uris"]), turn)
            self.assertRegex(turn["username"], r"^\d+:" + connect["self"]["id"] + "$")
            ws = WsClient(s.tls_socket(), connect["url"])
            opcode, hello = ws.recv()
            self.assertEqual(json.loads(hello)["self"]["name"], "Anna")
            s.signal(signal.SIGTERM)
            opcode, goodbye = ws.recv()
            self.assertEqual(json.loads(goodbye), {"type": "goodbye", "server_status": None})
            self.assertEqual(ws.close_code(), 1001)
        finally:
            s.close()


class NoTurn(unittest.TestCase):
    def test_no_turn_without_the_module_or_an_external_server(self):
        s = Palaverd(binary=PALAVERD_TESTBED, sections={"turn": {"enabled": "false"}}, expect_start=False)
        try:
            s.add_user("anna", "pw")
            s.start()
            token = s.mint_token("anna openid kopano/kwm")
            status, _, body, _ = s.curl("/api/kwm/v2/rtm/connect", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                        "--data-binary", "")
            self.assertEqual(status, 200, body)
            self.assertNotIn("turn", json.loads(body))
        finally:
            s.close()


class ExternalTurn(unittest.TestCase):
    """An external coturn (use-auth-secret) configured in [signaling] wins over the built-in turn module."""

    def test_turn_rest_credentials(self):
        import base64, hashlib, hmac, time
        s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        try:
            secret_file = os.path.join(s.dir, "turn-secret")
            with open(secret_file, "w") as f:
                f.write("  s3cret-from-coturn\n")
            s.sections["signaling"] = {"turn_uris": "turn:turn.example.org:3478?transport=udp turns:turn.example.org:443",
                                       "turn_shared_secret_file": secret_file, "turn_ttl": "10m"}
            s.write_config()
            s.add_user("anna", "pw")
            s.start()
            token = s.mint_token("anna openid kopano/kwm")
            for path in ("/api/kwm/v2/rtm/connect", "/api/kwm/v2/rtm/turn"):
                status, _, body, _ = s.curl(path, "-X", "POST", "-H", f"Authorization: Bearer {token}", "--data-binary", "")
                self.assertEqual(status, 200, body)
                turn = json.loads(body)["turn"]
                expiry, user = turn["username"].split(":", 1)
                self.assertAlmostEqual(int(expiry), time.time() + 600, delta=30)
                self.assertEqual(user, json.loads(body).get("self", {"id": user})["id"])
                expected = base64.b64encode(hmac.new(b"s3cret-from-coturn", turn["username"].encode(), hashlib.sha1).digest())
                self.assertEqual(turn["password"], expected.decode())
                self.assertEqual((turn["ttl"], turn["uris"]),
                                 (600, ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443"]))
            self.assertIn("turn=external", s.curl("/healthz")[2].decode())
            # A reload applies new TURN settings to the next connect; a bad one changes nothing.
            s.sections["signaling"]["turn_uris"] = "turns:relay2.example.org:443"
            s.write_config()
            s.reload()
            status, _, body, _ = s.curl("/api/kwm/v2/rtm/turn", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                        "--data-binary", "")
            self.assertEqual(json.loads(body)["turn"]["uris"], ["turns:relay2.example.org:443"])
            s.sections["signaling"]["turn_shared_secret_file"] = os.path.join(s.dir, "missing")
            s.write_config()
            self.assertIn("reload of module signaling failed: cannot read", s.reload())
            status, _, body, _ = s.curl("/api/kwm/v2/rtm/turn", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                        "--data-binary", "")
            self.assertEqual((status, json.loads(body)["turn"]["uris"]), (200, ["turns:relay2.example.org:443"]))
        finally:
            s.close()

    def test_turn_uris_without_a_secret_are_refused(self):
        s = Palaverd({"signaling": {"turn_uris": "turn:x.example:3478"}}, expect_start=False)
        try:
            code, _, err = s.run_once()
            self.assertEqual(code, 2)
            self.assertIn("turn_shared_secret_file", err)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
