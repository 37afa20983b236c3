"""Signing in through an upstream OpenID provider ([oidc] upstream_issuer): a second, real palaverd
stands in for Keycloak. The full redirect flow (Meet's authorization request → our sign-in page →
"Sign in with …" → the upstream's sign-in → our callback → Meet's code → tokens), sign-out through
the upstream's end session, and each failure as a page in English and German. A small HTTPS
server plays a broken upstream (wrong issuer, oversized documents, forged signatures, down)."""
import base64
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import NODE_DIR, PALAVERD, PALAVERD_TESTBED, Browser, Palaverd, require_node

AUTHORIZE = "/signin/v1/identifier/_/authorize"
UPSTREAM = "/signin/v1/identifier/_/upstream/"
SECRET = "up-secret-" + secrets.token_hex(8)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def query_params(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def fragment_params(location):
    frag = location.split("#", 1)[1]
    return dict(urllib.parse.parse_qsl(frag.split("&", 1)[1]))


def pkce():
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def wait_for_log(server, text, since=0, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in server.stderr()[since:]:
            return
        time.sleep(0.05)
    raise AssertionError(f"no '{text}' in log:\n{server.stderr()[since:]}")


def downstream(issuer, ca, extra=None, secret_file=None):
    """A palaverd whose [oidc] signs in through `issuer` (not started; users to add)."""
    d = Palaverd(expect_start=False)
    if secret_file is None:
        secret_file = os.path.join(d.dir, "upstream.secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret_file, 0o600)
    oidc = {"upstream_issuer": issuer, "upstream_client_id": "palaver-down", "upstream_client_secret_file": secret_file,
            "upstream_ca_file": ca, "upstream_label": "UCS", "upstream_label_de": "UCS-Konto"}
    oidc.update(extra or {})
    d.sections["oidc"] = oidc
    d.write_config()
    return d


class Flow(unittest.TestCase):
    """Against a real upstream palaverd with the downstream registered as its client."""

    @classmethod
    def setUpClass(cls):
        cls.up = Palaverd(expect_start=False, binary=PALAVERD)
        cls.addClassCleanup(cls.up.close)
        cls.up.add_user("anna", "anna-at-ucs", "--display-name", "Anna (UCS)")
        cls.up.add_user("zoe", "zoe-at-ucs")  # known upstream only
        cls.up.start()
        cls.up_iss = f"https://localhost:{cls.up.https_port}"
        cls.s = downstream(cls.up_iss, cls.up.ca)
        cls.addClassCleanup(cls.s.close)
        cls.s.add_user("anna", "anna-local", "--display-name", "Anna Alder", "--mail", "anna@example.org")
        cls.s.add_user("dora", "dora-local")
        cls.s.start()
        cls.iss = f"https://localhost:{cls.s.https_port}"
        cls.meet = cls.iss + "/meet/"
        cls.kpop = "kpop-" + cls.meet
        wait_for_log(cls.s, "upstream discovery loaded")
        # The upstream learns about its client (konnect's registration file, with our secret).
        reg = os.path.join(cls.up.dir, "registration.yaml")
        with open(reg, "w") as f:
            # `insecure`: the test's redirect URIs are on localhost, which registrations otherwise refuse.
            f.write("clients:\n  - id: palaver-down\n    name: Palaver\n    trusted: true\n    insecure: true\n"
                    f"    secret: {SECRET}\n    redirect_uris: [\"{cls.iss}{UPSTREAM}callback\"]\n"
                    f"    post_logout_redirect_uris: [\"{cls.iss}{UPSTREAM}signedout\"]\n")
        r = subprocess.run([cls.up.binary, "client", "import", reg, "--config", cls.up.config_path],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        cls.up.reload()

    # --- helpers ---------------------------------------------------------------------------

    def browsers(self, lang="en"):
        """One browser, as two cookie jars: ours and the upstream's (different ports)."""
        return Browser(self.s, lang), Browser(self.up, lang)

    def meet_authorize(self, b):
        verifier, challenge = pkce()
        params = {"client_id": self.kpop, "redirect_uri": self.meet + "#oidc-callback", "response_type": "code",
                  "response_mode": "fragment", "scope": "openid profile email kopano/kwm kopano/gc kopano/kvs",
                  "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4),
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        self.assertEqual(status, 302)
        return h["location"], params, verifier

    def start_upstream(self, b):
        """Meet's request → our page → the button; returns (the upstream authorize URL, Meet's params, verifier)."""
        location, params, verifier = self.meet_authorize(b)
        status, _, page = b.get(location)
        self.assertEqual(status, 200, page)
        m = re.search(r'<a class="button" href="([^"]+)"[^>]*>([^<]+)</a>', page)
        self.assertIsNotNone(m, page)
        status, h, body = b.get(html.unescape(m.group(1)))
        self.assertEqual(status, 302, body)
        return h["location"], params, verifier

    def upstream_signin(self, bu, url, user="anna", password="anna-at-ucs"):
        """The upstream's own sign-in page and authorize; returns its redirect to our callback."""
        self.assertTrue(url.startswith(self.up_iss + AUTHORIZE + "?"), url)
        status, h, _ = bu.get(url)
        if status == 302 and h["location"].startswith("/signin/v1/identifier"):
            status, _, page = bu.get(h["location"])
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            query = html.unescape(re.search(r'name="query" value="([^"]*)"', page).group(1))
            status, h, _ = bu.post("/signin/v1/identifier/_/form",
                                   form={"csrf": csrf, "query": query, "flow": "oidc", "action": "signin",
                                         "username": user, "password": password})
            self.assertEqual(status, 303)
            status, h, _ = bu.get(h["location"])
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(self.iss + UPSTREAM + "callback?"), h["location"])
        return h["location"]

    def token(self, form):
        b = Browser(self.s)
        status, _, body = b.post("/konnect/v1/token", body=urllib.parse.urlencode(form),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        return status, json.loads(body)

    # --- tests -----------------------------------------------------------------------------

    def test_meet_signs_in_through_the_upstream_and_out_again(self):
        b, bu = self.browsers()
        url, params, verifier = self.start_upstream(b)
        up = query_params(url)
        self.assertEqual((up["response_type"], up["client_id"], up["code_challenge_method"]), ("code", "palaver-down", "S256"))
        self.assertEqual(up["redirect_uri"], self.iss + UPSTREAM + "callback")
        self.assertEqual(up["scope"], "openid profile email")
        self.assertGreaterEqual(len(up["state"]), 32)
        self.assertIsNotNone(b.cookie("__Secure-KKX"))  # the attempt, bound to this browser
        callback = self.upstream_signin(bu, url)
        status, h, _ = b.get(callback)
        self.assertEqual(status, 303)
        self.assertTrue(h["location"].startswith(AUTHORIZE + "?"), h["location"])
        self.assertIsNone(b.cookie("__Secure-KKX"))  # used up
        self.assertIsNotNone(b.cookie("__Secure-KKT"))
        # Meet's request continues exactly as after a password sign-in.
        status, h, _ = b.get(h["location"])
        self.assertEqual(status, 302)
        got = fragment_params(h["location"])
        self.assertEqual(got["state"], params["state"])
        status, tokens = self.token({"grant_type": "authorization_code", "code": got["code"], "client_id": self.kpop,
                                     "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
        self.assertEqual(status, 200, tokens)
        at = claims_of(tokens["access_token"])
        self.assertEqual(at["iss"], self.iss)  # our token, not the upstream's
        self.assertEqual(at["kc.identity"]["kc.i.un"], "anna")
        self.assertEqual(at["kc.identity"]["kc.i.dn"], "Anna Alder")  # our directory's user
        api = Browser(self.s)
        status, _, body = api.get("/konnect/v1/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
        self.assertEqual((status, json.loads(body)["email"]), (200, "anna@example.org"))
        log = self.s.stderr()
        self.assertIn("signed in user=anna addr=127.0.0.1 via=upstream", log)
        _, _, metrics, _ = self.s.curl("/metrics")
        self.assertRegex(metrics.decode(), r'(?m)^palaver_oidc_upstream_signins_total\{result="ok"\} [1-9]')
        self.assertNotIn(SECRET, log)
        self.assertNotIn(got["code"], log)
        # Signed in at the upstream too: a second sign-in needs no password there.
        b2 = Browser(self.s)
        url2, _, _ = self.start_upstream(b2)
        status, h, _ = bu.get(url2)
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(self.iss + UPSTREAM + "callback?"), h["location"])

        # Sign-out: our session ends, then the upstream's (with its ID token as the hint), then
        # the browser is back where Meet asked.
        status, h, _ = b.get("/signin/v1/identifier/_/endsession?" + urllib.parse.urlencode(
            {"post_logout_redirect_uri": self.meet, "state": "bye-1", "id_token_hint": tokens["id_token"]}))
        self.assertEqual(status, 302)
        out = h["location"]
        self.assertTrue(out.startswith(self.up_iss + "/signin/v1/identifier/_/endsession?"), out)
        q = query_params(out)
        self.assertEqual(q["post_logout_redirect_uri"], self.iss + UPSTREAM + "signedout")
        self.assertEqual(claims_of(q["id_token_hint"])["iss"], self.up_iss)
        self.assertEqual(q["client_id"], "palaver-down")
        self.assertIsNone(b.cookie("__Secure-KKT"))
        self.assertIsNone(b.cookie("__Secure-KKXI"))
        status, h, _ = bu.get(out)
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(self.iss + UPSTREAM + "signedout?"), h["location"])
        self.assertIsNone(bu.cookie("__Secure-KKT"))  # the upstream session is over as well
        status, h, _ = b.get(h["location"])
        self.assertEqual((status, h["location"]), (302, self.meet + "?state=bye-1"))
        # The next sign-in asks the upstream for a password again.
        url3, _, _ = self.start_upstream(b)
        status, h, _ = bu.get(url3)
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith("/signin/v1/identifier?"), h["location"])

    def test_unknown_user_is_refused_with_a_page(self):
        for lang, text in (("en", "there is no Palaver account for that name"),
                           ("de", "für diesen Namen gibt es kein Palaver-Konto")):
            b, bu = self.browsers(lang)
            url, _, _ = self.start_upstream(b)
            status, _, page = b.get(self.upstream_signin(bu, url, "zoe", "zoe-at-ucs"))
            self.assertEqual(status, 403, page)
            self.assertIn(text, page)
            self.assertIn("zoe", page)
            self.assertIn('role="alert"', page)
            self.assertIsNone(b.cookie("__Secure-KKT"))
        self.assertIn("upstream sign-in failed reason=unknown_user addr=127.0.0.1", self.s.stderr())
        _, _, metrics, _ = self.s.curl("/metrics")
        self.assertRegex(metrics.decode(), r'(?m)^palaver_oidc_upstream_signins_total\{result="unknown_user"\} [1-9]')

    def test_state_must_belong_to_this_browser(self):
        b, bu = self.browsers()
        url, _, _ = self.start_upstream(b)
        callback = self.upstream_signin(bu, url)
        # Another browser (no attempt cookie) cannot use the callback.
        status, _, page = Browser(self.s).get(callback)
        self.assertEqual(status, 400)
        self.assertIn("expired or was started in another window", page)
        # A copied attempt cookie is good for one callback only.
        thief = Browser(self.s)
        thief.jar = dict(b.jar)
        status, _, _ = thief.get(callback)
        self.assertEqual(status, 303)
        status, _, page = b.get(callback)
        self.assertEqual(status, 400)
        self.assertIn("state already used", self.s.stderr())
        self.assertIsNone(b.cookie("__Secure-KKT"))
        url, _, _ = self.start_upstream(b)
        callback = self.upstream_signin(bu, url)
        # A changed state fails too, and uses the attempt up.
        q = query_params(callback)
        forged = f"{UPSTREAM}callback?" + urllib.parse.urlencode({"code": q["code"], "state": q["state"][:-1] + "x"})
        status, _, page = b.get(forged)
        self.assertEqual(status, 400)
        status, _, page = b.get(callback)
        self.assertEqual(status, 400)
        self.assertIsNone(b.cookie("__Secure-KKT"))
        de, bud = self.browsers("de")
        status, _, page = de.get(callback)
        self.assertIn("in einem anderen Fenster begonnen", page)
        self.assertIn("reason=state", self.s.stderr())

    def test_wrong_nonce_is_refused(self):
        b, bu = self.browsers()
        url, _, _ = self.start_upstream(b)
        q = query_params(url)
        q["nonce"] = "not-the-one-we-sent"
        tampered = self.up_iss + AUTHORIZE + "?" + urllib.parse.urlencode(q)
        status, _, page = b.get(self.upstream_signin(bu, tampered))
        self.assertEqual(status, 401, page)
        self.assertIn("The sign-in with UCS could not be verified.", page)
        self.assertIsNone(b.cookie("__Secure-KKT"))
        self.assertIn("reason=not_verified", self.s.stderr())
        self.assertIn("nonce does not match", self.s.stderr())

    def test_upstream_error_answer(self):
        b, _ = self.browsers("de")
        url, _, _ = self.start_upstream(b)
        state = query_params(url)["state"]
        status, _, page = b.get(f"{UPSTREAM}callback?error=access_denied&state={state}")
        self.assertEqual(status, 401)
        self.assertIn("UCS-Konto hat Sie nicht angemeldet.", page)
        self.assertIn("Erneut versuchen", page)

    def test_the_sign_in_page_offers_the_upstream_in_both_languages(self):
        for lang, label in (("en", "Sign in with UCS"), ("de-DE,de;q=0.9", "Mit UCS-Konto anmelden")):
            b = Browser(self.s, lang)
            location, _, _ = self.meet_authorize(b)
            status, _, page = b.get(location)
            self.assertEqual(status, 200)
            self.assertIn(f">{label}</a>", page)
            self.assertIn('name="password"', page)  # passwords still allowed (upstream_only off)


class OnlyUpstream(unittest.TestCase):
    """upstream_only: no password form, passwords refused, authorize goes straight upstream."""

    def test_only_upstream(self):
        up = Palaverd(binary=PALAVERD)
        try:
            s = downstream(f"https://localhost:{up.https_port}", up.ca, {"upstream_only": "yes"})
            s.add_user("anna", "anna-local")
            s.start()
            try:
                b = Browser(s)
                status, _, page = b.get("/signin/v1/identifier")
                self.assertEqual(status, 200)
                self.assertNotIn('name="password"', page)
                self.assertIn("Sign in with UCS", page)
                self.assertIn("Sign in with your organisation&#39;s account.", page)
                # Passwords are refused on the JSON API too.
                status, _, body = b.post("/signin/v1/identifier/_/logon", body=json.dumps(
                    {"params": ["anna", "anna-local", "1"], "hello": {"scope": "openid", "flow": "oidc"}, "state": "x"}),
                    headers={"Content-Type": "application/json", "Kopano-Konnect-XSRF": "1", "Origin": b.origin})
                self.assertEqual(status, 403, body)
                self.assertIsNone(b.cookie("__Secure-KKT"))
                params = {"client_id": f"kpop-https://localhost:{s.https_port}/meet/", "response_type": "code",
                          "redirect_uri": f"https://localhost:{s.https_port}/meet/", "scope": "openid",
                          "state": "s", "nonce": "n", "code_challenge": pkce()[1], "code_challenge_method": "S256"}
                status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
                self.assertEqual(status, 302)
                self.assertTrue(h["location"].startswith(UPSTREAM + "start?"), h["location"])
                # upstream_* keys need a restart: a reload says so and keeps the running ones.
                s.sections["oidc"]["upstream_label"] = "Other"
                s.write_config()
                before = len(s.stderr())
                s.reload()
                wait_for_log(s, "upstream_* keys changed: they apply after a restart", since=before)
                self.assertIn("Sign in with UCS", Browser(s).get("/signin/v1/identifier")[2])
            finally:
                s.close()
        finally:
            up.close()


class CookieCrumbs(unittest.TestCase):
    """HTTP/2 clients may send each cookie as its own header field (Chromium does); palaverd joins
    them, or every cookie but the first (the upstream's ID token beside the session) is lost."""

    def test_cookie_fields_are_joined_over_http2(self):
        s = Palaverd(binary=PALAVERD_TESTBED)
        self.addCleanup(s.close)
        status, _, body, version = s.curl("/testbed/headers", "-H", "Cookie: a=1", "-H", "Cookie: b=2", http="--http2")
        self.assertEqual((status, version), (200, "2"))
        self.assertEqual([v for k, v in json.loads(body) if k == "cookie"], ["a=1; b=2"])


class MeetInChromium(unittest.TestCase):
    """The Meet app in Chromium, signing in through the upstream and out again (tests/node/meet-upstream.js).
    Palaver on 127.0.0.1, the upstream on localhost: two hosts, so their cookies stay apart."""

    def test_meet_signs_in_and_out_through_the_upstream(self):
        node, site = require_node(self, chromium=True, webui=True)
        up = Palaverd({"palaver": {"access_log": "yes"}}, binary=PALAVERD, expect_start=False)
        self.addCleanup(up.close)
        up.add_user("anna", "anna-at-ucs")
        up.start()
        up_iss = f"https://localhost:{up.https_port}"
        s = downstream(up_iss, up.ca)
        self.addCleanup(s.close)
        s.site = site
        s.sections["web"]["root"] = site
        s.sections["palaver"]["hostnames"] = "127.0.0.1"
        s.sections["palaver"]["access_log"] = "yes"
        s.write_config()
        s.add_user("anna", "anna-local", "--display-name", "Anna Alder")
        s.start()
        iss = f"https://127.0.0.1:{s.https_port}"
        reg = os.path.join(up.dir, "registration.yaml")
        with open(reg, "w") as f:
            f.write("clients:\n  - id: palaver-down\n    trusted: true\n    insecure: true\n"
                    f"    secret: {SECRET}\n    redirect_uris: [\"{iss}{UPSTREAM}callback\"]\n"
                    f"    post_logout_redirect_uris: [\"{iss}{UPSTREAM}signedout\"]\n")
        r = subprocess.run([up.binary, "client", "import", reg, "--config", up.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        up.reload()
        r = subprocess.run([node, os.path.join(NODE_DIR, "meet-upstream.js"), iss, s.ca, up_iss, up.ca, "anna", "anna-at-ucs"],
                           capture_output=True, text=True, timeout=170, cwd=NODE_DIR)
        lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
        self.assertTrue(lines, f"no result (rc={r.returncode}):\n{r.stderr[-3000:]}")
        out = json.loads(lines[-1])
        self.assertEqual(r.returncode, 0, f"failed at {out.get('step')}: {out.get('error')}\n{out.get('console')}\n{out.get('visited')}\n{out.get('cookies')}\n"
                         f"{s.stderr()[-3000:]}\nUPSTREAM:\n{up.stderr()[-3000:]}")
        self.assertEqual(out["button"], "Sign in with UCS")
        self.assertEqual(out["name"], "Anna Alder")  # Palaver's user, named by the upstream
        self.assertTrue(out["via_callback"])
        self.assertTrue(out["upstream_endsession"])
        self.assertTrue(out["back_home"])
        self.assertTrue(out["password_asked_again"])


class FakeUpstream(http.server.BaseHTTPRequestHandler):
    """A broken upstream: `server.mode` says how."""

    def log_message(self, *args):
        pass

    def send_json(self, body, status=200):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        srv = self.server
        if srv.mode == "refuse":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if srv.mode == "down":
            return self.send_json('{"error":"maintenance"}', 503)
        if self.path == "/.well-known/openid-configuration":
            if srv.mode == "slow":
                time.sleep(3)
            doc = {"issuer": "https://elsewhere.example" if srv.mode == "wrong_issuer" else srv.issuer,
                   "authorization_endpoint": srv.issuer + "/auth", "token_endpoint": srv.issuer + "/token",
                   "jwks_uri": srv.issuer + "/jwks", "id_token_signing_alg_values_supported": ["ES256"]}
            if srv.mode == "big_discovery":
                doc["padding"] = "x" * (600 * 1024)
            return self.send_json(json.dumps(doc))
        if self.path == "/jwks":
            if srv.mode == "big_jwks":
                return self.send_json(json.dumps({"keys": [], "padding": "y" * (600 * 1024)}))
            return self.send_json(srv.jwks)
        self.send_json("{}", 404)

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        srv.token_requests.append((self.headers.get("Authorization", ""), form))
        self.send_json(json.dumps({"access_token": "x", "token_type": "Bearer", "id_token": srv.id_token}))


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # palaverd hangs up on oversized documents: expected here


class BrokenUpstream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="palaver-fake-up-")
        cert, key = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=30)
        cls.httpd = QuietServer(("127.0.0.1", 0), FakeUpstream)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        cls.httpd.issuer = f"https://localhost:{cls.httpd.server_address[1]}"
        cls.httpd.mode = "ok"
        cls.httpd.id_token = ""
        cls.httpd.token_requests = []
        # The keys of a real provider (a palaverd), so only the signature is forged.
        cls.real = Palaverd(binary=PALAVERD)
        cls.addClassCleanup(cls.real.close)
        _, _, jwks, _ = cls.real.curl("/konnect/v1/jwks.json")
        cls.httpd.jwks = jwks.decode()
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.httpd.mode = "down"  # nothing discovered at start
        cls.cert = cert
        cls.s = downstream(cls.httpd.issuer, cert)
        cls.addClassCleanup(cls.s.close)
        cls.s.add_user("anna", "anna-local")
        cls.s.start()
        wait_for_log(cls.s, "upstream discovery not loaded")

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        subprocess.run(["rm", "-rf", cls.tmp], check=False)

    def start(self, lang="en"):
        b = Browser(self.s, lang)
        status, h, page = b.get(UPSTREAM + "start?flow=&query=")
        return b, status, h, page

    def test_failures_before_the_redirect(self):
        cases = [("down", "UCS cannot be reached right now", "UCS-Konto ist gerade nicht erreichbar", "answered 503"),
                 ("refuse", "UCS cannot be reached right now", "UCS-Konto ist gerade nicht erreichbar", "reason=unavailable"),
                 ("wrong_issuer", "UCS answered in a way Palaver cannot accept", "so geantwortet, dass Palaver",
                  "names another issuer"),
                 ("big_discovery", "UCS answered in a way Palaver cannot accept", "so geantwortet, dass Palaver", "too large"),
                 ("big_jwks", "UCS answered in a way Palaver cannot accept", "so geantwortet, dass Palaver", "too large")]
        for mode, en, de, logged in cases:
            with self.subTest(mode=mode):
                self.httpd.mode = mode
                before = len(self.s.stderr())
                _, status, _, page = self.start()
                self.assertEqual(status, 502, page)
                self.assertIn(en, page)
                _, status, _, page = self.start("de")
                self.assertIn(de, page)
                log = self.s.stderr()[before:]
                self.assertIn("upstream sign-in failed reason=", log)
                self.assertIn(logged, log)
        self.assertEqual(Browser(self.s).get("/healthz")[0], 200)

    def test_forged_signature_and_wrong_issuer_in_the_id_token(self):
        self.httpd.mode = "ok"
        b, status, h, _ = self.start()
        self.assertEqual(status, 302)
        q = query_params(h["location"])
        kid = json.loads(self.httpd.jwks)["keys"][0]["kid"]
        alg = json.loads(self.httpd.jwks)["keys"][0]["alg"]
        now = int(time.time())
        for iss, sig_ok_text in ((self.httpd.issuer, "signature invalid"),):
            header = b64url(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
            payload = b64url(json.dumps({"iss": iss, "aud": "palaver-down", "sub": "s1", "exp": now + 300, "iat": now,
                                         "nonce": q["nonce"], "preferred_username": "anna"}).encode())
            self.httpd.id_token = f"{header}.{payload}.{b64url(secrets.token_bytes(64))}"
            status, _, page = b.get(f"{UPSTREAM}callback?code=c1&state={q['state']}")
            self.assertEqual(status, 401, page)
            self.assertIn("could not be verified", page)
            self.assertIsNone(b.cookie("__Secure-KKT"))
            self.assertIn(sig_ok_text, self.s.stderr())
        # The code went to the token endpoint with the client secret (Basic) and the PKCE verifier.
        auth, form = self.httpd.token_requests[-1]
        self.assertEqual(base64.b64decode(auth.split()[1]).decode(), "palaver-down:" + SECRET)
        self.assertEqual((form["code"], form["grant_type"]), ("c1", "authorization_code"))
        self.assertEqual(b64url(hashlib.sha256(form["code_verifier"].encode()).digest()), q["code_challenge"])
        self.assertNotIn(SECRET, self.s.stderr())

    def test_when_one_fetch_hangs_others_fail_fast(self):
        # While the upstream takes its time, one worker waits for it; other sign-ins are told at
        # once that it cannot be reached. (A palaverd of its own: nothing discovered yet.)
        self.httpd.mode = "down"
        s = downstream(self.httpd.issuer, self.cert)
        self.addCleanup(s.close)
        s.start()
        wait_for_log(s, "upstream discovery not loaded")
        self.httpd.mode = "slow"
        results = {}

        def start(i):
            began = time.time()
            status, _, _ = Browser(s).get(UPSTREAM + "start?flow=&query=")
            results[i] = (status, time.time() - began)

        first = threading.Thread(target=start, args=(0,))
        first.start()
        time.sleep(0.5)
        others = [threading.Thread(target=start, args=(i,)) for i in (1, 2)]
        for t in others:
            t.start()
        for t in [first, *others]:
            t.join(30)
        self.assertEqual(results[0][0], 302)
        for i in (1, 2):
            self.assertEqual(results[i][0], 502)
            self.assertLess(results[i][1], 2)


if __name__ == "__main__":
    unittest.main()
