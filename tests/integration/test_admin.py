"""The host's admin API for settings (/admin/api/v1/settings): administrators only, typed and
validated values, durable, applied at once. Live log levels (/admin/api/v1/log-levels): changed
by administrators only, unknown loggers refused. Monitoring routes on HTTPS only."""
import json
import subprocess
import unittest

from harness import PALAVERD_TESTBED, Palaverd

API = "/admin/api/v1/settings"


class WithAdmin(unittest.TestCase):
    """A palaverd-testbed per class with an administrator (root) and a plain user (anna), and
    an access token of each."""

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


class AdminSettings(WithAdmin):
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

    def test_a_disabled_administrator_is_refused_at_once(self):
        # An administrator's still-valid token stops working when the account is disabled (checked
        # on each request, not only at sign-in); enabled again, it works again.
        self.s.add_user("ops", "pw", "--admin")
        ops = self.s.mint_token("ops openid")
        self.assertEqual(self.call("GET", token=ops)[0], 200)
        self.assertEqual(self.s.curl(LEVELS, "-H", f"Authorization: Bearer {ops}", "-X", "PUT",
                                     "--data-binary", "web=info")[0], 200)
        r = subprocess.run([self.s.binary, "user", "disable", "ops", "--config", self.s.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.call("GET", token=ops)[0], (401, 403))
        self.assertIn(self.call("PUT", f"{API}/signaling.guests_enabled", ops, '{"value": true}')[0], (401, 403))
        self.assertIn(self.s.curl(LEVELS, "-H", f"Authorization: Bearer {ops}", "-X", "PUT",
                                  "--data-binary", "web=debug")[0], (401, 403))
        self.assertNotIn("logger=web level=debug by=ops", self.s.stderr())

    def test_a_token_from_before_a_password_change_is_refused(self):
        # As on every other API: a password change ends the user's sessions and tokens (session
        # epoch), so the old access token no longer administers, for the minutes it has left.
        self.s.add_user("opal", "pw-1", "--admin")
        old = self.s.mint_token("opal openid")
        self.assertEqual(self.call("GET", token=old)[0], 200)
        r = subprocess.run([self.s.binary, "user", "passwd", "opal", "--config", self.s.config_path],
                           input="pw-2\n", capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, doc = self.call("GET", token=old)
        self.assertEqual(status, 401, doc)
        self.assertIn("sessions were ended", doc["error_description"])
        self.assertEqual(self.s.curl(LEVELS, "-H", f"Authorization: Bearer {old}", "-X", "PUT",
                                     "--data-binary", "web=info")[0], 401)
        self.assertEqual(self.call("GET", token=self.s.mint_token("opal openid"))[0], 200)

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


    def test_one_setting_and_every_not_found_answer_json(self):
        """Issue 15: GET of one setting used to answer a plain-text 404 for every key."""
        status, doc = self.call("GET", f"{API}/signaling.guests_enabled", self.root)
        self.assertEqual(status, 200)
        self.assertEqual([s["key"] for s in doc["settings"]], ["signaling.guests_enabled"])
        status, doc = self.call("GET", f"{API}/no.such.setting", self.root)
        self.assertEqual((status, doc), (404, {"error": "not_found", "error_description": 'unknown setting "no.such.setting"'}))
        self.assertEqual(self.call("GET", f"{API}/no.such.setting")[0], 401)  # who asks comes first
        # Paths and methods no endpoint serves: JSON too, not the console's pages or redirects.
        for method, path in (("GET", "/admin/api/v1/nothing"), ("GET", "/admin/api/v2/settings"),
                             ("POST", "/admin/api/v1/settingsx"), ("DELETE", "/admin/api/")):
            status, headers, body, _ = self.s.curl(path, "-X", method, "-H", f"Authorization: Bearer {self.root}")
            self.assertEqual(status, 404, (method, path))
            self.assertTrue(headers["content-type"].startswith("application/json"), (method, path, headers))
            self.assertEqual(json.loads(body)["error"], "not_found")
        for method, path in (("DELETE", API), ("POST", f"{API}/signaling.guests_enabled"), ("POST", LEVELS),
                             ("PUT", API)):
            status, headers, body, _ = self.s.curl(path, "-X", method, "-H", f"Authorization: Bearer {self.root}")
            self.assertEqual(status, 405, (method, path))
            self.assertTrue(headers["content-type"].startswith("application/json"), (method, path, headers))
            self.assertEqual(json.loads(body)["error"], "method_not_allowed")
            self.assertIn("GET", headers["allow"])


LEVELS = "/admin/api/v1/log-levels"


class LogLevels(WithAdmin):
    """The monitoring network (metrics_allow, loopback by default) may read the levels; only an
    administrator may change them, and only for loggers that exist."""

    def put(self, body, token=None, *extra):
        args = ["-X", "PUT", "--data-binary", body, *extra]
        if token:
            args += ["-H", f"Authorization: Bearer {token}"]
        status, _, out, _ = self.s.curl(LEVELS, *args)
        return status, json.loads(out) if out.startswith(b"{") else out

    def test_monitoring_address_may_read_but_not_change(self):
        status, _, body, _ = self.s.curl(LEVELS)  # loopback is in metrics_allow
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["web"], "info")
        status, _ = self.put("web=debug")
        self.assertEqual(status, 401)
        self.assertEqual(self.put("web=debug", "garbage")[0], 401)
        self.assertEqual(self.put("web=debug", self.anna)[0], 403)
        _, _, body, _ = self.s.curl(LEVELS)
        self.assertEqual(json.loads(body)["web"], "info")  # nothing changed

    def test_administrator_changes_levels(self):
        status, doc = self.put("oidc=debug, kvs=warn", self.root)
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["oidc"], doc["kvs"]), ("debug", "warning"))  # spdlog names it so
        self.assertIn("log level changed logger=oidc level=debug by=root", self.s.stderr())
        self.assertEqual(self.put("oidc=info, kvs=info", self.root)[0], 200)
        self.assertEqual(self.put("web=loud", self.root)[0], 400)
        self.assertEqual(self.put("web=info", self.root, "-H", "Origin: https://evil.example")[0], 403)

    def test_unknown_logger_is_refused_and_nothing_changes(self):
        status, doc = self.put("signaling=debug, no_such_logger=debug", self.root)
        self.assertEqual(status, 400, doc)
        self.assertIn('unknown logger "no_such_logger"', doc["error_description"])
        self.assertIn("signaling", doc["error_description"])  # the known ones are listed
        _, _, body, _ = self.s.curl(LEVELS)
        levels = json.loads(body)
        self.assertNotIn("no_such_logger", levels)  # not created either
        self.assertEqual(levels["signaling"], "info")  # all or nothing


