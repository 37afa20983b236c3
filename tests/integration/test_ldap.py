"""The directory's LDAP backend against a real slapd (ldap_fixture.py) and the real palaverd:
sign-in, injection attempts, the address book the Meet app asks for (paging past the server's size
limit, photos), group-based access and admin, renames, StartTLS, failover, an outage and the
recovery after it, and the openid-client flow with an LDAP user."""
import json
import re
import os
import subprocess
import time
import unittest
import urllib.parse

import ldap_fixture
from harness import NODE_DIR, PALAVERD_TESTBED, Palaverd, require_node

GC = "/api/gc/v1"
SIGNIN = "/signin/v1/identifier/_"
SCOPES = "openid profile email kopano/gc"
LISTED = sorted([p for p in ldap_fixture.PEOPLE if p[5] and p[0] != "eve"] +
                [(f"zz{i:02d}", "", "", f"Zeta {i:02d}", "", True) for i in range(1, ldap_fixture.MANY + 1)],
                key=lambda p: (p[3].lower(), p[0]))


class LdapCase(unittest.TestCase):
    tls = False
    source = 1  # each sign-in from its own loopback address: the per-address limit is not under test

    @classmethod
    def start(cls, **overrides):
        cls.ldap = ldap_fixture.Slapd(tls=cls.tls)
        cls.s = Palaverd({"directory": cls.ldap.directory_section(**overrides)}, binary=PALAVERD_TESTBED)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()
        cls.ldap.close()

    def logon(self, user, pw, server=None):
        s = server or self.s
        body = json.dumps({"state": "st", "params": [user, pw, "1"]})
        LdapCase.source = LdapCase.source % 250 + 1
        return s.curl(f"{SIGNIN}/logon", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body,
                      "-H", f"Origin: https://localhost:{s.https_port}", "-H", "Kopano-Konnect-XSRF: 1",
                      "--interface", f"127.0.0.{LdapCase.source + 1}")

    def gc(self, path, token):
        status, h, body, _ = self.s.curl(GC + path, "-g", "-H", "Kopano-XSRF: 1", "-H", f"Authorization: Bearer {token}")
        return status, h, body

    def gc_json(self, path, token):
        status, _, body = self.gc(path, token)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def health(self, server=None):
        _, _, body, _ = (server or self.s).curl("/healthz")
        return json.loads(body)

    def wait_health(self, want, server=None, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            doc = self.health(server)
            if doc["status"] == want:
                return doc
            time.sleep(0.1)
        self.fail(f"/healthz did not become {want}: {doc}")


class SignInAndAddressBook(LdapCase):
    @classmethod
    def setUpClass(cls):
        cls.start()
        cls.token = cls.s.mint_token("alice " + SCOPES)

    def test_sign_in_with_the_ldap_password(self):
        status, h, body, _ = self.logon("alice", "alice-pw")
        self.assertEqual(status, 200, body)
        hello = json.loads(body)["hello"]
        self.assertEqual(hello["username"], "alice")
        self.assertEqual(hello["displayName"], "Alice Liddell")
        self.assertIn("__Secure-KKT=", h["set-cookie"])
        self.assertEqual(self.logon("ALICE", "alice-pw")[0], 200)  # LDAP names are case-insensitive
        self.assertEqual(self.logon("j\u00fcrgen", "j\u00fcrgen-pw")[0], 200)  # non-ASCII names
        self.assertEqual(self.logon("st*r", "star-pw")[0], 200)  # a literal * in a name

    def test_wrong_empty_disabled_and_outside_the_group_are_refused_alike(self):
        for user, pw in [("alice", "wrong"), ("alice", ""), ("nobody", "x"), ("eve", "eve-pw"), ("dave", "dave-pw"),
                         ("alice", "alice-pw\u0000")]:
            status, _, body, _ = self.logon(user, pw)
            self.assertEqual(status, 204, (user, pw, body))

    def test_injection_in_the_username_finds_nobody(self):
        # Each of these would match alice (or anyone) if spliced into the filter unescaped.
        for user in ["*", "al*", "a*e", "*)(uid=*", "alice)(|(uid=*", "alice\u0000", "alice\\", "\\2a", "al\\2a",
                     "*)(objectClass=*"]:
            for pw in ["alice-pw", "x"]:
                status, _, body, _ = self.logon(user, pw)
                self.assertEqual(status, 204, (user, body))

    def test_probe_and_full_list_as_meet_asks_past_the_server_size_limit(self):
        # The premise: without paging, the service account gets at most SIZE_LIMIT entries.
        code, _ = self.ldap.search_as_service("(objectClass=inetOrgPerson)", "uid")
        self.assertEqual(code, 4)  # sizeLimitExceeded
        doc = self.gc_json("/users?$top=1&$skip=100&$select=id", self.token)
        self.assertEqual(doc["value"], [])
        doc = self.gc_json("/users?$top=100&$skip=0", self.token)
        names = [u["userPrincipalName"] for u in doc["value"]]
        self.assertEqual(names, [p[0] for p in LISTED])  # sorted by display name; dave and eve not listed
        self.assertGreater(len(names), ldap_fixture.SIZE_LIMIT * 5)
        self.assertNotIn("@odata.nextLink", doc)
        alice = [u for u in doc["value"] if u["userPrincipalName"] == "alice"][0]
        self.assertEqual((alice["displayName"], alice["givenName"], alice["surname"], alice["mail"]),
                         ("Alice Liddell", "Alice", "Liddell", "alice@example.org"))
        self.assertEqual((alice["jobTitle"], alice["officeLocation"], alice["mobilePhone"], alice["businessPhones"]),
                         ("Explorer", "Wonderland", "+49 170 1234", ["+49 30 1234", "+49 30 5678"]))
        self.assertRegex(alice["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # entryUUID

    def test_paging_with_top_and_skip(self):
        seen = []
        path = "/users?$top=7&$skip=0"
        while path:
            doc = self.gc_json(path, self.token)
            seen += [u["userPrincipalName"] for u in doc["value"]]
            path = doc.get("@odata.nextLink", "").removeprefix(GC)
        self.assertEqual(seen, [p[0] for p in LISTED])

    def test_search(self):
        names = lambda q: [u["userPrincipalName"] for u in self.gc_json("/users?$top=100&$search=" + q, self.token)["value"]]
        self.assertEqual(names("liddell"), ["alice"])
        self.assertEqual(names("BUILDER"), ["bob"])
        self.assertEqual(names("bob%40example"), ["bob"])  # mail
        self.assertEqual(names("zeta%2003"), ["zz03"])
        self.assertEqual(names(urllib.parse.quote("gro\u00df")), ["j\u00fcrgen"])
        self.assertEqual(names("outsider"), [])  # not in the access group
        # Injection attempts are literal text: `*` finds only the name that has one.
        self.assertEqual(names("*"), ["st*r"])
        self.assertEqual(names("%2A"), ["st*r"])
        for q in [")(", "%29%28uid%3D%2A", "%5C", "%5C2a", "*)(|(uid=*"]:
            self.assertEqual(names(q), [], q)
        for q in ["%00", "a%00b", "%0a"]:  # control characters are refused, not dropped
            self.assertEqual(self.gc("/users?$top=100&$search=" + q, self.token)[0], 400, q)

    def test_lookup_by_id_username_and_me(self):
        doc = self.gc_json("/users?$top=100&$search=builder", self.token)
        bob_id = doc["value"][0]["id"]
        self.assertEqual(self.gc_json(f"/users/{bob_id}", self.token)["userPrincipalName"], "bob")
        self.assertEqual(self.gc_json("/users/bob", self.token)["id"], bob_id)  # useIdentifiedUser
        self.assertEqual(self.gc_json("/me", self.token)["userPrincipalName"], "alice")
        for missing in ["nobody", "*", "00000000-0000-0000-0000-000000000000", "uid=bob,ou=people,dc=example,dc=org"]:
            self.assertEqual(self.gc("/users/" + urllib.parse.quote(missing, safe=""), self.token)[0], 404, missing)

    def test_photo(self):
        alice_id = self.gc_json("/users/alice", self.token)["id"]
        status, h, body = self.gc(f"/users/{alice_id}/photo/$value", self.token)
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "image/jpeg")
        self.assertEqual(body, ldap_fixture.PHOTO)
        bob_id = self.gc_json("/users/bob", self.token)["id"]
        self.assertEqual(self.gc(f"/users/{bob_id}/photo/$value", self.token)[0], 404)

    def test_admin_group_makes_administrators(self):
        levels = "/admin/api/v1/log-levels"
        alice = self.s.mint_token("alice openid profile")
        bob = self.s.mint_token("bob openid profile")
        put = lambda token: self.s.curl(levels, "-X", "PUT", "--data-binary", "directory=info", "-H",
                                        f"Authorization: Bearer {token}")
        status, _, body, _ = put(alice)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["directory"], "info")
        self.assertEqual(put(bob)[0], 403)

    def test_console_lists_ldap_users_read_only(self):
        from test_admin_console import Console
        self.iss = f"https://localhost:{self.s.https_port}"
        b, status, page = Console.sign_in(self, "alice", "alice-pw", start="/admin/users")
        self.assertEqual(status, 200, page)
        self.assertIn("The directory is read-only here", page)
        for who in ("alice", "bob", "Alice Liddell"):
            self.assertIn(who, page)
        self.assertNotIn('method="post" action="/admin/users"', page)  # no create, reset or delete forms
        # A hand-made change is refused and says why; nothing changes in LDAP.
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        token = csrf.group(1) if csrf else ""
        status, _, page = b.post("/admin/users", form={"csrf": token, "action": "delete", "username": "bob"})
        self.assertEqual(status, 409, page)
        self.assertIn("Nothing was saved", page)
        self.assertEqual(self.logon("bob", "bob-pw")[0], 200)

    def test_nested_groups_only_when_asked_for(self):
        self.assertEqual(self.logon("nina", "nina-pw")[0], 204)  # her group is nested in the access group
        s = Palaverd({"directory": self.ldap.directory_section(ldap_nested_groups="yes")}, binary=PALAVERD_TESTBED)
        self.addCleanup(s.close)
        status, _, body, _ = self.logon("nina", "nina-pw", s)
        self.assertEqual(status, 200, body)

    def test_healthy_and_the_local_user_command_refuses(self):
        doc = self.health()
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["modules"]["directory"]["status"], "ok")
        self.assertIn(b"palaver_directory_ldap_up 1", self.s.curl("/metrics")[2])
        r = subprocess.run([self.s.binary, "user", "list", "--config", self.s.config_path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("users come from LDAP", r.stderr)
        self.assertNotIn(ldap_fixture.SERVICE_PW, self.s.stderr())


class RenameAndOutage(LdapCase):
    @classmethod
    def setUpClass(cls):
        cls.start(ldap_cache_ttl="1s")
        cls.token = cls.s.mint_token("alice " + SCOPES)

    def test_a_renamed_and_moved_user_keeps_their_id(self):
        before = self.gc_json("/users/carol", self.token)["id"]
        base = ldap_fixture.BASE
        self.ldap.modify(f"dn: uid=carol,ou=people,{base}\nchangetype: modrdn\nnewrdn: uid=carola\n"
                         f"deleteoldrdn: 1\nnewsuperior: ou=staff,ou=people,{base}\n\n"
                         f"dn: {ldap_fixture.ACCESS_GROUP}\nchangetype: modify\n"
                         f"delete: member\nmember: uid=carol,ou=people,{base}\n-\n"
                         f"add: member\nmember: uid=carola,ou=staff,ou=people,{base}\n")
        status, _, body, _ = self.logon("carola", "carol-pw")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.logon("carol", "carol-pw")[0], 204)
        token = self.s.mint_token("carola " + SCOPES)
        me = self.gc_json("/me", token)
        self.assertEqual((me["id"], me["userPrincipalName"]), (before, "carola"))
        time.sleep(1.1)  # past the cache TTL
        self.assertEqual(self.gc_json(f"/users/{before}", self.token)["userPrincipalName"], "carola")

    def test_outage_degrades_serves_the_cache_and_recovers(self):
        listed = self.gc_json("/users?$top=100", self.token)["value"]
        status, h, _, _ = self.logon("bob", "bob-pw")
        self.assertEqual(status, 200)
        cookie = Palaverd.cookie(h, "__Secure-KKT")[0]
        hello = lambda: self.s.curl(f"{SIGNIN}/hello", "-X", "POST", "-H", "Content-Type: application/json",
                                    "--data-binary", '{"state":"h"}', "-H", "Kopano-Konnect-XSRF: 1",
                                    "-H", f"Origin: https://localhost:{self.s.https_port}",
                                    "-b", f"__Secure-KKT={cookie}")
        self.assertEqual(json.loads(hello()[2])["username"], "bob")
        self.ldap.stop()
        try:
            doc = self.wait_health("degraded")
            self.assertIn("LDAP unreachable", doc["modules"]["directory"]["detail"])
            # The address book comes from the cache (past its 1 s TTL: served stale).
            time.sleep(1.1)
            self.assertEqual(self.gc_json("/users?$top=100", self.token)["value"], listed)
            # Sign-in says clearly that it cannot work now (not "wrong password").
            status, _, body, _ = self.logon("bob", "bob-pw")
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body)["error_description"], "sign-in is unavailable right now")
            # Nothing cached for this search: the directory says it is unavailable.
            status, _, body = self.gc("/users?$top=100&$search=nothing-cached", self.token)
            self.assertEqual(status, 503, body)
            self.assertIn(b"palaver_directory_ldap_up 0", self.s.curl("/metrics")[2])
            # Bob, signed in before, stays signed in (his standing comes from the cache).
            status, _, body, _ = hello()
            self.assertEqual((status, json.loads(body)["username"]), (200, "bob"))
            self.assertIn("ldap unreachable", self.s.stderr())
        finally:
            self.ldap.start()
        self.wait_health("ok")
        self.assertEqual(self.logon("bob", "bob-pw")[0], 200)
        self.assertIn("ldap reachable again", self.s.stderr())


