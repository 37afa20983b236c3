"""WebRTC media through the built-in TURN server in a real browser: Debian's Chromium driven by
playwright-core (tests/node/turn-relay.js), relay-only ICE, one TURN URI at a time — UDP, TCP,
TLS on the TURN TLS port and TLS on the HTTPS port — plus a wrong password that must not connect
(so the media really went through palaverd).

Chromium checks TURN-over-TLS certificates with its ordinary verifier; turn-relay.js verifies
palaverd's certificates against the local CA itself and passes their keys to Chromium
(--ignore-certificate-errors-spki-list). The URIs name `localhost` (the certificate's name), which
the browser resolves to 127.0.0.1 only."""
import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from harness import Palaverd, SOURCE, metrics, wait_until

NODE_DIR = os.path.join(SOURCE, "tests", "node")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def private_network_namespace():
    """Moves this (single-threaded) test process into a network namespace of its own with loopback
    and one veth pair (10.213.0.1/24, default route through it): Chromium gathers no ICE
    candidates on a host whose only interface is loopback, and so the test behaves the same on
    every machine and cannot reach anything outside. Needs root and `ip`; False otherwise."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNET = 0x40000000
    if libc.unshare(CLONE_NEWNET) != 0:
        return False
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "pv0", "type", "veth", "peer", "name", "pv1"],
                ["ip", "addr", "add", "10.213.0.1/24", "dev", "pv0"],
                ["ip", "link", "set", "pv1", "up"],
                ["ip", "link", "set", "pv0", "up"],
                ["ip", "route", "add", "default", "via", "10.213.0.2", "dev", "pv0"]):
        subprocess.run(cmd, check=True, capture_output=True, timeout=10)
    return True


def turn_ports(server):
    return server.turn_ports()


class TurnBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = shutil.which("node")
        # Missing tools fail (as harness.require_node does), never skip: scripts/deps.sh test installs them.
        if not cls.node:
            raise AssertionError("node is not installed (scripts/deps.sh test)")
        if not os.path.exists(CHROMIUM):
            raise AssertionError("chromium is not installed (scripts/deps.sh test)")
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "playwright-core")):
            raise AssertionError("tests/node/node_modules is missing: ./dev test installs it")
        cls.namespace = private_network_namespace()
        cls.server = Palaverd(sections={"turn": {"allow_loopback_peers": "true"}})
        cls.ports = turn_ports(cls.server)
        cls.secret_file = os.path.join(cls.server.state, "turn_secret")  # written at start

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_media_relayed_over_every_transport(self):
        s, p = self.server, self.ports
        cases = {
            "udp": (f"turn:localhost:{p['udp']}?transport=udp", "udp"),
            "tcp": (f"turn:localhost:{p['tcp']}?transport=tcp", "tcp"),
            "tls": (f"turns:localhost:{p['tls']}?transport=tcp", "tls"),
            "https": (f"turns:localhost:{s.https_port}?transport=tcp", "tls"),
        }
        wrong_url = f"turn:localhost:{p['udp']}?transport=udp"
        before = metrics(s, "palaver_turn_relayed_packets_total")
        # Each call stays up 4 s after its first 10 frames: longer than the harness's 3 s
        # header_timeout, which must not cut TURN connections on the HTTPS port.
        args = [self.node, os.path.join(NODE_DIR, "turn-relay.js"), "--secret-file", self.secret_file, "--ca", s.ca,
                "--hold-ms", "4000"]
        args += [f"{name}={url}" for name, (url, _) in cases.items()]
        args += ["--wrong", f"wrong={wrong_url}"]
        t0 = time.monotonic()
        r = subprocess.run(args, capture_output=True, text=True, timeout=110)
        wall = time.monotonic() - t0
        results = {}
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                d = json.loads(line)
                results[d["case"]] = d
        print(f"\nturn-relay: {wall:.1f}s rc={r.returncode} " +
              " ".join(f"{k}={'ok' if v.get('ok') else 'FAIL'}/{v.get('frames_decoded')}f/{v.get('wall_ms')}ms"
                       for k, v in results.items()), file=sys.stderr)
        detail = f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-3000:]}"
        self.assertEqual(set(results), set(cases) | {"wrong"}, detail)

        for name, (url, protocol) in cases.items():
            with self.subTest(transport=name):
                res = results[name]
                self.assertTrue(res["ok"], json.dumps(res, indent=1))
                self.assertEqual(res["pair"], "relay/relay")
                self.assertEqual((res["relay_protocol"], res["local_url"]), (protocol, url))
                self.assertEqual(res["sender_pair"], f"relay/relay {protocol} {url}")
                self.assertGreaterEqual(res["frames_decoded"], 10)
                self.assertEqual(res["ice"], ["connected", "connected"])
                self.assertGreaterEqual(res["hold"]["framesAfter"] - res["hold"]["framesBefore"], 20, res["hold"])
                self.assertGreater(res["video_bytes"], 0)
                # The relayed addresses are palaverd's relay ports on loopback.
                for end in ("local", "remote"):
                    host, port = res[end].rsplit(":", 1)
                    self.assertEqual(host, "127.0.0.1")
                    self.assertTrue(49152 <= int(port) <= 65535, res[end])

        with self.subTest(transport="wrong password"):
            res = results["wrong"]
            self.assertTrue(res["ok"], json.dumps(res, indent=1))
            self.assertFalse(res["relayed"])
            self.assertEqual((res["pair"], res["frames_decoded"]), ("none/none", 0))
            self.assertIn((wrong_url, 401), [(e["url"], e["code"]) for e in res["cand_errors"]])

        self.assertEqual(r.returncode, 0, detail)
        after = metrics(s, "palaver_turn_relayed_packets_total")
        for direction in ('{direction="to_peer"}', '{direction="to_client"}'):
            self.assertGreater(after.get(direction, 0), before.get(direction, 0), after)
        self.assertGreater(sum(metrics(s, "palaver_turn_auth_failures_total").values()), 0)
        # Chromium released its allocations (Refresh with lifetime 0, or the TCP/TLS connection
        # closed) when the connections and the browser closed.
        wait_until(lambda: metrics(s, "palaver_turn_allocations")[""] == 0, timeout=10, interval=0.2,
                   what="every allocation released")


if __name__ == "__main__":
    unittest.main()
