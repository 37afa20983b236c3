"""The address book API (/api/gc/v1, spec §2) with real access tokens. Until the OIDC code flow
exists, tokens are minted by the test-only testbed module through the provider's TokenIssuer."""
import json
import unittest

from harness import PALAVERD_TESTBED, Palaverd

GC = "/api/gc/v1"
SCOPES = "openid profile email kopano/gc"


class AddressBook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Exactly these four users: no generated administrator among them.
        cls.s = Palaverd({"directory": {"initial_admin": "no"}}, binary=PALAVERD_TESTBED, expect_start=False)
        for name, display, mail in [("anna", "Anna Apfel", "anna@example.org"),
                                    ("bert", "Bert Birne", "bert@example.org"),
                                    ("carl", "Carl Kirsch", "carl@example.org"),
                                    ("dora", "Dora 100%", "dora@example.org")]:
            cls.s.add_user(name, "pw", "--display-name", display, "--mail", mail)
        cls.s.start()
        cls.token = cls.s.mint_token("anna " + SCOPES)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def get(self, path, token=None, *args):
        headers = ["-H", "Kopano-XSRF: 1"]
        if token is not False:
            headers += ["-H", f"Authorization: Bearer {token or self.token}"]
        return self.s.curl(path, *headers, *args)

    def test_probe_and_full_load_as_meet_does(self):
        status, h, body, _ = self.get(f"{GC}/users?$top=1&$skip=100&$select=id", None, "-g")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertEqual(json.loads(body)["value"], [])
        status, _, body, _ = self.get(f"{GC}/users?$top=100&$skip=0", None, "-g")
        doc = json.loads(body)
        self.assertEqual(doc["@odata.context"], "/api/gc/v1/users")
        names = [u["displayName"] for u in doc["value"]]
        self.assertEqual(names, ["Anna Apfel", "Bert Birne", "Carl Kirsch", "Dora 100%"])
        self.assertNotIn("@odata.nextLink", doc)
        u = doc["value"][1]
        self.assertEqual(set(u), {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName",
                                  "jobTitle", "mobilePhone", "officeLocation", "businessPhones"})
        self.assertEqual(u["userPrincipalName"], "bert")

    def test_search_paging_and_lookup(self):
        status, _, body, _ = self.get(f"{GC}/users?$top=100&$skip=0&$search=kirsch", None, "-g")
        self.assertEqual([u["userPrincipalName"] for u in json.loads(body)["value"]], ["carl"])
        _, _, body, _ = self.get(f"{GC}/users?$top=100&$search=%25", None, "-g")  # a literal %
        self.assertEqual([u["userPrincipalName"] for u in json.loads(body)["value"]], ["dora"])
        _, _, body, _ = self.get(f"{GC}/users?$top=2&$skip=0", None, "-g")
        doc = json.loads(body)
        self.assertEqual(len(doc["value"]), 2)
        self.assertEqual(doc["@odata.nextLink"], "/api/gc/v1/users?$top=2&$skip=2")
        bert_id = [u for u in json.loads(self.get(f"{GC}/users?$top=100", None, "-g")[2])["value"]
                   if u["userPrincipalName"] == "bert"][0]["id"]
        status, _, body, _ = self.get(f"{GC}/users/{bert_id}")
        self.assertEqual((status, json.loads(body)["mail"]), (200, "bert@example.org"))
        status, _, body, _ = self.get(f"{GC}/users/bert")  # by username (useIdentifiedUser)
        self.assertEqual(json.loads(body)["id"], bert_id)
        status, _, body, _ = self.get(f"{GC}/me")
        self.assertEqual((status, json.loads(body)["userPrincipalName"]), (200, "anna"))

    def test_not_found_and_bad_queries(self):
        status, _, body, _ = self.get(f"{GC}/users/nobody")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not_found")
        self.assertEqual(self.get(f"{GC}/users/anna/photo/$value", None, "-g")[0], 404)
        self.assertEqual(self.get(f"{GC}/groups")[0], 404)
        status, _, body, _ = self.get(f"{GC}/users?$top=5000", None, "-g")
        self.assertEqual(status, 400)
        self.assertIn("$top", json.loads(body)["error_description"])
        self.assertEqual(self.get(f"{GC}/users?$select=password", None, "-g")[0], 400)
        # Injection attempts are just text.
        status, _, body, _ = self.get(f"{GC}/users?$search=%27%20OR%201%3D1%20--", None, "-g")
        self.assertEqual((status, json.loads(body)["value"]), (200, []))

    def test_tokens_and_scopes_are_enforced_with_403(self):
        self.assertEqual(self.get(f"{GC}/users", False)[0], 403)               # no token
        self.assertEqual(self.get(f"{GC}/users", "garbage")[0], 403)           # not a JWT
        tampered = self.token[:-4] + ("AAAA" if not self.token.endswith("AAAA") else "BBBB")
        self.assertEqual(self.get(f"{GC}/users", tampered)[0], 403)            # bad signature
        no_gc = self.s.mint_token("anna openid profile email")
        status, _, body, _ = self.get(f"{GC}/users", no_gc)                    # missing kopano/gc
        self.assertEqual((status, body), (403, b""))
        self.assertEqual(self.get(f"{GC}/users", self.s.mint_token("bert " + SCOPES))[0], 200)


if __name__ == "__main__":
    unittest.main()