class SlowLdap(LdapCase):
    @classmethod
    def setUpClass(cls):
        cls.start(ldap_timeout="1s", ldap_connect_timeout="1s")
        cls.token = cls.s.mint_token("alice " + SCOPES)

    def test_a_hung_server_times_out_and_other_requests_go_on(self):
        import concurrent.futures
        import signal as sig
        listed = self.gc_json("/users?$top=100", self.token)["value"]
        self.ldap.proc.send_signal(sig.SIGSTOP)  # accepts connections, answers nothing
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                started = time.time()
                signin = pool.submit(self.logon, "bob", "bob-pw")
                time.sleep(0.2)
                # Meanwhile: health and the cached address book answer at once.
                t = time.time()
                self.assertEqual(self.s.curl("/healthz")[0], 200)
                self.assertEqual(self.gc_json("/users?$top=100", self.token)["value"], listed)
                self.assertLess(time.time() - t, 1.0)
                status, _, body, _ = signin.result(timeout=30)
                took = time.time() - started
            self.assertEqual(status, 503, body)
            self.assertLess(took, 6, "the sign-in waited past the LDAP timeouts")
            self.wait_health("degraded")
        finally:
            self.ldap.proc.send_signal(sig.SIGCONT)
        self.wait_health("ok")
        self.assertEqual(self.logon("bob", "bob-pw")[0], 200)


