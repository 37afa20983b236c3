"""1:1 calls in Palaver's own Meet web app (webui/meet), end to end: Debian's Chromium driven by
playwright-core (tests/node/meet-call.js) against the real palaverd, media relayed through
palaverd's own TURN server — config.json forces `iceTransportPolicy: relay` through
`[web] meet_config_file`, exactly as an administrator would — on loopback
(`[turn] allow_loopback_peers`). Each scenario is bounded (< 150 s)."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

from harness import write
from test_meet_browser import MeetBrowserCase, NODE_DIR, run_node

RELAY_ONLY = {"kwm": {"webrtc": {"config": {"iceTransportPolicy": "relay"}}}}


class MeetCall(MeetBrowserCase):
    """A palaverd whose Meet config forces relay-only ICE (set up before start by overriding
    MeetBrowserCase's server: same users, plus the config file and loopback TURN peers)."""
    users = MeetBrowserCase.users + tuple((n, f"{n}-secret", d) for n, d in (
        ("carl", "Carl Clay"), ("dora", "Dora Dahl"), ("emil", "Emil Eck"), ("fritz", "Fritz Falk")))

    def setUp(self):
        super().setUp()
        # Restart with the relay-only Meet config and loopback TURN peers (the harness's
        # Palaverd is built by MeetBrowserCase; its config is rewritten here).
        cfg = os.path.join(self.s.dir, "meet.json")
        write(cfg, json.dumps(RELAY_ONLY))
        self.s.stop()
        self.s.sections.setdefault("web", {})["meet_config_file"] = cfg
        self.s.sections.setdefault("turn", {})["allow_loopback_peers"] = "true"
        # Same ports across restarts, so that the browsers' origin stays the same.
        self.s.sections["palaver"]["https_port"] = str(self.s.https_port)
        self.s.sections["palaver"]["http_port"] = str(self.s.http_port)
        self.s.write_config()
        self.s.start()
        self.iss = f"https://localhost:{self.s.https_port}"
        status, _, body, _ = self.s.curl("/api/config/v1/kopano/meet/config.json", "-H", "Kopano-XSRF: 1")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["kwm"]["webrtc"]["config"]["iceTransportPolicy"], "relay")

    def scenario(self, name, *more, a="anna:anna-secret", b="bert:bert-secret"):
        t0 = time.monotonic()
        if os.environ.get("MEET_CALL_LOG"):
            def dump():
                status, _, body, _ = self.s.curl("/metrics", check=False)
                print("\n".join(l for l in body.decode(errors="replace").splitlines()
                                if l.startswith(("palaver_signaling_drops", "palaver_signaling_messages", "palaver_turn_"))), file=sys.stderr)
            self.addCleanup(dump)
        out = run_node(self, "meet-call.js", name, self.iss, self.s.ca, a, b, *more, timeout=int(os.environ.get("MEET_CALL_TIMEOUT", "170")))
        print(f"\nmeet-call {name}: {time.monotonic() - t0:.1f}s {json.dumps({k: v for k, v in out.items() if k != 'console'})}",
              file=sys.stderr)
        return out

    def assertRelayed(self, media):
        # Both browsers use relay-only ICE: the remote end is the peer's relay, named "prflx"
        # when its check arrived before its candidate did.
        self.assertIn(media["pair"], ("relay/relay", "relay/prflx"), media)
        a, b = media.get("framesDecoded") or media.get("screenFramesDecoded")
        self.assertGreater(b, a)

    def test_call_accept_media_controls_chat_hand_screen(self):
        out = self.scenario("call")
        self.assertEqual(out["incoming_name"], "Anna Alder ruft an")  # the callee's browser is German
        self.assertTrue(out["ringing_sound"])
        self.assertRelayed(out["a_media"])
        self.assertRelayed(out["b_media"])
        # Camera capped at 1 Mbit/s as the original (sdpParams.videoSendBitrate default).
        self.assertEqual(out["a_media"]["cameraMaxBitrate"], 1000000)
        self.assertEqual(out["controls_hidden"], "0")
        self.assertTrue(out["controls_back"])
        self.assertIn("Hang up", out["labels"])
        self.assertIn("Auflegen", out["labels_de"])
        self.assertIn(out["quality"], ("good", "fair", "poor", "unknown"))
        self.assertTrue(out["mic_muted_seen"])
        self.assertTrue(out["chat_received"])
        # A send the server refuses keeps the text, with the reason (B's screen is German).
        self.assertEqual(out["chat_error"], "Die Nachricht konnte nicht gesendet werden. Ihr Text ist noch da: Versuchen Sie es erneut.")
        self.assertEqual(out["chat_error_role"], "alert")
        self.assertEqual(out["chat_kept"], 9000)
        self.assertEqual((out["chat_after_retry"], out["chat_error_after_retry"]), ("", 0))
        self.assertTrue(out["hand_seen"])
        self.assertTrue(out["screen_button"])
        self.assertEqual(out["sharer_indicator_green"], "rgb(26, 127, 55)")
        self.assertRelayed(out["b_screen"])
        self.assertEqual(out["b_side_tiles"], 1)
        self.assertTrue(out["b_phone_controls"] and all(out["b_phone_controls"]), out["b_phone_controls"])
        self.assertGreater(out["b_phone_tile_width"], 300)
        self.assertEqual(out["b_after"]["status"], "idle")
        self.assertEqual(out["b_after"]["ended"], "hangup")

    def test_decline_tells_the_caller_ignore_does_not(self):
        out = self.scenario("decline-ignore")
        self.assertEqual(out["a_after_decline"]["status"], "idle")
        self.assertEqual(out["a_after_decline"]["ended"], "declined")
        self.assertIn("Bert Berg declined the call.", out["declined_text"])
        self.assertTrue(out["outgoing_gone"])
        self.assertEqual(out["a_after_ignore"]["status"], "outgoing")
        self.assertTrue(out["a_still_ringing"])
        self.assertEqual(out["b_after_ignore"]["status"], "idle")
        self.assertEqual(out["b_after_caller_hangup"]["status"], "idle")
        self.assertIsNone(out["b_after_caller_hangup"].get("ended"))

    def test_two_devices_both_ring_one_answers(self):
        out = self.scenario("devices")
        self.assertTrue(out["same_user"])
        self.assertTrue(out["both_rang"])
        self.assertEqual(out["b1_after"]["status"], "idle")
        self.assertEqual(out["b1_after"]["ended"], "answered-elsewhere")
        self.assertRelayed(out["a_media"])
        self.assertRelayed(out["b2_media"])

    def test_audio_only_sends_and_receives_no_video(self):
        out = self.scenario("audio-only")
        for side in ("a", "b"):
            self.assertEqual(out[side]["framesDecoded"], 0, out)
            self.assertEqual(out[side]["videoBytesSent"], 0, out)
            self.assertEqual(out[side]["videoBytesReceived"], 0, out)
            self.assertGreater(out[side]["audio"], 50)
            self.assertIn(out[side]["pair"], ("relay/relay", "relay/prflx"))
        self.assertFalse(out["b_screen_button"])
        self.assertFalse(out["b_cam_button"])

    def test_group_room_of_three_mesh_chat_leave(self):
        out = self.scenario("room", "carl:carl-secret")
        for peers in out["mesh"]:
            self.assertEqual(len(peers), 2)
            for p in peers:
                self.assertIn(p["pair"], ("relay/relay", "relay/prflx"))
                self.assertGreater(p["framesDecoded"], 5)
        self.assertEqual(out["tiles"], 2)
        self.assertEqual(out["grid_columns"], 2)
        self.assertTrue(out["room_chat"])
        self.assertEqual([p["name"] for p in out["after_leave"]["participants"]], ["Bert Berg"])

    def test_group_room_of_six_speaker_large(self):
        """Six in one room: 33-75 s on a shared 2-core machine (6 consecutive passes at load
        averages 7-38 after the fixes below; it ran only with PALAVER_HEAVY_TESTS=1 before). The
        signaling traces (PALAVER_MESH_TRACE) of earlier failures showed starved pages: kwm
        keepalive answers later than 4.5 s dropped sockets, and a member whose socket dropped made
        every one of its pairs start over (now kept while media flow), plus a second answer to a
        copied offer that could be taken for the answer to an ICE restart (now not sent). At load
        averages near 48 (other agents building) a run can still miss its bound: pages then logged
        nothing for 80 s."""
        out = self.scenario("room6", "carl:carl-secret", "dora:dora-secret", "emil:emil-secret", "fritz:fritz-secret")
        self.assertEqual(len(out["mesh"]), 6)
        for frames in out["mesh"]:
            self.assertEqual(len(frames), 5)
        self.assertEqual(out["side_tiles"], 4)
        self.assertTrue(out["main_wider"])

    def run_with_restart(self, scenario):
        """Runs a meet-call.js scenario that asks for a palaverd restart midway: palaverd stops
        (signaling and TURN go), stays down 2 s and starts again on the same ports with the same
        state dir (sign-in keys and users survive; channels, hashes and TURN allocations do not)."""
        proc = subprocess.Popen([shutil.which("node"), os.path.join(NODE_DIR, "meet-call.js"), scenario, self.iss, self.s.ca,
                                 "anna:anna-secret", "bert:bert-secret"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NODE_DIR)
        out = None
        timer = threading.Timer(170, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                if d.get("restart"):
                    self.s.stop()
                    time.sleep(2)
                    self.s.start()
                    proc.stdin.write("restarted\n")
                    proc.stdin.flush()
                    continue
                out = d
            proc.wait(timeout=10)
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = proc.stderr.read()
        self.assertIsNotNone(out, f"meet-call.js printed no result:\n{err[-3000:]}")
        print(f"\nmeet-call {scenario}: {json.dumps({k: v for k, v in out.items() if k != 'console'})}", file=sys.stderr)
        self.assertEqual(proc.returncode, 0, f"failed at {out.get('step')}: {out.get('error')}\nconsole: "
                         f"{json.dumps(out.get('console', []), indent=1)}\nstderr: {err[-2000:]}")
        return out

    def test_call_survives_a_palaverd_restart(self):
        """A 1:1 call: the app reconnects, moves the call to a new channel and restarts ICE
        through the new TURN allocation, without anyone clicking, and says so meanwhile."""
        out = self.run_with_restart("restart")
        self.assertNotIn("banner_missed", out)
        self.assertRelayed(out["before"]["a"])
        self.assertRelayed(out["after"]["a"])
        self.assertRelayed(out["after"]["b"])
        self.assertEqual(out["a_state"]["status"], "call")
        self.assertEqual(out["a_state"]["signaling"], "connected")

    def test_room_survives_a_palaverd_restart(self):
        out = self.run_with_restart("room-restart")
        self.assertNotIn("banner_missed", out)
        self.assertRelayed(out["after"]["a"])
        self.assertRelayed(out["after"]["b"])
        for side in ("a_state", "b_state"):
            self.assertEqual(out[side]["status"], "room")
            self.assertEqual(len(out[side]["participants"]), 1)


if __name__ == "__main__":
    unittest.main()
