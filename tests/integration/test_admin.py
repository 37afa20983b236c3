"""The host's admin API for settings (/admin/api/v1/settings): administrators only, typed and
validated values, durable, applied at once."""
import json
import unittest

from harness import PALAVERD_TESTBED, Palaverd

API = "/admin/api/v1/settings"


class AdminSettings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        cls.s.add_user("root", "pw", "--admin")
        cls.s.add_user("anna", "pw")
        cls.s.start()
        cls.root = cls.s.mint_token("root openid")
        cls.anna = cls.s.mint_token("anna openid")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def call(self, method, path=API, token=None, body=None):
        args = ["-X", method]
        if token:
            args += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", body]
        status, _, out, _ = self.s.curl(path, *args)
        return status, json.loads(out) if out.startswith(b"{") else out

    def test_only_administrators(self):
        self.assertEqual(self.call("GET")[0], 401)
        self.assertEqual(self.call("GET", token="garbage")[0], 401)
        self.assertEqual(self.call("GET", token=self.anna)[0], 403)
        self.assertEqual(self.call("PUT", f"{API}/signaling.guests_enabled", self.anna, '{"value": true}')[0], 403)
        status, doc = self.call("GET", token=self.root)
        self.assertEqual(status, 200)
        keys = {s["key"]: s for s in doc["settings"]}
        self.assertEqual(keys["signaling.public_guest_access_regexp"]["default"], "^group/public/.*")
        self.assertIn("description", keys["signaling.guests_enabled"])

    def test_values_are_typed_validated_and_durable(self):
        put = lambda key, body: self.call("PUT", f"{API}/{key}", self.root, body)
        self.assertEqual(put("signaling.guests_enabled", '{"value": "yes"}')[0], 400)
        self.assertEqual(put("signaling.guests_enabled", '{"value": [true]}')[0], 400)
        self.assertEqual(put("signaling.guests_enabled", 'not json')[0], 400)
        self.assertEqual(put("signaling.guests_enabled", '{"other": true}')[0], 400)
        self.assertEqual(put("no.such.setting", '{"value": true}')[0], 404)
        self.assertEqual(put("signaling.public_guest_access_regexp", '{"value": "(unclosed"}')[0], 400)
        status, doc = put("signaling.public_guest_access_regexp", '{"value": "^group/open/.*"}')
        self.assertEqual((status, doc["settings"][0]["value"]), (200, "^group/open/.*"))
        self.assertEqual(self.call("PUT", API, self.root, '{"value": 1}')[0], 405)
        self.assertIn("setting changed key=signaling.public_guest_access_regexp", self.s.stderr())
        # Durable: a restart keeps it.
        self.s.stop()
        self.s.start()
        root = self.s.mint_token("root openid")
        status, doc = self.call("GET", token=root)
        keys = {s["key"]: s["value"] for s in doc["settings"]}
        self.assertEqual(keys["signaling.public_guest_access_regexp"], "^group/open/.*")
        type(self).root = root
        type(self).anna = self.s.mint_token("anna openid")


if __name__ == "__main__":
    unittest.main()