class StartTls(LdapCase):
    tls = True

    @classmethod
    def setUpClass(cls):
        cls.start(ldap_starttls="yes", ldap_allow_plain="no")  # the CA file is set per server below
        cls.s.close()

    def server(self, **overrides):
        s = Palaverd({"directory": self.ldap.directory_section(ldap_starttls="yes", ldap_allow_plain="no", **overrides)},
                     binary=PALAVERD_TESTBED)
        self.addCleanup(s.close)
        return s

    def test_starttls_with_the_right_ca(self):
        s = self.server(ldap_ca_file=self.ldap.ca_file)
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 200)
        self.assertEqual(self.health(s)["status"], "ok")

    def test_ldaps(self):
        s = self.server(ldap_ca_file=self.ldap.ca_file, ldap_uri=self.ldap.ldaps_uri)
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 200)
        self.assertEqual(self.health(s)["status"], "ok")
        bad = self.server(ldap_ca_file=self.ldap.other_ca_file, ldap_uri=self.ldap.ldaps_uri)
        self.assertEqual(self.health(bad)["status"], "degraded")
        self.assertEqual(self.logon("alice", "alice-pw", bad)[0], 503)

    def test_wrong_ca_is_refused(self):
        s = self.server(ldap_ca_file=self.ldap.other_ca_file)
        self.assertEqual(self.health(s)["status"], "degraded")
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 503)
        self.assertIn("StartTLS failed", s.stderr())
        self.assertEqual(s.stderr().count("ldap unreachable"), 1)  # one warning per state change

    def test_wrong_hostname_is_refused(self):
        # The certificate names 127.0.0.1 only.
        s = self.server(ldap_ca_file=self.ldap.ca_file, ldap_uri=f"ldap://localhost:{self.ldap.port}")
        self.assertEqual(self.health(s)["status"], "degraded")
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 503)

    def test_a_rejected_service_password_is_reported_not_logged(self):
        wrong = os.path.join(self.ldap.dir, "wrong-password")
        with open(wrong, "w") as f:
            f.write("not-the-service-password\n")
        os.chmod(wrong, 0o600)
        s = self.server(ldap_ca_file=self.ldap.ca_file, ldap_bind_password_file=wrong)
        self.assertEqual(self.health(s)["status"], "degraded")
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 503)
        self.assertIn("the service bind as ldap_bind_dn was rejected", s.stderr())
        self.assertNotIn("not-the-service-password", s.stderr())
        self.assertNotIn("alice-pw", s.stderr())

    def test_failover_to_the_next_uri(self):
        dead = ldap_fixture.free_port()
        s = self.server(ldap_ca_file=self.ldap.ca_file, ldap_uri=f"ldap://127.0.0.1:{dead} {self.ldap.uri}")
        self.assertEqual(self.logon("alice", "alice-pw", s)[0], 200)
        self.assertEqual(self.health(s)["status"], "ok")

    def test_plain_ldap_needs_to_be_allowed(self):
        s = Palaverd({"directory": self.ldap.directory_section(ldap_starttls="no", ldap_allow_plain="no")},
                     binary=PALAVERD_TESTBED, expect_start=False)
        self.addCleanup(s.close)
        code, _, err = s.run_once()
        self.assertNotEqual(code, 0)
        self.assertIn("ldap_starttls: ldap:// without StartTLS sends passwords in clear text", err)


