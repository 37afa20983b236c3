"""Nothing acknowledged is lost (issue 19): writers drive users (CLI), settings (admin API), kvs
records and refresh-token rotations against a real palaverd while it is SIGKILLed at random
moments, many times over; the OIDC signing key is rotated at starts (the algorithm changes).
After every kill the store passes `PRAGMA integrity_check` (opened read-only), palaverd starts
again without help, and every write that was answered with success is there.

Bounded: PALAVER_DURABILITY_ROUNDS rounds (25), each a start, at most ~1.5 s of writes and a
kill. The seed is printed; PALAVER_DURABILITY_SEED=<seed> replays the same kill schedule."""
import base64
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

from harness import PALAVERD_TESTBED, Browser, Palaverd

AUTHORIZE = "/signin/v1/identifier/_/authorize"
KV = "/api/kvs/v1/kv/user"
SETTING = "/admin/api/v1/settings/web.app_title"
ALGS = ("ES256", "RS256", "PS256")


class Conn:
    """One keep-alive HTTPS connection; request() returns (status, body) or None when the
    answer did not arrive (the server died): such a write is not acknowledged."""

    def __init__(self, server):
        self.server = server
        self.ctx = ssl.create_default_context(cafile=server.ca)
        self.c = None

    def request(self, method, path, body=None, headers=None):
        try:
            if self.c is None:
                self.c = http.client.HTTPSConnection("localhost", self.server.https_port, context=self.ctx, timeout=10)
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return None

    def close(self):
        if self.c is not None:
            self.c.close()
        self.c = None


