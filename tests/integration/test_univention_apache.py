"""The Univention app's reverse-proxy configuration, for real: Debian's apache2 (a throwaway
instance with its own config dir and a loopback port, never the system service) runs the
`palaver.conf` the join script writes, in front of a real palaverd on loopback that trusts the
proxy's X-Forwarded-For, as on a UCS host. Through Apache: the Meet sign-in (authorize → sign-in
page → code → token), the APIs with the token, a signaling WebSocket on /api/kwm — and palaverd
sees the browser's address, not Apache's."""
import configparser
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import types
import unittest
import urllib.parse

from harness import SOURCE, Browser, Palaverd, WsClient, free_port
from test_authorize import AUTHORIZE, claims_of, fragment_params, pkce
from test_univention import BIND, Stubbed

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
CLIENT = "127.0.0.3"  # the browser's address; Apache listens on 127.0.0.1, palaverd too


class ClientBrowser(Browser):
    """harness.Browser, connecting from CLIENT to Apache."""

    def request(self, method, target, body=None, headers=None, form=None):
        real = socket.create_connection
        socket.create_connection = lambda addr, timeout=None, **kw: real(addr, timeout, source_address=(CLIENT, 0))
        try:
            return super().request(method, target, body=body, headers=headers, form=form)
        finally:
            socket.create_connection = real


