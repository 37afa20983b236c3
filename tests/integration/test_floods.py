"""Floods and slow clients (issue 19), each against a fresh palaverd at a small scale of
bench/floods.py's attacks (the full-size figures are in docs/security.md): the per-address limit
holds, palaverd's RSS stays bounded (under 64 MB of growth), and a well-behaved client from
another address signs in (the code flow through the form) and places a call (call, ring,
accept, answer) over and over during the attack without a single failure."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import floods  # noqa: E402

SCALE = 0.2


class Floods(unittest.TestCase):
    def attack(self, name):
        r = floods.run(name, SCALE, header_timeout="3s")
        print(f"\n{name}: {r}", file=sys.stderr, flush=True)
        self.assertTrue(r["alive"], r)
        self.assertLess(r["growth_mb"], 64, r)
        self.assertGreaterEqual(r["calls"], 1, r)
        self.assertEqual(r["call_failures"], 0, r)
        self.assertEqual(r["healthz_failures"], 0, r)
        self.assertTrue(r["limit_held"], r)
        return r

    def test_slowloris(self):
        r = self.attack("slowloris")
        self.assertLessEqual(r["accepted"], floods.PER_IP)
        self.assertGreater(r["refused_at_accept"], 0)  # 300 from one address: the excess refused
        self.assertEqual(r["closed_by_header_timeout"], r["accepted"])

    def test_half_open_tls_handshakes(self):
        r = self.attack("half-open")
        # At most the per-address limit kept (exactly it unless some already timed out).
        self.assertLessEqual(r["kept_from_one_address"], floods.PER_IP)
        self.assertGreater(r["kept_from_one_address"], floods.PER_IP // 2)
        self.assertEqual(r["closed_by_header_timeout"], r["half_open"])

    def test_websocket_clients_that_never_read(self):
        r = self.attack("ws-never-read")
        self.assertEqual(r["cut_off"], r["clients"])

    def test_oversized_frames(self):
        r = self.attack("oversized-frames")
        self.assertEqual(r["close_codes"], {"1009": r["frames"]})
        self.assertEqual(r["signaling_300k_close"], 1009)

    def test_turn_allocation_flood_from_one_address(self):
        r = self.attack("turn")
        self.assertLessEqual(r["unauthenticated_answered"], 400)  # burst 200 + 50/s
        self.assertLessEqual(r["allocated"], 200)  # max_allocations_per_user
        self.assertGreater(r["quota_486"], 0)


if __name__ == "__main__":
    unittest.main()
