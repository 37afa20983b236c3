"""A 1:1 call through the kwm signaling in a default browser (issue 11): Debian's Chromium with
HTTP/2 on, driven by playwright-core (tests/node/signaling-browser.js). Two users, each in a
browser context of their own, sign in on the page, call rtm/connect with fetch, open the
signaling WebSocket with `new WebSocket()`, and exchange a call (ring, accept) and a real SDP
offer and answer through palaverd. The browser must have reached palaverd over HTTP/2, so that
the test covers what a newcomer's browser does: this is the path where Chromium, told by the
server's SETTINGS that RFC 8441 extended CONNECT is supported, opened the WebSocket as a stream
of the h2 connection, and palaverd never answered that stream: the WebSocket did not open within
kwmjs's 5 s, and only when palaverd closed the whole connection (header_timeout) did Chromium
retry the handshake over HTTP/1.1. Chromium's net log (read by the script) tells how each
handshake went; a good one succeeds at its first attempt, over h2 or over HTTP/1.1."""
import json
import os
import subprocess
import time
import unittest

from harness import NODE_DIR, Palaverd, require_node



class SignalingBrowser(unittest.TestCase):
    def setUp(self):
        self.node = require_node(self, chromium=True)
        # The default header_timeout (10 s), not the harness's 3 s: a stalled stream then stays
        # stalled for as long as it would for a newcomer.
        self.s = Palaverd(sections={"palaver": {"header_timeout": "10s"}}, expect_start=False)
        # An id with '-' or '_' is not what this test is about (defect 7): the caller addresses
        # the callee by the id of the callee's own hello, which matches in any alphabet.
        self.s.add_user("anna", "anna-secret", "--display-name", "Anna Alder")
        self.s.add_user("bert", "bert-secret", "--display-name", "Bert Berg")
        self.s.start()

    def tearDown(self):
        self.s.close()

    def test_call_over_the_signaling_websocket_in_chromium_with_http2(self):
        iss = f"https://localhost:{self.s.https_port}"
        t0 = time.monotonic()
        r = subprocess.run([self.node, os.path.join(NODE_DIR, "signaling-browser.js"), iss, self.s.ca,
                            "anna:anna-secret", "bert:bert-secret"],
                           capture_output=True, text=True, timeout=55, cwd=NODE_DIR)
        wall = time.monotonic() - t0
        lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
        self.assertTrue(lines, f"signaling-browser.js printed no result (rc={r.returncode}):\n{r.stderr[-3000:]}")
        out = json.loads(lines[-1])
        server_log = "\n".join(self.s.stderr().splitlines()[-30:])
        detail = (f"\nbrowser: {out.get('browser')}, {wall:.1f} s, rc={r.returncode}\nstep: {out.get('step')}\n"
                  f"console:\n  " + "\n  ".join(out.get("console", [])[-10:]) +
                  f"\nresult: {json.dumps(out)[:3000]}\nnode stderr: {r.stderr[-1500:]}\npalaverd log (tail):\n{server_log}")

        # Signed in through the page: the app's scopes were granted.
        self.assertIsNotNone(out.get("caller_scope"), "sign-in in the browser failed" + detail)
        self.assertIn("kopano/kwm", out["caller_scope"].split(), detail)
        self.assertIn("kopano/kwm", out["callee_scope"].split(), detail)
        # The default-browser path: the pages and their kwm requests went over HTTP/2.
        self.assertIn("protocols", out, detail)
        for role in ("caller", "callee"):
            self.assertEqual(out["protocols"][role]["navigation"], "h2",
                             f"{role}: Chromium did not load the page over HTTP/2, so this test would not cover "
                             "the default-browser path" + detail)
        # The signaling WebSocket opened and said hello, for both users.
        handshakes = out.get("ws_handshakes")
        self.assertIsNotNone(handshakes, f"Chromium's net log could not be read: {out.get('netlog_error')}" + detail)
        summary = "\nWebSocket handshakes (Chromium's net log):\n  " + "\n  ".join(json.dumps(h) for h in handshakes)
        ws_step = str(out.get("step", "")).endswith("rtm/connect and WebSocket")
        self.assertFalse(ws_step and out.get("error"),
                         f"the signaling WebSocket failed in Chromium over HTTP/2 (issue 11, defect 1): "
                         f"{out.get('error')}" + summary + detail)
        self.assertIsNone(out.get("error"), detail)
        # Each user's WebSocket opened at the first attempt: one handshake, answered, no stream
        # reset, no retry after a dropped connection.
        self.assertEqual(len(handshakes), 2, summary + detail)
        for h in handshakes:
            self.assertEqual(h["h2_extended_connect"] + h["http1_upgrade"], 1, "more than one handshake" + summary + detail)
            self.assertEqual((h["stream_errors"], h["restarts_after_error"]), ([], []), summary + detail)
            self.assertEqual(len(h["responses"]), 1, summary + detail)
            self.assertRegex(h["responses"][0], r"^(HTTP/1\.1 101 |:status: 200$)", summary + detail)
        for role in ("caller", "callee"):
            self.assertLess(out[f"{role}_ws_open_ms"], 5000, detail)
        for role in ("caller", "callee"):
            self.assertEqual(out["protocols"][role]["kwm_api"], ["h2"], f"{role}: rtm/connect not over HTTP/2" + detail)
        caller, callee = out["caller_hello"], out["callee_hello"]
        self.assertEqual((caller["type"], caller["name"]), ("hello", "Anna Alder"), detail)
        self.assertEqual((callee["type"], callee["name"]), ("hello", "Bert Berg"), detail)
        self.assertTrue(caller["id"] and callee["id"] and caller["id"] != callee["id"], detail)
        self.assertEqual(out["ws_path"], "/api/kwm/v2/rtm/websocket/<key>", detail)
        # The ring reached the callee with the caller's id, the call channel and its hash.
        self.assertRegex(out["channel"]["channel"], r"^\*", detail)
        self.assertTrue(out["channel"]["has_hash"], detail)
        self.assertEqual(out["ring"], {"subtype": "webrtc_call", "source": caller["id"], "target": callee["id"],
                                       "initiator": True, "channel": out["channel"]["channel"], "same_hash": True,
                                       "state": "sA", "profile": {"name": "Anna Alder"}}, detail)
        # The accept came back to the caller.
        self.assertEqual(out["accept"], {"source": callee["id"], "channel": out["channel"]["channel"],
                                         "data": {"accept": True, "state": "sA"}, "profile": {"name": "Bert Berg"},
                                         "same_hash": True}, detail)
        # The browsers' own offer and answer went through unchanged, and the caller's
        # RTCPeerConnection took the answer.
        self.assertEqual(out["offer"], {"source": caller["id"], "pcid": "pc-caller", "type": "offer", "sdp_intact": True},
                         detail)
        self.assertEqual(out["answer"], {"source": callee["id"], "type": "answer", "sdp_intact": True}, detail)
        self.assertEqual(out["caller_signaling_state"], "stable", detail)
        self.assertEqual(r.returncode, 0, detail)
        self.assertLess(wall, 50, detail)


if __name__ == "__main__":
    unittest.main()
