"""The admin console (/admin/, modules/admin): sign-in through our own OpenID provider (code +
PKCE) for administrators only; settings changed in forms with CSRF tokens and same-origin
checks, validated, applied at once (guest logon, config.json) and recorded in the audit log;
`palaverd settings` on the same service; users managed with passwords shown once."""
import concurrent.futures
import html
import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse

from harness import NODE_DIR, PALAVERD_TESTBED, Browser, Palaverd, require_node
from test_signaling import Rtm

MEET_CONFIG = "/api/config/v1/kopano/meet/config.json"


def form_of(page, action):
    """The hidden csrf token of the form posting to `action`."""
    m = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"', page)
    if not m:
        raise AssertionError(f"no form for {action} in page")
    return m.group(1)


class Console(unittest.TestCase):
    """One palaverd with two administrators (root, rita) and a plain user (anna)."""

    @classmethod
    def setUpClass(cls):
        # The testbed binary: palaverd plus a token minting route, for the signaling client below.
        cls.s = Palaverd(expect_start=False, binary=PALAVERD_TESTBED)
        cls.s.add_user("root", "root-secret-1", "--admin", "--display-name", "Root Admin")
        cls.s.add_user("rita", "rita-secret-1", "--admin")
        cls.s.add_user("anna", "anna-secret-1", "--display-name", "Anna Alder")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    # --- helpers ---------------------------------------------------------------------------

    def sign_in(self, user, password, lang="en", start="/admin/guests"):
        """Walks the console's sign-in as a browser does; returns (browser, final status, page)."""
        b = Browser(self.s, lang)
        status, h, _ = b.get(start)
        self.assertEqual(status, 303)
        self.assertTrue(h["location"].startswith("/admin/signin?return="), h["location"])
        status, h, _ = b.get(h["location"])
        self.assertEqual(status, 303)
        authorize = h["location"]
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
        # An OpenID client of our own provider: code flow with PKCE (S256), our issuer's callback.
        self.assertEqual(q["response_type"], ["code"])
        self.assertEqual(q["code_challenge_method"], ["S256"])
        self.assertEqual(q["redirect_uri"], [f"{self.iss}/admin/oidc/callback"])
        status, h, _ = b.get(authorize)
        self.assertEqual(status, 302)
        status, _, page = b.get(h["location"])
        self.assertEqual(status, 200)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        flow = re.search(r'name="flow" value="([^"]*)"', page).group(1)
        status, h, _ = b.post("/signin/v1/identifier/_/form",
                              form={"csrf": csrf, "query": query, "flow": flow, "action": "signin",
                                    "username": user, "password": password})
        self.assertEqual(status, 303)
        status, h, _ = b.get(h["location"])
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(f"{self.iss}/admin/oidc/callback?"), h["location"])
        status, h, page = b.get(h["location"])
        self.callback_headers = h
        if status == 303:
            status, h, page = b.get(h["location"])
        return b, status, page

    def admin(self, user="root", password="root-secret-1", lang="en"):
        b, status, page = self.sign_in(user, password, lang)
        self.assertEqual(status, 200, page)
        return b

    def post(self, b, path, fields, origin=True):
        status, _, page = b.get(path)
        self.assertEqual(status, 200)
        data = {"csrf": form_of(page, path), **fields}
        headers = {} if origin else {"Origin": "https://evil.example"}
        return b.post(path, form=data, headers=headers)

    def settings(self, *args, stdin=""):
        return subprocess.run([self.s.binary, "settings", *args, "--config", self.s.config_path],
                              capture_output=True, text=True, timeout=60, input=stdin)

    def setting(self, key):
        r = self.settings("get", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def guest_logon(self, path, name="Gina", full=False):
        b = Browser(self.s)
        scope = "openid profile email kopano/kwm kopano/gc kopano/kvs"
        body = urllib.parse.urlencode({"guest": "1", "path": path, "name": name, "token": "", "user": "false",
                                       "scope": scope + " konnect/guestok", "iss": self.iss,
                                       "client_id": f"kpop-{self.iss}/meet/", "locale": "en"})
        status, _, reply = b.post("/api/kwm/v2/guest/logon", body=body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        return (status, reply) if full else status

    def guests_form(self, **over):
        fields = {"guests_enabled": "on", "public_regexp": "^group/public/.*", "preview_names": "",
                  "name_style": "prefixed", "action": "save"}
        fields.update(over)
        return {k: v for k, v in fields.items() if v is not None}

    def config_json(self):
        status, _, body, _ = self.s.curl(MEET_CONFIG)
        self.assertEqual(status, 200)
        return json.loads(body)

    # --- tests -----------------------------------------------------------------------------

    def test_sign_in_and_pages(self):
        b = self.admin()
        for path, heading in (("/admin/guests", "Guests"), ("/admin/media", "Screen sharing and media"),
                              ("/admin/branding", "Apps and branding"),
                              ("/admin/users", "Users"), ("/admin/status", "Status"),
                              ("/admin/certificates", "Certificates"), ("/admin/turn", "TURN"),
                              ("/admin/audit", "Audit log")):
            status, h, page = b.get(path)
            self.assertEqual(status, 200, path)
            self.assertIn(f"<h1>{heading}</h1>", page)
            self.assertIn('aria-current="page"', page)
            self.assertIn("Root Admin", page)
            csp = h["content-security-policy"]
            self.assertIn("script-src 'self'", csp)
            self.assertNotIn("unsafe-inline", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertNotIn("<script>", page)  # no inline script; admin.js is a file
            self.assertEqual(h["cache-control"], "no-store")
        cookie = [c for c in b.jar if c[0] == "__Host-palaver-admin"]
        self.assertEqual(len(cookie), 1)
        status, h, js = b.get("/admin/assets/admin.js")
        self.assertEqual((status, h["content-type"]), (200, "text/javascript; charset=utf-8"))
        self.assertIn("data-refresh", js)

    def test_certificates_page_and_local_ca(self):
        b = self.admin()
        status, _, page = b.get("/admin/certificates")
        self.assertEqual(status, 200)
        page = html.unescape(page)
        self.assertIn('<th scope="row">localhost</th><td>localhost', page)
        self.assertIn("local CA (generated)", page)
        self.assertRegex(page, r"CN=Palaver[^<]*local CA|CN=[^<]+")
        self.assertRegex(page, r"\d+ days left")
        status, h, pem = b.get("/admin/certificates/ca.crt")
        self.assertEqual(status, 200)
        with open(self.s.ca) as f:
            self.assertEqual(pem, f.read())

    def test_metrics(self):
        self.sign_in("anna", "anna-secret-1")
        b = self.admin()
        b.post("/admin/media", form={"csrf": "x"})
        metrics = self.s.curl("/metrics")[2].decode()
        self.assertRegex(metrics, r'palaver_admin_signins_total\{result="ok"\} [1-9]')
        self.assertRegex(metrics, r'palaver_admin_signins_total\{result="refused"\} [1-9]')
        self.assertRegex(metrics, r"palaver_admin_forms_refused_total [1-9]")

    def test_session_cookie(self):
        self.sign_in("root", "root-secret-1")
        # Server-side session: the cookie is a random id, HttpOnly, Secure, SameSite=Strict, host-only.
        cookie = [c for c in self.callback_headers["set-cookie"].split("\n") if c.startswith("__Host-palaver-admin=")]
        self.assertEqual(len(cookie), 1, self.callback_headers["set-cookie"])
        for attr in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
            self.assertIn(attr, cookie[0])
        self.assertRegex(cookie[0], r"^__Host-palaver-admin=[A-Za-z0-9_-]{43};")
        # A made-up session id is no session.
        b = Browser(self.s)
        b.jar[("__Host-palaver-admin", "/")] = "A" * 43
        self.assertEqual(b.get("/admin/status")[0], 303)

    def test_german(self):
        b = self.admin(lang="de-DE,de;q=0.9,en;q=0.5")
        status, h, page = b.get("/admin/guests")
        self.assertEqual(status, 200)
        self.assertIn('<html lang="de">', page)
        self.assertIn("<h1>Gäste</h1>", page)
        self.assertIn("Gäste erlauben", page)
        self.assertEqual(h["content-language"], "de")

    def test_non_admin_gets_a_clear_403(self):
        b, status, page = self.sign_in("anna", "anna-secret-1")
        self.assertEqual(status, 403)
        self.assertIn("Administrators only", page)
        self.assertIn("anna", page)
        self.assertIn("is not an administrator", page)
        self.assertFalse([c for c in b.jar if c[0] == "__Host-palaver-admin"])
        status, _, _ = b.get("/admin/media")
        self.assertEqual(status, 303)  # still no session: off to sign in again

    def test_guest_rule_governs_guest_logon(self):
        b = self.admin()
        status, _, page = self.post(b, "/admin/guests", self.guests_form(guests_enabled=None))
        self.assertEqual(status, 200, page)
        self.assertEqual(self.guest_logon("group/public/team"), 403)  # guests off
        status, _, page = self.post(b, "/admin/guests", self.guests_form(public_regexp="^group/(public|extern)/.*"))
        self.assertEqual(status, 200, page)
        self.assertIn("Saved.", page)
        self.assertEqual(self.guest_logon("group/extern/visit"), 200)  # applied to the next join at once
        self.assertEqual(self.guest_logon("group/internal/board"), 403)
        status, _, page = self.post(b, "/admin/guests", self.guests_form(public_regexp="^group/public/.*"))
        self.assertEqual(status, 200)
        self.assertEqual(self.guest_logon("group/extern/visit"), 403)
        self.assertEqual(self.guest_logon("group/public/team"), 200)
        # config.json follows as well.
        self.assertEqual(self.config_json()["guests"]["publicGroupRegexp"], "^group/public/.*")
        # Guest name style: the name in the signed guest request follows it.
        def guest_name():
            status, reply = self.guest_logon("group/public/team", "Gina", full=True)
            self.assertEqual(status, 200, reply)
            payload = json.loads(reply)["eqp"]["request"].split(".")[1]
            import base64
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return json.dumps(claims)
        self.assertIn("(Guest)Gina", guest_name())
        status, _, page = self.post(b, "/admin/guests", self.guests_form(name_style="random"))
        self.assertEqual(status, 200, page)
        self.assertIn('value="random" checked', page)
        self.assertNotIn("Gina", guest_name())
        status, _, page = self.post(b, "/admin/guests", self.guests_form(name_style="loud"))
        self.assertEqual(status, 400)
        self.assertIn("must be prefixed, plain or random", page)
        self.assertEqual(self.setting("signaling.guest_name_style"), "random")
        self.post(b, "/admin/guests", self.guests_form())

    def test_preview_without_javascript_and_as_json(self):
        b = self.admin()
        status, _, page = self.post(b, "/admin/guests", {"public_regexp": "^group/(open|public)/.*",
                                                         "preview_names": "group/open/a\ngroup/closed/b",
                                                         "action": "preview"})
        self.assertEqual(status, 200)
        page = html.unescape(page)
        self.assertIn('<li class="match"><code>group/open/a</code>', page)
        self.assertIn('<li class="nomatch"><code>group/closed/b</code>', page)
        self.assertNotEqual(self.setting("signaling.public_guest_access_regexp"), "^group/(open|public)/.*")
        status, h, body = b.get("/admin/guests/preview?" + urllib.parse.urlencode(
            {"regexp": "^group/x", "names": "group/x1\ngroup/y"}))
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual([(r["name"], r["match"]) for r in doc["rows"]], [("group/x1", True), ("group/y", False)])
        status, h, body = b.get("/admin/guests/preview?regexp=%28unclosed&names=a")
        self.assertFalse(json.loads(body)["valid"])

    def test_bad_values_are_refused_and_nothing_is_stored(self):
        b = self.admin()
        before = {k: self.setting(k) for k in ("signaling.public_guest_access_regexp", "signaling.guests_enabled",
                                               "web.camera_bitrate_kbps", "web.screenshare_enabled")}
        status, _, page = self.post(b, "/admin/guests", self.guests_form(
            guests_enabled=None if before["signaling.guests_enabled"] == "true" else "on", public_regexp="(unclosed"))
        self.assertEqual(status, 400)
        self.assertIn("is not a valid regular expression", page)
        self.assertIn('aria-invalid="true"', page)
        status, _, page = self.post(b, "/admin/media", {"screenshare_bitrate": "2500", "camera_bitrate": "-5",
                                                        "action": "save"})
        self.assertEqual(status, 400)
        self.assertIn("must be a whole number from 100 to 50000", page)
        status, _, page = self.post(b, "/admin/media", {"screenshare_bitrate": "lots", "camera_bitrate": "800",
                                                        "action": "save"})
        self.assertEqual(status, 400)
        after = {k: self.setting(k) for k in before}
        self.assertEqual(before, after)
        # The same through the CLI: a clear message, exit 1, nothing stored.
        r = self.settings("set", "web.camera_bitrate_kbps", "-5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("web.camera_bitrate_kbps: must be between 100 and 50000 kbit/s", r.stderr)
        self.assertIn("nothing was changed", r.stderr)
        r = self.settings("set", "no.such.key", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn('unknown setting "no.such.key"', r.stderr)
        r = self.settings("set", "signaling.public_guest_access_regexp", "(unclosed")
        self.assertEqual(r.returncode, 1)
        r = self.settings("set", "signaling.guests_enabled", "perhaps")
        self.assertEqual(r.returncode, 1)
        self.assertIn("true or false", r.stderr)
        self.assertEqual({k: self.setting(k) for k in before}, after)

    def test_csrf_and_foreign_origin_are_refused(self):
        b = self.admin()
        before = self.setting("web.screenshare_enabled")
        flipped = None if before == "true" else "on"
        fields = {"screenshare_bitrate": "2500", "camera_bitrate": "1000", "action": "save"}
        if flipped:
            fields["screenshare_enabled"] = flipped
        # No token.
        status, _, page = b.post("/admin/media", form=fields)
        self.assertEqual(status, 403)
        self.assertIn("Nothing was changed", page)
        # A wrong token.
        status, _, _ = b.post("/admin/media", form={**fields, "csrf": "x" * 43})
        self.assertEqual(status, 403)
        # The right token from a foreign origin.
        status, _, _ = self.post(b, "/admin/media", fields, origin=False)
        self.assertEqual(status, 403)
        # Neither Origin nor Sec-Fetch-Site.
        _, _, page = b.get("/admin/media")
        import http.client, ssl, socket
        ctx = ssl.create_default_context(cafile=self.s.ca)
        conn = http.client.HTTPSConnection("localhost", self.s.https_port, context=ctx, timeout=20)
        conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.s.https_port), timeout=20),
                                    server_hostname="localhost")
        conn.request("POST", "/admin/media", body=urllib.parse.urlencode({**fields, "csrf": form_of(page, "/admin/media")}),
                     headers={"Cookie": b.cookies_for("/admin/media"),
                              "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(conn.getresponse().status, 403)
        conn.close()
        # Cross-site fetch metadata.
        status, _, _ = b.post("/admin/media", form={**fields, "csrf": form_of(page, "/admin/media")},
                              headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403)
        self.assertEqual(self.setting("web.screenshare_enabled"), before)
        # Without a session at all: no change either.
        status, _, _ = Browser(self.s).post("/admin/media", form={**fields, "csrf": "x"})
        self.assertEqual(status, 401)
        self.assertEqual(self.setting("web.screenshare_enabled"), before)

    def test_config_json_follows_media_settings_at_once(self):
        b = self.admin()
        status, _, page = self.post(b, "/admin/media", {"screenshare_bitrate": "4000", "camera_bitrate": "600",
                                                        "guests_audio_only": "on", "talking_detection": "on",
                                                        "action": "save"})
        self.assertEqual(status, 200, page)
        cfg = self.config_json()
        self.assertIs(cfg["disableScreenshare"], True)
        self.assertEqual(cfg["kwm"]["sdpParams"]["videoSendBitrate"], 600)
        self.assertEqual(cfg["kwm"]["sdpParamsScreenshare"]["videoSendBitrate"], 4000)
        self.assertIs(cfg["guests"]["defaultAudioOnly"], True)
        self.assertIs(cfg["disableRemoteTalkingDetection"], False)
        status, _, page = self.post(b, "/admin/media", {"screenshare_enabled": "on", "screenshare_bitrate": "2500",
                                                        "camera_bitrate": "1000", "action": "save"})
        cfg = self.config_json()
        self.assertIs(cfg["disableScreenshare"], False)
        self.assertIs(cfg["guests"]["defaultAudioOnly"], False)
        self.assertIs(cfg["disableRemoteTalkingDetection"], True)
        self.assertEqual(cfg["kwm"]["sdpParams"]["videoSendBitrate"], 1000)

    def test_branding_and_apps_menu(self):
        b = self.admin()
        apps = "Mail | https://mail.example.test/\r\nTeam wiki | /wiki/"
        try:
            status, _, page = self.post(b, "/admin/branding", {"app_title": "Rathaus Meet",
                                                               "logo_url": "https://cdn.example.test/logo.svg",
                                                               "apps": apps, "action": "save"})
            self.assertEqual(status, 200, page)
            self.assertIn("The change applies at once", page)
            cfg = self.config_json()
            self.assertEqual(cfg["branding"], {"title": "Rathaus Meet", "logo": "https://cdn.example.test/logo.svg"})
            self.assertEqual(cfg["apps"]["enabled"], [])  # the original's switcher of Kopano apps stays hidden
            self.assertEqual(cfg["apps"]["links"], [{"title": "Mail", "url": "https://mail.example.test/"},
                                                    {"title": "Team wiki", "url": "/wiki/"}])
            # The Meet app may load the logo from its origin, and from no other.
            _, h, _, _ = self.s.curl("/meet/")
            img_src = re.search(r"img-src ([^;]*)", h["content-security-policy"]).group(1).split()
            self.assertEqual(img_src, ["'self'", "data:", "blob:", "https://cdn.example.test"])
            # A bad line: refused with its line number, in the admin's language; nothing stored.
            b_de = self.admin(lang="de")
            status, _, page = self.post(b_de, "/admin/branding", {"app_title": "Rathaus Meet", "logo_url": "",
                                                                  "apps": "Mail | /mail\nKalender kalender.example.test",
                                                                  "action": "save"})
            self.assertEqual(status, 400)
            self.assertIn("ein Wert ist ungültig", page)
            self.assertIn("line 2: write Title | URL", html.unescape(page))
            status, _, page = self.post(b, "/admin/branding", {"app_title": "x", "logo_url": "javascript:alert(1)",
                                                               "apps": "", "action": "save"})
            self.assertEqual(status, 400)
            self.assertIn("must start with https://", html.unescape(page))
            self.assertEqual(self.setting("web.logo_url"), "https://cdn.example.test/logo.svg")
            self.assertEqual(self.setting("web.app_title"), "Rathaus Meet")
            self.assertEqual(self.config_json()["apps"]["links"][1]["url"], "/wiki/")
        finally:
            self.post(b, "/admin/branding", {"app_title": "", "logo_url": "", "apps": "", "action": "save"})
        self.assertEqual(self.config_json()["branding"], {"title": "", "logo": ""})
        _, h, _, _ = self.s.curl("/meet/")
        self.assertIn("img-src 'self' data: blob:;", h["content-security-policy"])

    def test_turn_page_and_secret_rotation(self):
        import stun_client as stun
        b = self.admin()
        status, _, page = b.get("/admin/turn")
        self.assertEqual(status, 200)
        self.assertRegex(page, r"<th scope=\"row\">udp</th><td>[0-9.]+:\d+</td>")
        self.assertIn("turn:localhost:", page)
        self.assertIn("Rotate the secret", page)
        self.assertRegex(page, r'<dd data-testid="turn-traffic">\d+\.\d MB in \d+ packets</dd>')
        secret_path = os.path.join(self.s.state, "turn_secret")
        with open(secret_path) as f:
            old = f.read().strip()
        self.assertNotIn(old, page)  # the secret itself is never shown
        addr = ("127.0.0.1", self.s.turn_ports()["udp"])
        handed_out = stun.rest_credentials(old, "anna", ttl=600)     # as signaling issued it before
        minted_later = stun.rest_credentials(old, "mallory", ttl=90000)  # beyond one credential lifetime
        # The first click asks, saying what happens; only the confirmed form rotates.
        status, _, page = self.post(b, "/admin/turn", {"action": "rotate"})
        self.assertEqual(status, 200)
        self.assertIn("Rotate the TURN secret?", page)
        self.assertIn("keep working until they expire", page)
        with open(secret_path) as f:
            self.assertEqual(f.read().strip(), old)
        csrf = re.search(r'class="confirm">\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
        status, _, page = b.post("/admin/turn", form={"csrf": csrf, "confirm": "yes", "action": "save"})
        self.assertEqual(status, 200, page)
        self.assertIn("The TURN secret was rotated.", page)
        self.assertIn("The previous secret is still accepted", page)
        with open(secret_path) as f:
            new = f.read().strip()
        self.assertNotEqual(new, old)
        self.assertEqual(os.stat(secret_path + ".previous").st_mode & 0o777, 0o600)
        self.assertNotIn(new, self.s.stderr())
        for creds, ok in ((handed_out, True), (minted_later, False), (stun.rest_credentials(new, "anna"), True)):
            c = stun.TurnClient(addr, *creds)
            try:
                a = c.allocate()
                self.assertEqual(a.success, ok, (creds[0], a.code))
                if not ok:
                    self.assertEqual(a.code, 401)
            finally:
                c.close()
        status, _, page = b.get("/admin/audit?q=turn")
        self.assertIn("turn.rotate_secret", page)

    def test_concurrent_changes_of_two_admins_are_both_audited(self):
        root, rita = self.admin(), self.admin("rita", "rita-secret-1")
        pages = {}
        for who, b in (("root", root), ("rita", rita)):
            _, _, page = b.get("/admin/media")
            pages[who] = form_of(page, "/admin/media")

        def change(who, b, kbps):
            return b.post("/admin/media", form={"csrf": pages[who], "screenshare_enabled": "on",
                                                "screenshare_bitrate": "2500", "camera_bitrate": str(kbps),
                                                "action": "save"})[0]

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda a: change(*a), [("root", root, 1234), ("rita", rita, 4321)]))
        self.assertEqual(results, [200, 200])
        status, h, csv = root.get("/admin/audit.csv")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        rows = [line for line in csv.splitlines() if "web.camera_bitrate_kbps" in line]
        self.assertTrue(any('"root","127.0.0.1"' in r and '"1234"' in r for r in rows), rows)
        self.assertTrue(any('"rita","127.0.0.1"' in r and '"4321"' in r for r in rows), rows)
        status, _, page = root.get("/admin/audit?q=rita")
        self.assertIn("<td>rita</td>", page)
        self.assertNotIn("<td>root</td>", page)

    def test_settings_cli(self):
        r = self.settings("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("signaling.guests_enabled = ", r.stdout)
        self.assertIn("web.screenshare_bitrate_kbps = ", r.stdout)
        r = self.settings("set", "web.screenshare_bitrate_kbps", "3000")
        self.assertEqual((r.returncode, r.stdout), (0, "web.screenshare_bitrate_kbps = 3000\n"), r.stderr)
        self.assertEqual(self.config_json()["kwm"]["sdpParamsScreenshare"]["videoSendBitrate"], 3000)
        self.assertEqual(self.setting("web.screenshare_bitrate_kbps"), "3000")
        b = self.admin()
        _, _, page = b.get("/admin/audit?q=screenshare_bitrate")
        self.assertIn("<td>cli</td><td>local</td>", page)
        self.assertEqual(self.settings("frobnicate").returncode, 2)

    def test_status_page_and_live_json(self):
        b = self.admin()
        status, _, page = b.get("/admin/status")
        self.assertEqual(status, 200)
        self.assertIn('data-refresh="/admin/status.json"', page)
        self.assertRegex(page, r"<th scope=\"row\">signaling</th><td><span class=\"state ok\">")
        status, h, body = b.get("/admin/status.json")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertIn("signaling", [m["id"] for m in doc["modules"]])
        self.assertIn("calls and rooms", doc["rooms_summary"])
        # Who is in which call, live: anna opens a group room.
        rtm = Rtm(self.s, self.s.mint_token("anna openid kopano/kwm"))
        try:
            rtm.reply(rtm.join("group/standup"))
            doc = json.loads(b.get("/admin/status.json")[2])
            self.assertIn({"name": "group/standup", "people": [{"name": "Anna Alder", "guest": False}]}, doc["rooms"])
            page = html.unescape(b.get("/admin/status")[2])
            self.assertIn('<th scope="row">group/standup</th><td><span class="person">Anna Alder</span>', page)
        finally:
            rtm.close()
        # A refused form is a warning the status page lists.
        b.post("/admin/media", form={"csrf": "x"})
        doc = json.loads(b.get("/admin/status.json")[2])
        self.assertTrue(any("admin form refused" in w["message"] for w in doc["warnings"]), doc["warnings"])

    def test_users(self):
        b = self.admin()
        status, _, page = self.post(b, "/admin/users", {"new_username": "carl", "new_display_name": "Carl C",
                                                        "new_mail": "carl@example.org", "action": "create"})
        self.assertEqual(status, 200, page)
        password = re.search(r'<p class="secret" tabindex="0">([^<]+)</p>', page).group(1)
        self.assertGreaterEqual(len(password), 20)
        status, _, page = b.get("/admin/users")
        self.assertNotIn(password, page)  # shown once
        self.assertIn("<th scope=\"row\">carl</th><td>Carl C</td><td>carl@example.org</td>", page)
        # The new user can sign in with it (here: to the console, which refuses a non-admin).
        _, status, _ = self.sign_in("carl", password)
        self.assertEqual(status, 403)
        # Grant admin: now they may.
        status, _, page = self.post(b, "/admin/users", {"username": "carl", "action": "grant"})
        self.assertEqual(status, 200)
        carl, status, _ = self.sign_in("carl", password)
        self.assertEqual(status, 200)
        # Revoking asks first; confirmed, carl's console session ends at once.
        status, _, page = self.post(b, "/admin/users", {"username": "carl", "action": "revoke"})
        self.assertEqual(status, 200)
        self.assertIn("Revoke the administrator right of carl?", page)
        self.assertEqual(carl.get("/admin/status")[0], 200)  # not yet
        status, _, page = self.post(b, "/admin/users", {"username": "carl", "do": "revoke", "confirm": "yes",
                                                        "action": "save"})
        self.assertEqual(status, 200, page)
        self.assertEqual(carl.get("/admin/status")[0], 303)
        # Nobody can lock themselves out.
        status, _, page = self.post(b, "/admin/users", {"username": "root", "do": "delete", "confirm": "yes",
                                                        "action": "save"})
        self.assertEqual(status, 400)
        self.assertIn("You cannot do this to your own account.", page)
        # Delete, confirmed; the audit log has it all.
        status, _, page = self.post(b, "/admin/users", {"username": "carl", "do": "delete", "confirm": "yes",
                                                        "action": "save"})
        self.assertEqual(status, 200)
        self.assertNotIn("<th scope=\"row\">carl</th>", page)
        _, _, page = b.get("/admin/audit?q=carl")
        for action in ("user.create", "user.grant_admin", "user.revoke_admin", "user.delete"):
            self.assertIn(action, page)

    def test_sign_out(self):
        b = self.admin()
        _, _, page = b.get("/admin/status")
        status, h, _ = b.post("/admin/signout", form={"csrf": form_of(page, "/admin/signout")})
        self.assertEqual(status, 303)
        self.assertEqual(b.get("/admin/status")[0], 303)


    def test_a_password_change_ends_the_users_console_sessions(self):
        # A password change ends every session and token of the user (session epoch): the admin
        # console's own session too, at its next request, while another admin's stays.
        self.s.add_user("paula", "paula-secret-1", "--admin")
        paula = self.admin("paula", "paula-secret-1")
        rita = self.admin("rita", "rita-secret-1")
        self.assertEqual(paula.get("/admin/status")[0], 200)
        old_cookie = paula.cookie("__Host-palaver-admin")
        self.assertTrue(old_cookie)
        r = subprocess.run([self.s.binary, "user", "passwd", "paula", "--config", self.s.config_path],
                           input="paula-secret-2\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, h, _ = paula.get("/admin/status")
        self.assertEqual(status, 303)
        self.assertTrue(h["location"].startswith("/admin/signin?return="), h["location"])
        self.assertIsNone(paula.cookie("__Host-palaver-admin"))  # cleared with the redirect
        self.assertRegex(self.s.stderr(), r"admin session ended user=paula .*reason=sessions_ended")
        self.assertEqual(rita.get("/admin/status")[0], 200)
        # The session is gone on the server too: its cookie, sent again, is a session no more.
        paula.jar[("__Host-palaver-admin", "/")] = old_cookie
        self.assertEqual(paula.post("/admin/signout", form={"csrf": "x"})[0], 401)
        self.assertEqual(paula.get("/admin/status")[0], 303)
        # Signing in again (new password) starts a new session.
        self.assertEqual(self.admin("paula", "paula-secret-2").get("/admin/status")[0], 200)


class CertificateRenewal(unittest.TestCase):
    """The certificates page shows the last ACME check: here a CA nobody answers at, so the local
    CA keeps serving and the page says the check failed and when the next one runs."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"hostnames": "localhost, meet.example.test"},
                          "tls": {"acme": "yes", "acme_agree_tos": "yes", "acme_directory": "https://127.0.0.1:9/dir",
                                  "acme_email": "it@example.test"}},
                         expect_start=False, binary=PALAVERD_TESTBED)
        cls.s.add_user("root", "root-secret-1", "--admin", "--display-name", "Root Admin")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_failed_check_is_shown_with_the_next_one(self):
        deadline = time.time() + 20
        while "ACME certificate not obtained" not in self.s.stderr() and time.time() < deadline:
            time.sleep(0.2)
        b, status, _ = Console.sign_in(self, "root", "root-secret-1", start="/admin/certificates")
        self.assertEqual(status, 200)
        _, _, page = b.get("/admin/certificates")
        self.assertIn("Automatic renewal (ACME)", page)
        last = re.search(r'<p data-testid="renewal-last" class="state failed">([^<]+)</p>', page)
        self.assertIsNotNone(last, page)
        self.assertRegex(html.unescape(last.group(1)), r"^Last check \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\) failed: .+")
        self.assertIn("Next check", page)
        b_de, _, _ = Console.sign_in(self, "root", "root-secret-1", lang="de", start="/admin/certificates")
        _, _, page = b_de.get("/admin/certificates")
        self.assertIn("Automatische Erneuerung (ACME)", page)
        self.assertIn("fehlgeschlagen", page)


class PasswordPolicy(unittest.TestCase):
    """`palaverd user` with the default policy: at least 10 characters, not the user name, not a
    common password; grant/revoke admin and profile changes without a browser."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(sections={"directory": {"password_min_length": "10"}}, expect_start=False)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def user(self, *args, password=None):
        return subprocess.run([self.s.binary, "user", *args, "--config", self.s.config_path],
                              input=(password + "\n") if password is not None else "", capture_output=True,
                              text=True, timeout=60)

    def test_policy_and_new_subcommands(self):
        r = self.user("add", "dora", password="short")
        self.assertEqual(r.returncode, 1)
        self.assertIn("at least 10 characters", r.stderr)
        r = self.user("add", "doramaxima", password="DoraMaxima")
        self.assertEqual(r.returncode, 1)
        self.assertIn("must not be the user name", r.stderr)
        r = self.user("add", "dora", password="password123")
        self.assertEqual(r.returncode, 1)
        self.assertIn("most common passwords", r.stderr)
        self.assertEqual(self.user("add", "dora", password="a-long-passphrase").returncode, 0)
        self.assertEqual(self.user("passwd", "dora", password="1234567890").returncode, 1)
        r = self.user("grant-admin", "dora")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.user("set", "dora", "--display-name", "Dora D", "--mail", "dora@example.org")
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = self.user("list").stdout
        self.assertRegex(listing, r"dora\s+Dora D\s+dora@example.org\s+admin")
        self.assertEqual(self.user("revoke-admin", "dora").returncode, 0)
        self.assertNotRegex(self.user("list").stdout, r"dora\s+.*admin")
        self.assertEqual(self.user("set", "dora", "--mail", "not-an-address").returncode, 1)
        self.assertEqual(self.user("grant-admin", "nobody").returncode, 1)




class ConsoleInABrowser(unittest.TestCase):
    """Chromium (tests/node/admin-browser.js): an admin signs in with the keyboard, the rule
    preview works live, guests on and screen sharing off reach config.json at once, the status
    page refreshes itself, no CSP violation. PALAVER_ADMIN_SCREENSHOTS=<dir> also captures every
    page in English and German (how docs/admin/console-*.png are made)."""

    def setUp(self):
        self.node = require_node(self, chromium=True)
        self.s = Palaverd(expect_start=False)
        self.s.add_user("root", "root-secret-1", "--admin", "--display-name", "Root Admin")
        self.s.add_user("anna", "anna-secret-1", "--display-name", "Anna Alder", "--mail", "anna@example.org")
        self.s.start()

    def tearDown(self):
        self.s.close()

    def test_admin_in_chromium(self):
        iss = f"https://localhost:{self.s.https_port}"
        shots = os.environ.get("PALAVER_ADMIN_SCREENSHOTS", "")
        r = subprocess.run([self.node, os.path.join(NODE_DIR, "admin-browser.js"), iss, "root", "root-secret-1",
                            *([shots] if shots else [])], capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["en_signin_path"], "/signin/v1/identifier")
        self.assertEqual(out["h1"], "Guests")
        self.assertEqual(out["preview_matches"], ["group/public/team", "group/extern/visit"])
        self.assertTrue(out["preview_button_hidden"])
        self.assertIn("not a valid regular expression", out["preview_error"])
        self.assertIn("Saved.", out["guests_notice"])
        self.assertIs(out["config_guests_enabled"], True)
        self.assertEqual(out["config_public_regexp"], "^group/(public|extern)/.*")
        self.assertIs(out["config_disable_screenshare"], True)
        self.assertEqual(out["config_camera_bitrate"], 800)
        self.assertTrue(out["status_no_reload"])
        self.assertIn("signaling", out["status_modules"])
        self.assertEqual(out["csp_errors"], [])
        if shots:
            self.assertEqual(out["de_h1"], "Gäste")


if __name__ == "__main__":
    unittest.main()