class MonitoringOnHttpsOnly(unittest.TestCase):
    """/metrics and /healthz are answered on HTTPS only; the plain port redirects them like
    everything else, so a metrics token never travels in clear text."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def plain(self, path, *args):
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", *args,
                            f"http://127.0.0.1:{self.s.http_port}{path}"],
                           capture_output=True, text=True, timeout=20)
        code, location = r.stdout.split(" ", 1)
        return int(code), location

    def test_plain_port_redirects_monitoring(self):
        for path in ("/metrics", "/healthz"):
            code, location = self.plain(path, "-H", "Authorization: Bearer t0ken-xxxxxxxxxxxxxxxxxxxx")
            self.assertEqual(code, 301, path)
            self.assertEqual(location, f"https://localhost:{self.s.https_port}{path}")  # the canonical host
        # On HTTPS they answer as before.
        status, _, body, _ = self.s.curl("/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"palaver_http_requests_total", body)
        status, _, body, _ = self.s.curl("/healthz")
        self.assertEqual(status, 200)
        self.assertIn("modules", json.loads(body))


if __name__ == "__main__":
    unittest.main()


class AllowedNetworks(unittest.TestCase):
    """`[admin] allowed_networks`: the console and the admin API only for clients from the
    networks listed (the client as the host decided it: here through a trusted proxy's
    X-Forwarded-For); `palaverd settings` from loopback always; a bad range refuses to start."""

    def test_console_and_api_only_from_the_networks_listed(self):
        s = Palaverd({"palaver": {"trusted_proxies": "127.0.0.1"},
                      "admin": {"allowed_networks": "192.0.2.0/24, 2001:db8::/32"}},
                     binary=PALAVERD_TESTBED, expect_start=False)
        try:
            s.add_user("root", "pw", "--admin")
            s.start()
            root = s.mint_token("root openid")

            def get(path, client, *extra):
                status, _, body, _ = s.curl(path, "-H", f"X-Forwarded-For: {client}", *extra)
                return status, body.decode("utf-8", "replace")

            for client in ("198.51.100.7", "2001:db9::1"):
                status, page = get("/admin/status", client)
                self.assertEqual(status, 403, client)
                self.assertIn("Not from this network", page)
                self.assertIn(client, page)
                self.assertEqual(get("/admin/signin", client)[0], 403)  # no sign-in starts
                status, body = get(API, client, "-H", f"Authorization: Bearer {root}")
                self.assertEqual(status, 403)
                self.assertIn("not available from this address", body)
                self.assertEqual(get(LEVELS, client, "-H", f"Authorization: Bearer {root}", "-X", "PUT",
                                     "--data-binary", "web=debug")[0], 403)
            self.assertIn("Nicht aus diesem Netz", get("/admin/status", "198.51.100.7", "-H", "Accept-Language: de")[1])
            self.assertNotIn("logger=web level=debug", s.stderr())
            # Loopback is not implied (no X-Forwarded-For: the client is 127.0.0.1).
            self.assertEqual(s.curl("/admin/status")[0], 403)
            # From the networks listed: the console asks to sign in, the API answers.
            for client in ("192.0.2.5", "2001:db8::5"):
                status, _ = get("/admin/status", client)
                self.assertEqual(status, 303, client)
                self.assertEqual(get(API, client, "-H", f"Authorization: Bearer {root}")[0], 200)
            # palaverd settings (its CLI token, from loopback) always works.
            r = subprocess.run([s.binary, "settings", "get", "signaling.guests_enabled", "--config", s.config_path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "false")
            # A reload applies a new list at once, to the console and the API (no restart).
            pid = s.proc.pid
            s.sections["admin"]["allowed_networks"] = "198.51.100.0/24"
            s.write_config()
            tail = s.reload()
            self.assertIn("reload applied", tail)
            self.assertIn("admin settings applied networks=1", tail)
            self.assertEqual(get("/admin/status", "198.51.100.7")[0], 303)
            self.assertEqual(get(API, "198.51.100.7", "-H", f"Authorization: Bearer {root}")[0], 200)
            self.assertEqual(get("/admin/status", "192.0.2.5")[0], 403)
            self.assertEqual(get(API, "192.0.2.5", "-H", f"Authorization: Bearer {root}")[0], 403)
            self.assertEqual(s.proc.pid, pid)
        finally:
            s.close()

    def test_a_bad_range_is_refused_with_its_line(self):
        s = Palaverd({"admin": {"allowed_networks": "192.0.2.0/24, 10.0.0.0/33"}}, binary=PALAVERD_TESTBED,
                     expect_start=False)
        try:
            r = subprocess.run([s.binary, "--check-config", s.config_path], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn('[admin] allowed_networks: "10.0.0.0/33" is not an address or CIDR range', r.stderr)
        finally:
            s.close()
