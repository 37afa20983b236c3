"""The key-value store (/api/kvs/v1, spec §3) as the Meet app uses it for its recents, with real
access tokens (minted by the test-only testbed module until the OIDC code flow exists)."""
import base64
import json
import subprocess
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


    # --- one JSON rule, values stored as sent (finding 13) --------------------------------

    def raw(self, key):
        status, _, body, _ = self.call("GET", f"{KV}/{key}?raw=1")
        self.assertEqual(status, 200)
        return body

    def test_every_json_value_is_valid_and_kept_as_sent(self):
        # A single PUT takes any JSON value, scalars included...
        for i, value in enumerate(["0.1", '"str"', "true", "null", "-12", "18446744073709551616", "1e-400"]):
            self.assertEqual(self.call("PUT", f"{KV}/scalars/{i}", body=value)[0], 200, value)
            self.assertEqual(self.raw(f"scalars/{i}"), value.encode())
        self.assertEqual(json.loads(self.call("GET", f"{KV}/scalars/0")[2])["value"], 0.1)
        self.assertEqual(json.loads(self.call("GET", f"{KV}/scalars/1")[2])["value"], "str")
        # ...and a batch stores the same values without narrowing them.
        batch = ('[{"key":"big","value":18446744073709551616,"content_type":"application/json"},'
                 '{"key":"tiny","value":1e-400,"content_type":"application/json"},'
                 '{"key":"obj","value":{"n":123456789012345678901234567890},"content_type":"application/json"}]')
        self.assertEqual(self.call("PUT", f"{KV}/numbers?batch=1", body=batch)[0], 200)
        self.assertEqual(self.raw("numbers/big"), b"18446744073709551616")
        self.assertEqual(self.raw("numbers/tiny"), b"1e-400")
        self.assertEqual(json.loads(self.raw("numbers/obj")), {"n": 123456789012345678901234567890})
        self.assertIn(b'"value":18446744073709551616', self.call("GET", f"{KV}/numbers/big")[2])
        # Invalid JSON is refused the same way by both, and nothing is stored.
        for bad in ("01", "1.", "NaN", "{'a':1}", "[1,]"):
            self.assertEqual(self.call("PUT", f"{KV}/bad/one", body=bad)[0], 400, bad)
            batch = '[{"key":"x","value":%s,"content_type":"application/json"}]' % bad
            self.assertEqual(self.call("PUT", f"{KV}/bad?batch=1", body=batch)[0], 400, bad)
        self.assertEqual(self.call("GET", f"{KV}/bad/one")[0], 404)
        self.assertEqual(self.call("GET", f"{KV}/bad/x")[0], 404)

    def test_json_is_a_media_type_not_a_prefix(self):
        # application/jsonx is not JSON: stored as bytes, returned base64 with its type.
        self.assertEqual(self.call("PUT", f"{KV}/types/x", body="not json", content_type="application/jsonx")[0], 200)
        env = json.loads(self.call("GET", f"{KV}/types/x")[2])
        self.assertEqual((base64.b64decode(env["value"]), env["content_type"]), (b"not json", "application/jsonx"))
        self.assertEqual(self.call("PUT", f"{KV}/types/y", body="not json",
                                   content_type="Application/JSON; charset=utf-8")[0], 400)

    # --- tokens of users who are gone (finding 4) ------------------------------------------

    def user_cli(self, *args, password=None):
        r = subprocess.run([self.s.binary, "user", *args, "--config", self.s.config_path], input=password,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_tokens_of_disabled_removed_or_signed_out_users_are_refused(self):
        for name in ("carl", "dora", "erik"):
            self.s.add_user(name)
        tokens = {name: self.s.mint_token(f"{name} openid kopano/kvs") for name in ("carl", "dora", "erik")}
        for token in tokens.values():
            self.assertEqual(self.call("PUT", f"{KV}/mine/1", token, body="{}")[0], 200)
        self.user_cli("disable", "carl")
        self.user_cli("remove", "dora")
        self.user_cli("passwd", "erik", password="another-pw\n")  # ends erik's sessions and tokens
        for name, token in tokens.items():
            status, _, body, _ = self.call("PUT", f"{KV}/mine/2", token, body="{}")
            self.assertEqual((status, body), (403, b""), name)
            self.assertEqual(self.call("GET", f"{KV}/mine/1", token)[0], 403, name)
        self.assertEqual(self.call("PUT", f"{KV}/mine/2", body="{}")[0], 200)  # anna's token still works
        self.user_cli("enable", "carl")
        self.assertEqual(self.call("PUT", f"{KV}/mine/2", tokens["carl"], body="{}")[0], 403)  # stays ended
        self.assertEqual(self.call("PUT", f"{KV}/mine/2", self.s.mint_token("carl openid kopano/kvs"),
                                   body="{}")[0], 200)


if __name__ == "__main__":
    unittest.main()
