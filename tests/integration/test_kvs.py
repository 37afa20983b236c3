"""The key-value store (/api/kvs/v1, spec §3) as the Meet app uses it for its recents, with real
access tokens (minted by the test-only testbed module until the OIDC code flow exists)."""
import base64
import json
import unittest

from harness import PALAVERD_TESTBED, Palaverd

KV = "/api/kvs/v1/kv/user"
RECENTS = KV + "/kopano-meet-recents"


class Kvs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        for name in ("anna", "bert"):
            cls.s.add_user(name)
        cls.s.start()
        cls.anna = cls.s.mint_token("anna openid kopano/kvs")
        cls.bert = cls.s.mint_token("bert openid kopano/kvs")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def call(self, method, path, token=None, body=None, content_type="application/json", *extra):
        args = ["-X", method, "-g", "-H", "Kopano-XSRF: 1", "-H", f"Authorization: Bearer {token or self.anna}"]
        if body is not None:
            args += ["-H", f"Content-Type: {content_type}", "--data-binary", body]
        return self.s.curl(path, *args, *extra)

    def test_recents_round_trip_as_meet_does(self):
        contact = {"id": "x1", "displayName": "Bert", "kind": "contact", "date": "2026-11-21T10:00:00Z"}
        group = {"id": "public/team", "displayName": "public/team", "scope": "group", "kind": "group"}
        self.assertEqual(self.call("PUT", f"{RECENTS}/contact/x1", body=json.dumps(contact))[0], 200)
        self.assertEqual(self.call("PUT", f"{RECENTS}/group/public/team", body=json.dumps(group))[0], 200)
        status, h, body, _ = self.call("GET", f"{RECENTS}?recurse=1")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("application/json"))
        items = json.loads(body)
        self.assertEqual([i["key"] for i in items],
                         ["kopano-meet-recents/contact/x1", "kopano-meet-recents/group/public/team"])
        self.assertEqual(items[1]["value"], group)
        # Updating moves the entry to the end (Meet treats the last as newest).
        contact["date"] = "2026-11-21T11:00:00Z"
        self.call("PUT", f"{RECENTS}/contact/x1", body=json.dumps(contact))
        items = json.loads(self.call("GET", f"{RECENTS}?recurse=1")[2])
        self.assertEqual(items[-1]["value"]["date"], "2026-11-21T11:00:00Z")
        # Other users do not see it.
        self.assertEqual(json.loads(self.call("GET", f"{RECENTS}?recurse=1", self.bert)[2]), [])
        self.assertEqual(self.call("DELETE", f"{RECENTS}/contact/x1")[0], 200)
        self.assertEqual(self.call("DELETE", f"{RECENTS}/contact/x1")[0], 404)

    def test_batch_migration_and_raw_values(self):
        batch = [{"key": "local/a", "value": {"n": 1}, "content_type": "application/json"},
                 {"key": "local/b", "value": base64.b64encode(b"\x00bin").decode(), "content_type": "application/x-bin"}]
        self.assertEqual(self.call("PUT", f"{KV}/migrated?batch=1", body=json.dumps(batch))[0], 200)
        status, _, body, _ = self.call("GET", f"{KV}/migrated/local/a")
        self.assertEqual(json.loads(body), {"key": "migrated/local/a", "value": {"n": 1}})
        env = json.loads(self.call("GET", f"{KV}/migrated/local/b")[2])
        self.assertEqual((base64.b64decode(env["value"]), env["content_type"]), (b"\x00bin", "application/x-bin"))
        status, h, body, _ = self.call("GET", f"{KV}/migrated/local/b?raw=1")
        self.assertEqual((status, h["content-type"], body), (200, "application/x-bin", b"\x00bin"))
        self.assertEqual(self.call("GET", f"{KV}/missing")[0], 404)

    def test_bad_input(self):
        self.assertEqual(self.call("PUT", f"{KV}/j/1", body="{not json")[0], 400)
        self.assertEqual(self.call("PUT", f"{KV}/big/1", body="x" * 20000, content_type="text/plain")[0], 413)
        self.assertEqual(self.call("PUT", f"{KV}/b?batch=1", body="[{\"value\":1}]")[0], 400)
        self.assertEqual(self.call("POST", f"{KV}/x/1", body="{}")[0], 501)
        self.assertEqual(self.call("GET", "/api/kvs/v1/kv/system/x")[0], 404)
        # (Empty and dot segments are folded by the HTTP layer before they get here.)
        self.assertEqual(self.call("PUT", f"{KV}/a%01b", body="{}")[0], 400)

    def test_tokens_and_scopes_give_403(self):
        self.assertEqual(self.call("GET", f"{RECENTS}?recurse=1", "garbage")[0], 403)
        no_kvs = self.s.mint_token("anna openid profile")
        status, _, body, _ = self.call("GET", f"{RECENTS}?recurse=1", no_kvs)
        self.assertEqual((status, body), (403, b""))
        r = self.s.curl(f"{RECENTS}?recurse=1", "-g")
        self.assertEqual(r[0], 403)


if __name__ == "__main__":
    unittest.main()