class ApacheInFront(Stubbed):
    def setUp(self):
        super().setUp()
        if not os.path.exists(APACHE):
            self.fail("apache2 is needed: scripts/deps.sh test installs it")
        self.backend_port = free_port()
        self.apache_port = free_port()
        # The join script writes the proxy configuration (stub UCS, the backend port of this test).
        self.make_certificates()
        shutil.copy(os.path.join(SOURCE, "appliance", "palaver.cfg.example"), self.cfg)  # the package's file
        r, _ = self.run_script("inst", *BIND, env={"PALAVER_BACKEND_PORT": str(self.backend_port)})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.sites, "palaver.conf")))
        # palaverd with the listener, proxy and TURN keys the join script wrote (loopback, no
        # plain listener, the proxy trusted), the issuer on Apache's origin, and a local user
        # (the join script's LDAP directory is tested in test_univention).
        joined = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(" ;", " #"))
        joined.optionxform = str
        joined.read([self.cfg, os.path.join(self.etc, "palaver.cfg.d", "50-univention.cfg")])  # the app's drop-in wins
        taken = {section: {k: joined[section][k] for k in keys} for section, keys in (
            ("palaver", ("listen", "https_port", "http_redirect", "trusted_proxies", "proxy_header")),
            ("turn", ("https_fallback",)))}
        self.assertEqual(taken["palaver"]["https_port"], str(self.backend_port))
        self.assertEqual(taken["palaver"]["trusted_proxies"], "127.0.0.1, ::1")
        taken["palaver"]["access_log"] = "yes"
        self.origin = f"https://localhost:{self.apache_port}"
        self.s = Palaverd({**taken, "oidc": {"issuer": self.origin}}, expect_start=False)
        self.s.add_user("anna", "anna-secret", "--display-name", "Anna Alder")
        self.s.start()
        self.start_apache()

    def tearDown(self):
        self.stop_apache()
        self.s.close()
        super().tearDown()

    def start_apache(self):
        root = os.path.join(self.dir, "apache")
        os.makedirs(root)
        self.apache_root = root
        self.cert = os.path.join(root, "site.pem")
        key = os.path.join(root, "site.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", key, "-out", self.cert], check=True, capture_output=True, timeout=60)
        modules = ["mpm_event", "authz_core", "socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel",
                   "rewrite", "headers"]
        conf = os.path.join(root, "apache2.conf")
        with open(conf, "w") as f:
            f.write(f"""ServerRoot "{root}"
ServerName localhost
DefaultRuntimeDir "{root}"
PidFile "{root}/apache2.pid"
Mutex file:{root} default
User www-data
Group www-data
Listen 127.0.0.1:{self.apache_port}
{''.join(f'LoadModule {m}_module {MODULES}/mod_{m}.so{chr(10)}' for m in modules)}
ErrorLog "{root}/error.log"
LogLevel warn proxy:info
LogFormat "%a %r %>s" brief
CustomLog "{root}/access.log" brief
SSLSessionCache shmcb:{root}/ssl_scache(512000)
<VirtualHost 127.0.0.1:{self.apache_port}>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile "{self.cert}"
    SSLCertificateKeyFile "{key}"
    # As UCS's default-ssl site does: apps drop their configuration here.
    IncludeOptional "{self.sites}/*.conf"
</VirtualHost>
""")
        check = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.apache = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], stdout=subprocess.DEVNULL,
                                       stderr=open(os.path.join(root, "stderr.log"), "wb"))
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.apache.poll() is not None:
                self.fail("apache2 exited:\n" + self.apache_log())
            try:
                socket.create_connection(("127.0.0.1", self.apache_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.fail("apache2 did not listen:\n" + self.apache_log())

    def apache_log(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            path = os.path.join(self.apache_root, name)
            if os.path.exists(path):
                out += open(path, errors="replace").read()
        return out

    def stop_apache(self):
        if getattr(self, "apache", None) and self.apache.poll() is None:
            self.apache.send_signal(signal.SIGTERM)  # graceful-stop for the parent and its children
            try:
                self.apache.wait(20)
            except subprocess.TimeoutExpired:
                self.apache.kill()
                self.apache.wait()

    def browser(self):
        return ClientBrowser(types.SimpleNamespace(ca=self.cert, https_port=self.apache_port))

    def test_meet_sign_in_and_websocket_through_apache(self):
        meet = self.origin + "/meet/"
        kpop = "kpop-" + meet
        b = self.browser()
        # The Meet app and its config come through the proxy.
        status, _, page = b.get("/meet/")
        self.assertEqual(status, 200, page[:500])
        status, _, doc = b.get("/.well-known/openid-configuration")
        self.assertEqual(status, 200)
        discovery = json.loads(doc)
        self.assertEqual(discovery["issuer"], self.origin)
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                    "end_session_endpoint"):
            self.assertTrue(discovery[key].startswith(self.origin + "/"), discovery[key])
        status, _, body = b.get("/api/config/v1/kopano/meet/config.json")
        self.assertEqual(status, 200, body[:300])
        # authorize → the sign-in page → the form → authorize again → the code.
        verifier, challenge = pkce()
        params = {"client_id": kpop, "redirect_uri": meet + "#oidc-callback", "response_type": "code",
                  "response_mode": "fragment", "scope": "openid profile email kopano/kwm kopano/gc kopano/kvs",
                  "state": "st-1", "nonce": "n-1", "code_challenge": challenge, "code_challenge_method": "S256"}
        status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        self.assertEqual(status, 302)
        location = h["location"]
        self.assertTrue(location.startswith("/signin/v1/identifier?"), location)
        status, _, page = b.get(location)
        self.assertEqual(status, 200, page[:500])
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        flow = re.search(r'name="flow" value="([^"]*)"', page).group(1)
        form = {"csrf": csrf, "query": query, "flow": flow, "action": "signin", "username": "anna"}
        status, _, page = b.post("/signin/v1/identifier/_/form", form={**form, "password": "wrong"})
        self.assertEqual(status, 401)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        status, h, _ = b.post("/signin/v1/identifier/_/form", form={**form, "csrf": csrf, "password": "anna-secret"})
        self.assertEqual(status, 303)
        status, h, _ = b.get(h["location"])
        self.assertEqual(status, 302)
        self.assertTrue(h["location"].startswith(meet + "#oidc-callback&"), h["location"])
        got = fragment_params(h["location"])
        self.assertEqual(got["state"], "st-1")
        status, _, body = b.post("/konnect/v1/token", body=urllib.parse.urlencode(
            {"grant_type": "authorization_code", "code": got["code"], "client_id": kpop,
             "redirect_uri": params["redirect_uri"], "code_verifier": verifier}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        tokens = json.loads(body)
        self.assertEqual(claims_of(tokens["id_token"])["iss"], self.origin)
        bearer = {"Authorization": "Bearer " + tokens["access_token"]}
        status, _, body = b.get("/api/gc/v1/me", headers=bearer)
        self.assertEqual((status, json.loads(body)["userPrincipalName"]), (200, "anna"))
        status, _, body = b.get("/konnect/v1/userinfo", headers=bearer)
        self.assertEqual(status, 200)
        # palaverd saw the browser's address (through X-Forwarded-For from the trusted Apache).
        log = self.s.stderr()
        self.assertIn(f"sign-in failed user=anna addr={CLIENT} reason=bad_credentials", log)
        self.assertIn(f"signed in user=anna addr={CLIENT}", log)
        self.assertRegex(log, rf"\[access\] .*addr={re.escape(CLIENT)} method=POST path=/konnect/v1/token status=200")
        self.assertNotRegex(log, r"\[access\] .*addr=127\.0\.0\.1 method=POST path=/konnect/v1/token")
        # A client's own X-Forwarded-For is not believed: Apache appends the address it saw.
        status, _, _ = b.get("/meet/", headers={"X-Forwarded-For": "6.6.6.6"})
        self.assertEqual(status, 200)
        self.assertNotIn("addr=6.6.6.6", self.s.stderr())

        # Signaling: rtm/connect over HTTP, then the WebSocket upgrade through the proxy.
        status, _, body = b.post("/api/kwm/v2/rtm/connect", body="", headers=bearer)
        self.assertEqual(status, 200, body)
        url = json.loads(body)["url"]
        self.assertTrue(url.startswith("/api/kwm/"), url)
        ctx = ssl.create_default_context(cafile=self.cert)
        raw = socket.create_connection(("127.0.0.1", self.apache_port), timeout=10, source_address=(CLIENT, 0))
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        ws = WsClient(sock, url, host=f"localhost:{self.apache_port}")
        self.assertEqual(ws.status, 101, self.apache_log()[-3000:])
        sock.settimeout(10)
        opcode, payload = ws.recv()
        self.assertEqual(opcode, 1)
        hello = json.loads(payload)
        self.assertEqual(hello["type"], "hello")
        # A message goes both ways on the tunnel: a keepalive ping gets its pong.
        ws.send(json.dumps({"type": "ping", "id": 1, "ts": 1}))
        while True:
            opcode, payload = ws.recv()
            self.assertEqual(opcode, 1)
            m = json.loads(payload)
            if m.get("type") == "pong":
                self.assertEqual((m.get("id"), m.get("ts")), (1, 1))
                break
        sock.close()
        self.assertRegex(self.s.stderr(), rf"\[access\] .*addr={re.escape(CLIENT)} method=GET path=/api/kwm/v2/rtm/websocket")

    def test_other_paths_stay_with_apache(self):
        b = self.browser()
        # Paths not listed in palaver.conf are Apache's (UCS's portal, UMC): palaverd never sees them.
        since = len(self.s.stderr())
        status, _, _ = b.get("/univention/portal/")
        self.assertEqual(status, 404)
        status, _, _ = b.get("/metrics")
        self.assertEqual(status, 404)
        self.assertNotIn("path=/univention/portal/", self.s.stderr()[since:])
        self.assertNotIn("path=/metrics", self.s.stderr()[since:])


if __name__ == "__main__":
    unittest.main()