def integrity(db):
    """`PRAGMA integrity_check` on a read-only connection (no recovery write by us)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


class OidcClient:
    """A trusted confidential client `app` and a signed-in browser (`self.s`, `self.browser`)."""

    def add_client(self):
        r = subprocess.run([self.s.binary, "client", "add", "app", "--redirect-uri", "https://app.example/cb",
                            "--trusted", "--secret", "--config", self.s.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.client_secret = re.search(r"client secret \(shown once\): (\S+)", r.stdout).group(1)
        self.s.register_secret(self.client_secret, "the OIDC client secret")
        self.browser = None

    def token_request(self, conn, form):
        auth = base64.b64encode(f"app:{self.client_secret}".encode()).decode()
        return conn.request("POST", "/konnect/v1/token", body=urllib.parse.urlencode(form),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Authorization": "Basic " + auth})

    def new_refresh_token(self):
        """A refresh token through the code flow (signing in once; the session survives kills)."""
        params = {"client_id": "app", "redirect_uri": "https://app.example/cb", "response_type": "code",
                  "scope": "openid offline_access", "state": "s"}
        target = AUTHORIZE + "?" + urllib.parse.urlencode(params)
        for _ in range(2):
            if self.browser is None:
                self.browser = Browser(self.s)
            status, h, _ = self.browser.get(target)
            self.assertEqual(status, 302)
            location = h["location"]
            if location.startswith("https://app.example/cb?"):
                code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
                answer = self.token_request(Conn(self.s), {"grant_type": "authorization_code", "code": code,
                                                           "redirect_uri": "https://app.example/cb"})
                self.assertIsNotNone(answer)
                self.assertEqual(answer[0], 200, answer[1])
                self.s.register_token_answer(answer[1])
                return json.loads(answer[1])["refresh_token"]
            status, _, page = self.browser.get(location)
            self.assertEqual(status, 200, page)
            field = lambda n: re.search(rf'name="{n}" value="([^"]*)"', page).group(1).replace("&amp;", "&")
            status, _, _ = self.browser.post("/signin/v1/identifier/_/form",
                                             form={"csrf": field("csrf"), "query": field("query"), "flow": field("flow"),
                                                   "action": "signin", "username": "anna", "password": "anna-secret"})
            self.assertEqual(status, 303)
        self.fail("no code after signing in")


class Durability(OidcClient, unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("PALAVER_DURABILITY_SEED") or random.randrange(1 << 32))
        self.rounds = int(os.environ.get("PALAVER_DURABILITY_ROUNDS", "25"))
        print(f"\ndurability: seed={self.seed} rounds={self.rounds} "
              f"(PALAVER_DURABILITY_SEED={self.seed} replays the kill schedule)", file=sys.stderr, flush=True)
        self.rng = random.Random(self.seed)
        # A fixed issuer: tokens name it, and the HTTPS port changes at every restart.
        self.s = Palaverd({"oidc": {"signing_alg": ALGS[0], "issuer": "https://localhost"}},
                          binary=PALAVERD_TESTBED, expect_start=False)
        self.s.add_user("anna", "anna-secret")
        self.add_client()
        self.s.start()
        # Acknowledged writes, cumulative over the rounds.
        self.kv = {}  # key -> value
        self.users = []
        self.setting_acked = None  # last value answered 200
        self.setting_unacked = set()  # values sent after it without an answer
        self.refresh = None  # the refresh token we hold
        self.refresh_sure = False  # it was answered and not sent again since
        self.tokens_by_alg = {}  # an access token minted under each signing key
        self.rotations = 0
        self.settings_written = 0

    def tearDown(self):
        self.s.close()

    # --- helpers ---------------------------------------------------------------------------

    # --- writers (threads; each stops at its first unanswered request) ---------------------

    def write_kvs(self, rnd, token, stop):
        conn = Conn(self.s)
        for i in range(400):
            if stop.is_set():
                break
            key = f"durability/r{rnd}/k{i}"
            value = json.dumps({"round": rnd, "i": i, "pad": "x" * self.rng_for(rnd, i)})
            answer = conn.request("PUT", f"{KV}/{key}", body=value,
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                           "Kopano-XSRF": "1"})
            if answer is None:
                break
            self.assertEqual(answer[0], 200, answer[1])
            self.kv[key] = value
        conn.close()

    @staticmethod
    def rng_for(rnd, i):
        return (rnd * 131 + i * 7) % 2000

    def write_settings(self, rnd, stop):
        conn = Conn(self.s)
        with open(os.path.join(self.s.state, "admin-cli-token")) as f:
            cli = f.read().strip()
        for i in range(200):
            if stop.is_set():
                break
            value = f"durability {rnd}.{i}"
            self.setting_unacked.add(value)
            answer = conn.request("PUT", SETTING, body=json.dumps({"value": value}),
                                  headers={"Authorization": f"Bearer {cli}", "Content-Type": "application/json"})
            if answer is None:
                break
            self.assertEqual(answer[0], 200, answer[1])
            self.setting_acked = value
            self.setting_unacked = set()
            self.settings_written += 1
        conn.close()

    def write_refresh(self, stop):
        conn = Conn(self.s)
        for _ in range(200):
            if stop.is_set():
                break
            self.refresh_sure = False  # sent: the server may have rotated it without our knowing
            answer = self.token_request(conn, {"grant_type": "refresh_token", "refresh_token": self.refresh})
            if answer is None:
                break
            self.assertEqual(answer[0], 200, answer[1])
            self.s.register_token_answer(answer[1])
            self.refresh = json.loads(answer[1])["refresh_token"]
            self.refresh_sure = True
            self.rotations += 1
        conn.close()

    def write_users(self, rnd, stop):
        for i in range(20):
            if stop.is_set():
                break
            name = f"u{rnd}x{i}"
            r = subprocess.run([self.s.binary, "user", "add", name, "--config", self.s.config_path],
                               input="pw\n", capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                self.users.append(name)

    # --- checks after a restart ------------------------------------------------------------

    def verify(self, rnd):
        conn = Conn(self.s)
        # kvs: every acknowledged record, by round prefix (<= 400 per listing).
        token = self.tokens_by_alg[ALGS[0]]
        for prefix in sorted({k.rsplit("/", 1)[0] for k in self.kv}):
            status, body = conn.request("GET", f"{KV}/{prefix}?recurse=1",
                                        headers={"Authorization": f"Bearer {token}", "Kopano-XSRF": "1"})
            self.assertEqual(status, 200, body)
            stored = {i["key"]: json.dumps(i["value"], separators=(", ", ": ")) for i in json.loads(body)}
            for key, value in self.kv.items():
                if key.startswith(prefix + "/"):
                    self.assertIn(key, stored, f"round {rnd}: acknowledged kvs write {key} lost (seed {self.seed})")
                    self.assertEqual(json.loads(stored[key]), json.loads(value))
        # The setting: the last acknowledged value, or one sent after it that had no answer.
        if self.setting_acked is not None or self.setting_unacked:
            with open(os.path.join(self.s.state, "admin-cli-token")) as f:
                cli = f.read().strip()
            status, body = conn.request("GET", SETTING, headers={"Authorization": f"Bearer {cli}"})
            self.assertEqual(status, 200, body)
            value = [x for x in json.loads(body)["settings"] if x["key"] == "web.app_title"][0]["value"]
            allowed = self.setting_unacked | ({self.setting_acked} if self.setting_acked else {""})
            self.assertIn(value, allowed, f"round {rnd}: acknowledged setting lost (seed {self.seed})")
        # Users added by the CLI (acknowledged by its exit status).
        listing = subprocess.run([self.s.binary, "user", "list", "--config", self.s.config_path],
                                 capture_output=True, text=True, timeout=60).stdout.split()
        for name in self.users:
            self.assertIn(name, listing, f"round {rnd}: user {name} lost (seed {self.seed})")
        # Tokens signed under every earlier signing key still verify (the keys survived).
        for alg, tok in self.tokens_by_alg.items():
            status, body = conn.request("GET", f"{KV}/durability?recurse=1",
                                        headers={"Authorization": f"Bearer {tok}", "Kopano-XSRF": "1"})
            self.assertEqual(status, 200, f"round {rnd}: a token signed with the {alg} key is refused: {body}")
        # The refresh token: the one last handed out works (it was stored before the answer).
        answer = self.token_request(conn, {"grant_type": "refresh_token", "refresh_token": self.refresh})
        self.assertIsNotNone(answer)
        if self.refresh_sure:
            self.assertEqual(answer[0], 200, f"round {rnd}: acknowledged refresh token lost (seed {self.seed}): "
                                             f"{answer[1]!r}")
        else:
            # A rotation was in flight at the kill: whether it committed is unknown to us.
            self.assertIn(answer[0], (200, 400), answer[1])
        if answer[0] == 200:
            self.s.register_token_answer(answer[1])
            self.refresh = json.loads(answer[1])["refresh_token"]
        else:
            self.refresh = self.new_refresh_token()
        self.refresh_sure = True
        conn.close()

    def kill_and_check(self, rnd, started_at):
        self.s.proc.send_signal(signal.SIGKILL)
        self.s.proc.wait(10)
        db = os.path.join(self.s.state, "palaver.db")
        self.assertEqual(integrity(db), ["ok"], f"round {rnd}: store damaged after kill -9 (seed {self.seed})")

    # --- the test --------------------------------------------------------------------------

    def test_acknowledged_writes_survive_kill_9(self):
        self.tokens_by_alg[ALGS[0]] = self.s.mint_token("anna openid kopano/kvs")
        self.refresh = self.new_refresh_token()
        self.refresh_sure = True
        kills_in_startup = 0
        written = 0
        begin = time.time()
        for rnd in range(1, self.rounds + 1):
            if rnd % 5 == 0:
                # Kill while it starts (migrations, key rotation, first writes), then start normally.
                alg = ALGS[(rnd // 5) % len(ALGS)]
                self.s.sections["oidc"]["signing_alg"] = alg
                self.s.write_config()
                out = open(os.path.join(self.s.dir, "startup-kill.log"), "ab")
                proc = subprocess.Popen([self.s.binary, "--config", self.s.config_path], stdout=out, stderr=out)
                time.sleep(self.rng.uniform(0.0, 0.4))
                proc.kill()
                proc.wait(10)
                out.close()
                kills_in_startup += 1
                self.assertEqual(integrity(os.path.join(self.s.state, "palaver.db")), ["ok"],
                                 f"round {rnd}: store damaged by a kill at start (seed {self.seed})")
            if self.s.proc.poll() is not None:
                self.s.start()  # without help: no lock file or half-written state to clean up
            if rnd % 5 == 0:
                self.tokens_by_alg[self.s.sections["oidc"]["signing_alg"]] = self.s.mint_token("anna openid kopano/kvs")
            self.verify(rnd)
            before = len(self.kv)
            stop = threading.Event()
            threads = [threading.Thread(target=self.write_kvs, args=(rnd, self.tokens_by_alg[ALGS[0]], stop)),
                       threading.Thread(target=self.write_settings, args=(rnd, stop)),
                       threading.Thread(target=self.write_refresh, args=(stop,)),
                       threading.Thread(target=self.write_users, args=(rnd, stop))]
            errors = []
            for t in threads:
                t.run = (lambda run: lambda: self._catch(run, errors))(t.run)
                t.start()
            time.sleep(self.rng.uniform(0.05, 1.5))
            self.kill_and_check(rnd, begin)
            stop.set()
            for t in threads:
                t.join(60)
            self.assertEqual(errors, [])
            written += len(self.kv) - before
        self.s.start()
        self.verify(self.rounds + 1)
        print(f"durability: {self.rounds} kills ({kills_in_startup} during start), {written} kvs records, "
              f"{len(self.users)} users, {self.settings_written} settings, {self.rotations} refresh rotations, "
              f"{len(self.tokens_by_alg)} signing keys, {time.time() - begin:.1f} s",
              file=sys.stderr, flush=True)
        # The writers did write.
        self.assertGreater(written, self.rounds)
        self.assertGreater(self.rotations, self.rounds)
        self.assertGreater(self.settings_written, self.rounds)

    @staticmethod
    def _catch(run, errors):
        try:
            run()
        except Exception as e:  # an assertion in a writer thread fails the test
            errors.append(repr(e))


class FullDisk(OidcClient, unittest.TestCase):
    """A full disk, as RLIMIT_FSIZE set on the running palaverd (`prlimit --pid`): every write
    past the limit fails with EFBIG (SIGXFSZ is ignored, so palaverd lives). Writes get a clear
    503 (JSON) and an error line in the log, reads go on, the store stays whole, and writes work
    again once the limit is lifted; nothing answered 200 before or after is lost."""

    def setUp(self):
        self.s = Palaverd({"oidc": {"issuer": "https://localhost"}}, binary=PALAVERD_TESTBED, expect_start=False)
        self.s.log_pipe = True  # the log is not a file palaverd writes (journald in production)
        self.s.add_user("anna", "anna-secret")
        self.add_client()
        self.s.start()
        self.token = self.s.mint_token("anna openid kopano/kvs")
        self.conn = Conn(self.s)
        with open(os.path.join(self.s.state, "admin-cli-token")) as f:
            self.cli = f.read().strip()

    def tearDown(self):
        self.conn.close()
        self.s.close()

    def put(self, key, value):
        return self.conn.request("PUT", f"{KV}/disk/{key}", body=json.dumps(value),
                                 headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                                          "Kopano-XSRF": "1"})

    def get(self, key):
        return self.conn.request("GET", f"{KV}/disk/{key}", headers={"Authorization": f"Bearer {self.token}",
                                                                     "Kopano-XSRF": "1"})

    def set_title(self, value):
        return self.conn.request("PUT", SETTING, body=json.dumps({"value": value}),
                                 headers={"Authorization": f"Bearer {self.cli}", "Content-Type": "application/json"})

    def fsize(self, limit):
        subprocess.run(["prlimit", f"--pid={self.s.proc.pid}", f"--fsize={limit}"], check=True, timeout=10)

    def test_a_full_disk_is_a_503_not_a_crash_and_service_resumes(self):
        if not shutil.which("prlimit"):
            self.fail("prlimit (util-linux) is needed")
        for i in range(20):
            self.assertEqual(self.put(f"before{i}", {"i": i})[0], 200)
        self.assertEqual(self.set_title("before")[0], 200)
        refresh = self.new_refresh_token()

        self.fsize("1:unlimited")  # the soft limit: no file may grow past one byte, every write fails
        refused = 0
        for i in range(30):
            answer = self.put(f"full{i}", {"i": i, "pad": "y" * 3000})
            self.assertIsNotNone(answer, "palaverd died on a full disk:\n" + self.s.stderr()[-3000:])
            status, body = answer
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body)["error"], "unavailable", body)
            self.assertIn("storage", json.loads(body)["error_description"])
            refused += 1
        status, body = self.set_title("during")
        self.assertEqual(status, 503, body)
        self.assertIn("storage", json.loads(body)["error_description"])
        # A refresh token cannot be rotated: 503, and the old one stays good.
        status, body = self.token_request(self.conn, {"grant_type": "refresh_token", "refresh_token": refresh})
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["error"], "temporarily_unavailable")
        # Signing in (a session record): refused plainly, not a 500.
        b = Browser(self.s)
        params = {"client_id": "app", "redirect_uri": "https://app.example/cb", "response_type": "code",
                  "scope": "openid", "state": "s"}
        status, h, _ = b.get(AUTHORIZE + "?" + urllib.parse.urlencode(params))
        status, _, page = b.get(h["location"])
        field = lambda n: re.search(rf'name="{n}" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        status, h, page = b.post("/signin/v1/identifier/_/form",
                                 form={"csrf": field("csrf"), "query": field("query"), "flow": field("flow"),
                                       "action": "signin", "username": "anna", "password": "anna-secret"})
        self.assertEqual(status, 503, page)
        # Reads go on; the server is alive and healthy enough to say so.
        self.assertEqual(self.get("before3")[0], 200)
        self.assertIsNone(self.s.proc.poll())
        self.assertEqual(integrity(os.path.join(self.s.state, "palaver.db")), ["ok"])
        log = self.s.stderr()
        self.assertRegex(log, r"error \[palaver\].*storage write failed")
        # One line per 10 s, not one per request.
        self.assertLess(log.count("storage write failed"), 5, log[-3000:])

        self.fsize("unlimited:unlimited")  # space is back (raising the soft limit needs no privilege)
        for i in range(20):
            self.assertEqual(self.put(f"after{i}", {"i": i})[0], 200)
        self.assertEqual(self.set_title("after")[0], 200)
        status, body = self.token_request(self.conn, {"grant_type": "refresh_token", "refresh_token": refresh})
        self.assertEqual(status, 200, body)
        self.s.register_token_answer(body)
        refresh = json.loads(body)["refresh_token"]
        # None of the refused writes happened; everything acknowledged is there, also after kill -9.
        self.s.proc.kill()
        self.s.proc.wait(10)
        self.assertEqual(integrity(os.path.join(self.s.state, "palaver.db")), ["ok"])
        self.s.start()
        self.conn.close()
        with open(os.path.join(self.s.state, "admin-cli-token")) as f:
            self.cli = f.read().strip()  # renewed at every start
        for i in range(20):
            self.assertEqual(self.get(f"before{i}")[0], 200)
            self.assertEqual(self.get(f"after{i}")[0], 200)
        for i in range(refused):
            self.assertEqual(self.get(f"full{i}")[0], 404)
        status, body = self.conn.request("GET", SETTING, headers={"Authorization": f"Bearer {self.cli}"})
        self.assertEqual(json.loads(body)["settings"][0]["value"], "after")
        status, body = self.token_request(self.conn, {"grant_type": "refresh_token", "refresh_token": refresh})
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
