"""/metrics as a Prometheus admin meets it: after real traffic (pages, a failed and a good sign-in,
token issuance, an RTM message), Debian's `promtool check metrics` finds nothing to complain
about, every family is named palaver_*, and the build, process, latency and module-health
families are there with plausible values."""
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import unittest
import urllib.parse

from harness import Palaverd, SOURCE
from test_signaling import Rtm

API = "/signin/v1/identifier/_"
RULES = os.path.join(SOURCE, "appliance", "prometheus", "palaver-alerts.yml")


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$', line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.promtool = shutil.which("promtool")
        cls.s = Palaverd(expect_start=False)
        cls.s.add_user("anna", "anna-secret", "--display-name", "Anna")
        try:
            cls.s.start()
            cls.origin = f"https://localhost:{cls.s.https_port}"
            cls.traffic()
            status, headers, body, _ = cls.s.curl("/metrics")
            assert status == 200, status
        except BaseException:
            cls.s.close()
            raise
        cls.content_type = headers.get("content-type", "")
        cls.text = body.decode()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    @classmethod
    def signin(cls, user, pw):
        return cls.s.curl(f"{API}/logon", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                          f"Origin: {cls.origin}", "-H", "Kopano-Konnect-XSRF: 1", "--data-binary",
                          json.dumps({"state": "st", "params": [user, pw, "1"]}))

    @classmethod
    def traffic(cls):
        s = cls.s
        assert s.curl("/")[0] in (200, 302)
        assert s.curl("/healthz")[0] == 200
        assert s.curl("/no/such/page")[0] == 404
        assert cls.signin("anna", "wrong")[0] == 204  # konnect: no session, nothing specific
        status, h, _, _ = cls.signin("anna", "anna-secret")
        assert status == 200, status
        cookie = Palaverd.cookie(h, "__Secure-KKT")[0]
        # Code + PKCE as the Meet app does it, then the token endpoint.
        verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        meet, client = f"{cls.origin}/meet/", f"kpop-{cls.origin}/meet/"
        params = {"client_id": client, "redirect_uri": meet, "response_type": "code", "prompt": "none",
                  "scope": "openid profile kopano/kwm", "code_challenge": challenge, "code_challenge_method": "S256"}
        _, h, _, _ = s.curl(f"{API}/authorize?{urllib.parse.urlencode(params)}", "-b", f"__Secure-KKT={cookie}")
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h["location"]).query))["code"]
        status, _, body, _ = s.curl("/konnect/v1/token", "-X", "POST", "--data-binary", urllib.parse.urlencode(
            {"client_id": client, "grant_type": "authorization_code", "code": code, "redirect_uri": meet,
             "code_verifier": verifier}))
        assert status == 200, body
        token = json.loads(body)["access_token"]
        rtm = Rtm(s, token)
        try:
            seq = rtm.send(type="ping", ts=1)
            rtm.next(lambda m: m.get("reply_to") == seq or m.get("type") == "pong", "pong")
        finally:
            rtm.close()

    def test_promtool_finds_nothing_to_complain_about(self):
        if not self.promtool:
            self.fail("promtool is needed (Debian package prometheus): scripts/deps.sh test installs it")
        r = subprocess.run([self.promtool, "check", "metrics"], input=self.text, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")
        self.assertTrue(self.content_type.startswith("text/plain; version=0.0.4"), self.content_type)

    def test_every_family_is_named_palaver(self):
        families = re.findall(r"^# TYPE (\S+) ", self.text, re.M)
        self.assertGreater(len(families), 30)
        self.assertEqual([f for f in families if not f.startswith("palaver_")], [])
        self.assertEqual([f for f in families if f.startswith("palaver_palaver_")], [])
        self.assertEqual(len(families), len(set(families)), "a family is split or repeated")

    def test_build_info_names_version_and_commit(self):
        m = re.search(r'^palaver_build_info\{version="([^"]+)",commit="([^"]+)"\} 1$', self.text, re.M)
        self.assertIsNotNone(m, self.text)
        version = subprocess.run([self.s.binary, "--version"], capture_output=True, text=True).stdout.split()[1]
        self.assertEqual(m.group(1), version)
        commit = m.group(2)
        self.assertRegex(commit, r"^([0-9a-f]{7,40}|unknown)$")
        if commit != "unknown":  # a commit of this checkout, read when the build was configured
            r = subprocess.run(["git", "-C", SOURCE, "cat-file", "-e", commit + "^{commit}"], capture_output=True)
            self.assertEqual(r.returncode, 0, f"{commit} is not a commit of {SOURCE}")

    def test_process_metrics(self):
        s = samples(self.text)
        start = value(s, "palaver_process_start_time_seconds")
        self.assertIsNotNone(start)
        self.assertLess(abs(start - time.time()), 3600)  # started during this test run
        self.assertGreater(value(s, "palaver_process_resident_memory_bytes"), 1 << 20)
        fds = value(s, "palaver_process_open_fds")
        self.assertGreater(fds, 3)
        # Counted at the scrape; the idle server's descriptors now are nearly the same set.
        self.assertLess(abs(fds - len(os.listdir(f"/proc/{self.s.proc.pid}/fd"))), 20)
        self.assertGreaterEqual(value(s, "palaver_process_cpu_seconds_total"), 0)
        self.assertIn("# TYPE palaver_process_cpu_seconds_total counter", self.text)

    def test_latency_histograms_saw_the_traffic(self):
        s = samples(self.text)
        for name, labels in (("palaver_http_request_duration_seconds", {"route": "web"}),
                             ("palaver_http_request_duration_seconds", {"route": "signin"}),
                             ("palaver_http_request_duration_seconds", {"route": "oidc"}),
                             ("palaver_oidc_signin_duration_seconds", {}),
                             ("palaver_oidc_token_issue_duration_seconds", {}),
                             ("palaver_signaling_fanout_duration_seconds", {})):
            self.assertIn(f"# TYPE {name} histogram", self.text)
            count = value(s, name + "_count", **labels)
            self.assertIsNotNone(count, f"{name}{labels}")
            self.assertGreater(count, 0, f"{name}{labels}")
            self.assertEqual(value(s, name + "_bucket", **labels, le="+Inf"), count)
            self.assertGreater(value(s, name + "_sum", **labels), 0)
        self.assertEqual(value(s, "palaver_oidc_signin_duration_seconds_count"), 2)  # one wrong, one right

    def test_module_health_is_a_state_label(self):
        s = samples(self.text)
        for module in ("tls", "oidc", "signaling", "turn", "web", "directory"):
            states = {st: value(s, "palaver_module_health", module=module, state=st)
                      for st in ("ok", "degraded", "failed", "stopped")}
            self.assertEqual(states, {"ok": 1, "degraded": 0, "failed": 0, "stopped": 0}, module)
        self.assertNotRegex(self.text, r'palaver_module_health\{module="[^"]+"\} ')

    def test_sample_alert_rules_pass_promtool_and_name_real_metrics(self):
        if not self.promtool:
            self.fail("promtool is needed (Debian package prometheus): scripts/deps.sh test installs it")
        r = subprocess.run([self.promtool, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)
        with open(RULES) as f:
            rules = f.read()
        named = set(re.findall(r"\b(palaver_[a-z0-9_]+)", rules))
        self.assertGreater(len(named), 8)
        exposed = set(re.findall(r"(?m)^(palaver_[a-z0-9_]+)", self.text))
        # The LDAP gauge exists only with [directory] backend = ldap (integration.ldap covers it).
        self.assertEqual(sorted(named - exposed - {"palaver_directory_ldap_up"}), [],
                         "alert rules name metrics palaverd does not expose")
        for topic in ("palaver_tls_certificate_expiry_timestamp_seconds", "palaver_module_health",
                      "palaver_turn_relay_failures_total", "palaver_oidc_signins_total"):
            self.assertIn(topic, named)

    def test_the_docs_scrape_config_passes_promtool(self):
        if not self.promtool:
            self.fail("promtool is needed (Debian package prometheus): scripts/deps.sh test installs it")
        import tempfile
        found = 0
        for doc in ("operating.md", "operating.de.md"):
            with open(os.path.join(SOURCE, "docs", "admin", doc), encoding="utf-8") as f:
                text = f.read()
            for block in re.findall(r"^```yaml\n(scrape_configs:.*?)^```", text, re.S | re.M):
                found += 1
                with tempfile.TemporaryDirectory() as d:
                    token = os.path.join(d, "token")
                    with open(token, "w") as f:
                        f.write("0123456789abcdef0123\n")
                    cfg = os.path.join(d, "prometheus.yml")
                    with open(cfg, "w") as f:  # the token file the docs name, as a file of the test's own
                        f.write(re.sub(r"credentials_file: \S+", f"credentials_file: {token}", block))
                    r = subprocess.run([self.promtool, "check", "config", cfg], capture_output=True, text=True,
                                       timeout=60)
                    self.assertEqual(r.returncode, 0, f"{doc}: {r.stdout}{r.stderr}")
        self.assertEqual(found, 2)

    def test_existing_families_carry_the_prefix(self):
        for name in ("palaver_http_requests_total", "palaver_http_connections_open", "palaver_oidc_signins_total",
                     "palaver_signaling_messages_total", "palaver_turn_allocations",
                     "palaver_tls_certificate_expiry_timestamp_seconds"):
            self.assertRegex(self.text, rf"(?m)^{name}(\{{[^}}]*\}})? ")
        self.assertRegex(self.text, r'(?m)^palaver_oidc_signins_total\{result="failed"\} 1$')


class HealthForOutsiders(unittest.TestCase):
    """/healthz says to outsiders what docs/configuration.md and docs/admin/operating.md say: the
    overall status only (ok, degraded or failed; 503 when failed), no modules, no version. Here
    the certificate expires in 5 days, so the tls module is degraded."""

    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd(expect_start=False)
        d = cls.s.dir
        key, crt = os.path.join(d, "soon.key"), os.path.join(d, "soon.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "5", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=30)
        cls.token = "monitoring-token-0123456789"
        with open(os.path.join(d, "token"), "w") as f:
            f.write(cls.token + "\n")
        cls.s.sections["tls"] = {"certificate": crt, "key": key}
        cls.s.sections["palaver"].update({"metrics_allow": "192.0.2.0/24", "metrics_token_file": os.path.join(d, "token")})
        cls.s.write_config()
        try:
            cls.s.start()
        except BaseException:
            cls.s.close()
            raise
        cls.s.ca = crt

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_outsiders_get_the_overall_status_only(self):
        status, headers, body, _ = self.s.curl("/healthz")
        self.assertEqual(status, 200)  # degraded still serves
        self.assertEqual(json.loads(body), {"status": "degraded"})
        self.assertEqual(headers.get("cache-control"), "no-store")

    def test_monitoring_gets_modules_and_version(self):
        status, _, body, _ = self.s.curl("/healthz", "-H", f"Authorization: Bearer {self.token}")
        doc = json.loads(body)
        self.assertEqual((status, doc["status"]), (200, "degraded"))
        self.assertEqual(doc["modules"]["tls"]["status"], "degraded")
        self.assertIn("version", doc)
        status, _, body, _ = self.s.curl("/metrics", "-H", f"Authorization: Bearer {self.token}")
        s = samples(body.decode())
        self.assertEqual(value(s, "palaver_module_health", module="tls", state="degraded"), 1)
        self.assertEqual(value(s, "palaver_module_health", module="tls", state="ok"), 0)
        left = value(s, "palaver_tls_certificate_expiry_timestamp_seconds") - time.time()
        self.assertTrue(4 * 86400 < left < 6 * 86400, left)  # what PalaverCertificateExpiresSoon compares


if __name__ == "__main__":
    unittest.main()