class UniventionPreset(LdapCase):
    """The univention preset against UCS's attributes (under test OIDs in slapd)."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = ldap_fixture.Slapd(univention=True, many=0)
        cls.s = Palaverd({"directory": cls.ldap.directory_section(
            ldap_preset="univention", ldap_access_group=ldap_fixture.UCS_GROUP,
            ldap_admin_group=ldap_fixture.UCS_ADMINS)}, binary=PALAVERD_TESTBED)
        cls.token = cls.s.mint_token("ucs-anna " + SCOPES)

    def test_active_accounts_sign_in_deactivated_ones_do_not(self):
        for uid in ("ucs-anna", "ucs-later"):
            self.assertEqual(self.logon(uid, uid + "-pw")[0], 200, uid)
        for uid in ("ucs-deactivated", "ucs-kerberos-off", "ucs-expired", "ucs-outsider", "ucs-ldaponly",
                    "alice"):  # alice: not a users/user object
            self.assertEqual(self.logon(uid, uid + "-pw")[0], 204, uid)

    def test_address_book_uses_mail_primary_address_and_lists_only_active_members(self):
        doc = self.gc_json("/users?$top=100", self.token)
        self.assertEqual([u["userPrincipalName"] for u in doc["value"]], ["ucs-anna", "ucs-later"])
        self.assertEqual(doc["value"][0]["mail"], "ucs-anna@ucs.example")
        self.assertEqual([u["userPrincipalName"] for u in self.gc_json("/users?$search=ucs.example", self.token)["value"]],
                         ["ucs-anna", "ucs-later"])

    def test_admin_through_unique_member(self):
        levels = "/admin/api/v1/log-levels"
        put = lambda who: self.s.curl(levels, "-X", "PUT", "--data-binary", "directory=info", "-H",
                                      f"Authorization: Bearer {self.s.mint_token(who + ' openid profile')}")[0]
        self.assertEqual(put("ucs-anna"), 200)
        self.assertEqual(put("ucs-later"), 403)


class ActiveDirectoryPreset(LdapCase):
    """The ad preset against AD's attribute names (under test OIDs in slapd; groups by `member`,
    as slapd has no in-chain matching rule): objectGUID ids, both login names, account control."""

    @classmethod
    def setUpClass(cls):
        import uuid
        cls.ldap = ldap_fixture.Slapd(ad=True, many=0)
        cls.s = Palaverd({"directory": cls.ldap.directory_section(
            ldap_preset="ad", ldap_group_membership="member", ldap_access_group=ldap_fixture.AD_GROUP,
            ldap_admin_group="")}, binary=PALAVERD_TESTBED)
        cls.token = cls.s.mint_token("ad-bob " + SCOPES)
        cls.bob_id = str(uuid.UUID(bytes_le=ldap_fixture.AD_PEOPLE[0][1]))  # AD's text form of objectGUID

    def test_sign_in_with_sam_account_name_or_upn(self):
        for name in ("ad-bob", "ad-bob@corp.example", "AD-BOB"):
            status, _, body, _ = self.logon(name, "ad-bob-pw")
            self.assertEqual(status, 200, (name, body))
            self.assertEqual(json.loads(body)["hello"]["username"], "ad-bob")
        for uid in ("ad-disabled", "ad-expired"):
            self.assertEqual(self.logon(uid, uid + "-pw")[0], 204, uid)

    def test_object_guid_is_the_id_and_finds_the_user(self):
        me = self.gc_json("/me", self.token)
        self.assertEqual(me["id"], self.bob_id)
        self.assertEqual(me["officeLocation"], "Berlin")
        self.assertEqual(self.gc_json(f"/users/{self.bob_id}", self.token)["userPrincipalName"], "ad-bob")
        self.assertEqual(self.gc_json(f"/users/{self.bob_id.upper()}", self.token)["userPrincipalName"], "ad-bob")
        status, h, body = self.gc(f"/users/{self.bob_id}/photo/$value", self.token)
        self.assertEqual((status, body), (200, ldap_fixture.PHOTO))
        self.assertEqual([u["userPrincipalName"] for u in self.gc_json("/users?$top=100", self.token)["value"]], ["ad-bob"])


class OpenIdClientWithLdapUser(unittest.TestCase):
    def test_code_flow_with_an_ldap_user(self):
        node = require_node(self, package="openid-client")
        ldap = ldap_fixture.Slapd()
        self.addCleanup(ldap.close)
        s = Palaverd({"directory": ldap.directory_section()}, expect_start=False)
        self.addCleanup(s.close)
        r = subprocess.run([s.binary, "client", "add", "app", "--redirect-uri", "https://app.example/cb", "--trusted",
                            "--secret", "--config", s.config_path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        secret = r.stdout.split("client secret (shown once): ")[1].split()[0]
        s.start()
        iss = f"https://localhost:{s.https_port}"
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=s.ca)
        r = subprocess.run([node, os.path.join(NODE_DIR, "oidc-flow.js"), iss, "alice", "alice-pw", secret],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["meet"]["name"], "Alice Liddell")
        self.assertEqual(out["userinfo"]["email"], "alice@example.org")
        self.assertEqual(out["app"]["refreshed_sub"], out["meet"]["sub"])


if __name__ == "__main__":
    unittest.main()
