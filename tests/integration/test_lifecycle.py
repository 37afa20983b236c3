"""Start-up failures, reload (good and bad), graceful stop with open connections."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import PALAVERD_TESTBED, Palaverd, wait_until, write


class Operation(unittest.TestCase):
    """What an operator sees of a running palaverd (issue 15)."""

    def test_log_lines_have_rfc3339_times_and_configured_level_names(self):
        s = Palaverd()
        try:
            lines = s.stderr().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d "
                                       r"(trace|debug|info|warn|error|critical) \[[a-z_]+\] \[\d+\] ")
        finally:
            s.close()

    def test_banner_under_systemd_names_systemctl_not_ctrl_c(self):
        s = Palaverd(expect_start=False)
        s.env = {"JOURNAL_STREAM": "8:12345"}
        s.start()
        try:
            out = s.wait_stdout("Stop / reload:")
            self.assertIn("systemctl stop|reload palaver", out)
            self.assertNotIn("Ctrl-C", out)
        finally:
            s.close()
        t = Palaverd()
        try:
            self.assertIn("press Ctrl-C", t.wait_stdout("Stop:"))
        finally:
            t.close()

    def test_access_log_is_off_by_default_and_switchable_by_reload(self):
        s = Palaverd()
        try:
            s.curl("/healthz")
            self.assertNotIn("[access]", s.stderr())
            s.sections["palaver"]["access_log"] = "yes"
            s.write_config()
            self.assertIn("reload applied", s.reload())
            s.curl("/meet/r/call?code=SECRETCODE&state=x", http="--http2")
            s.curl("/nothing-here", http="--http1.1")
            deadline = time.time() + 5
            while s.stderr().count(" info [access] ") < 2 and time.time() < deadline:
                time.sleep(0.05)
            log = s.stderr()
            self.assertRegex(log, r" info \[access\] \[\d+\] addr=127\.0\.0\.1 method=GET path=/meet/r/call status=200 "
                                  r"bytes=\d+ ms=\d+\.\d proto=h2 route=web\n")
            self.assertRegex(log, r"addr=127\.0\.0\.1 method=GET path=/nothing-here status=404 bytes=\d+ ms=[\d.]+ proto=http/1\.1 ")
            self.assertNotIn("SECRETCODE", log)  # queries carry codes and states: never logged
        finally:
            s.close()

    def test_json_log_lines_and_switching_back_by_reload(self):
        import json
        s = Palaverd({"palaver": {"log_format": "json", "access_log": "yes"}}, expect_start=False)
        s.add_user("anna", "anna-secret")
        s.start()
        try:
            origin = f"https://localhost:{s.https_port}"
            s.curl("/signin/v1/identifier/_/logon", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                   f"Origin: {origin}", "-H", "Kopano-Konnect-XSRF: 1", "--data-binary",
                   json.dumps({"state": "st", "params": ["anna", "wrong", "1"]}))
            deadline = time.time() + 5
            while "sign-in failed" not in s.stderr() and time.time() < deadline:
                time.sleep(0.05)
            records = [json.loads(line) for line in s.stderr().splitlines()]  # every line is one object
            self.assertGreater(len(records), 5)
            for r in records:
                self.assertEqual(set(r), {"time", "level", "logger", "thread", "msg", "fields"}, r)
                self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
                self.assertIn(r["level"], ("trace", "debug", "info", "warn", "error", "critical"))
            failed = [r for r in records if r["msg"] == "sign-in failed"]
            self.assertEqual(len(failed), 1, records)
            self.assertEqual(failed[0]["logger"], "oidc")
            self.assertEqual(failed[0]["fields"], {"user": "anna", "addr": "127.0.0.1", "reason": "bad_credentials"})
            access = [r for r in records if r["logger"] == "access"]
            self.assertTrue(access)
            self.assertEqual(access[0]["fields"]["path"], "/signin/v1/identifier/_/logon")
            self.assertEqual(access[0]["fields"]["status"], "204")
            self.assertNotIn("wrong", s.stderr())  # the password is never logged, in either format
            # Back to text lines by a reload, without a restart.
            s.sections["palaver"]["log_format"] = "text"
            s.write_config()
            tail = s.reload()
            self.assertRegex(tail, r"\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info \[palaver\] \[\d+\] reload applied file=")
        finally:
            s.close()

    def test_runtime_file_is_removed_at_a_clean_stop(self):
        s = Palaverd()
        try:
            runtime = os.path.join(s.state, "runtime.json")
            self.assertTrue(os.path.exists(runtime))
            s.stop()
            self.assertFalse(os.path.exists(runtime), "runtime.json names a process that is gone")
        finally:
            s.close()


class StartupFailures(unittest.TestCase):
    def run_expecting_failure(self, sections, expected_code=1):
        s = Palaverd(sections, expect_start=False)
        try:
            code, out, err = s.run_once()
            self.assertEqual(code, expected_code, err)
            return s, err
        except Exception:
            s.close()
            raise

    def test_port_in_use(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        try:
            s, err = self.run_expecting_failure({"palaver": {"https_port": str(port)}})
            s.close()
            self.assertIn("cannot start", err)
            self.assertIn(f"127.0.0.1:{port}", err)
        finally:
            blocker.close()

    def test_state_dir_not_writable(self):
        s = Palaverd(expect_start=False)
        blocker = os.path.join(s.dir, "a-file")
        write(blocker, "x")
        s.sections["palaver"]["state_dir"] = os.path.join(blocker, "state")
        s.write_config()
        code, _, err = s.run_once()
        s.close()
        # Found by the start's config check (as --check-config finds it), before anything opens.
        self.assertEqual(code, 2, err)
        self.assertIn(f"[palaver] state_dir: {blocker} is not a directory", err)

    def test_unreadable_certificate(self):
        s, err = self.run_expecting_failure({"tls": {"certificate": "/nonexistent/chain.pem",
                                                     "key": "/nonexistent/key.pem"}}, expected_code=2)
        s.close()
        self.assertIn("[tls] certificate:", err)
        self.assertIn("/nonexistent/chain.pem", err)

    def test_web_root_missing(self):
        s, err = self.run_expecting_failure({"web": {"root": "/nonexistent/webui"}}, expected_code=2)
        s.close()
        self.assertIn("[web] root: /nonexistent/webui is not a directory", err)

    def test_corrupt_database_is_left_untouched(self):
        s = Palaverd(expect_start=False)
        db = os.path.join(s.state, "palaver.db")
        junk = b"SQLite format 3\x00" + os.urandom(3000)
        write(db, junk)
        code, _, err = s.run_once()
        after = open(db, "rb").read()
        s.close()
        self.assertEqual(code, 1)
        self.assertIn("left untouched", err)
        self.assertEqual(after, junk)

    def test_all_or_nothing_start_closes_nothing_open(self):
        # A failing module start (TURN's port taken by another process, which no config check can
        # know) must not leave listeners or a runtime file.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        try:
            s = Palaverd({"turn": {"listen": f"127.0.0.1:{blocker.getsockname()[1]}"}}, expect_start=False)
            code, _, err = s.run_once()
            self.assertEqual(code, 1, err)
            self.assertIn("module turn failed to start", err)
            self.assertFalse(os.path.exists(os.path.join(s.state, "runtime.json")))
            s.close()
        finally:
            blocker.close()


class Reload(unittest.TestCase):
    def setUp(self):
        self.s = Palaverd({"web": {"hsts": "max-age=100"}})

    def tearDown(self):
        self.s.close()

    def test_good_reload_applies_without_restart(self):
        _, h, _, _ = self.s.curl("/meet/")
        self.assertEqual(h["strict-transport-security"], "max-age=100")
        pid = self.s.proc.pid
        self.s.sections["web"]["hsts"] = "max-age=200"
        self.s.write_config()
        tail = self.s.reload()
        self.assertIn(f"info [palaver] [{self.s.proc.pid}] reload applied file={self.s.config_path}\n", tail)
        self.assertNotIn("restart", tail)
        _, h, _, _ = self.s.curl("/meet/")
        self.assertEqual(h["strict-transport-security"], "max-age=200")
        self.assertEqual(self.s.proc.pid, pid)
        self.assertIsNone(self.s.proc.poll())

    def test_only_changed_keys_that_need_a_restart_are_named(self):
        """Issue 15: SIGHUP used to say that [directory], [kvs] and [turn] need a restart on every
        reload. Now an unchanged file is simply applied, and a change is named key by key."""
        self.s.write_config()
        tail = self.s.reload()
        self.assertIn("reload applied", tail)
        self.assertNotIn("restart", tail)
        self.s.sections["palaver"]["workers"] = "3"
        self.s.sections["kvs"] = {"required_scopes": "kopano/kvs openid"}
        self.s.sections["web"]["hsts"] = "max-age=400"
        self.s.write_config()
        tail = self.s.reload()
        self.assertRegex(tail, r" warn \[palaver\] \[\d+\] reload partly applied file=\S+: restart needed for "
                               r"\[palaver\] workers; \[kvs\] required_scopes\n")
        _, h, _, _ = self.s.curl("/meet/")
        self.assertEqual(h["strict-transport-security"], "max-age=400")  # the rest applied
        # Still pending until a restart: said again on the next reload.
        tail = self.s.reload()
        self.assertIn("restart needed for [palaver] workers; [kvs] required_scopes", tail)

    def test_bad_reload_keeps_running_config(self):
        self.s.sections["web"]["hsts"] = "max-age=300"
        self.s.sections["web"]["typo"] = "1"
        self.s.write_config()
        tail = self.s.reload()
        self.assertIn("reload rejected", tail)
        self.assertIn(f"{self.s.config_path}:", tail)
        self.assertIn("typo: unknown key", tail)
        _, h, _, _ = self.s.curl("/meet/")
        self.assertEqual(h["strict-transport-security"], "max-age=100")
        # A syntactically broken file too.
        write(self.s.config_path, "[palaver\n")
        tail = self.s.reload()
        self.assertIn("reload rejected", tail)
        status, _, _, _ = self.s.curl("/meet/")
        self.assertEqual(status, 200)


class PartialReload(unittest.TestCase):
    """A reload in which one module fails: that module keeps its old configuration, the others
    and the host apply theirs, the log says which, and the next good reload applies everything."""

    def test_one_failing_module_keeps_its_config_and_the_rest_applies(self):
        s = Palaverd(binary=PALAVERD_TESTBED, expect_start=False)
        self.addCleanup(s.close)
        secret_file = os.path.join(s.dir, "turn-secret")
        write(secret_file, "s3cret-from-coturn\n", 0o600)
        s.sections["signaling"] = {"turn_uris": "turns:relay1.example.org:443", "turn_shared_secret_file": secret_file}
        s.write_config()
        s.add_user("anna", "pw")
        s.start()
        token = s.mint_token("anna openid kopano/kwm")

        def turn_uris():
            status, _, body, _ = s.curl("/api/kwm/v2/rtm/turn", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                                        "--data-binary", "")
            self.assertEqual(status, 200, body)
            return json.loads(body)["turn"]["uris"]

        def hsts():
            return s.curl("/meet/")[1].get("strict-transport-security")

        def web_level():
            return json.loads(s.curl("/admin/api/v1/log-levels")[2])["web"]

        self.assertEqual((turn_uris(), hsts(), web_level()), (["turns:relay1.example.org:443"], "max-age=31536000", "info"))
        # One reload: signaling gets new URIs but its secret file is gone (fails); web and the host
        # get valid changes.
        s.sections["signaling"].update(turn_uris="turns:relay2.example.org:443",
                                       turn_shared_secret_file=os.path.join(s.dir, "missing"))
        s.sections["web"]["hsts"] = "max-age=60"
        s.sections["palaver"]["log_levels"] = "web=debug"
        s.write_config()
        tail = s.reload()
        self.assertIn("reload of module signaling failed: cannot read", tail)
        self.assertRegex(tail, r"reload partly applied file=\S+: modules signaling kept their old configuration")
        self.assertNotIn("reload applied", tail)
        self.assertIsNone(s.proc.poll())
        self.assertEqual(turn_uris(), ["turns:relay1.example.org:443"])  # old config, still working
        self.assertEqual(hsts(), "max-age=60")
        self.assertEqual(web_level(), "debug")
        # Fixed: the next reload applies signaling too.
        s.sections["signaling"]["turn_shared_secret_file"] = secret_file
        s.write_config()
        self.assertIn("reload applied", s.reload())
        self.assertEqual(turn_uris(), ["turns:relay2.example.org:443"])


class GracefulStop(unittest.TestCase):
    def test_sigterm_lets_a_download_finish_and_exits_zero(self):
        # 24 MB at 6 MB/s: about 4 s, most of it after the SIGTERM and far more than loopback's
        # socket buffers hold (with 4 MB the whole file sat in the buffers before the SIGTERM, so
        # the test passed even when palaverd did not wait at all).
        site = os.path.join(Palaverd(expect_start=False).dir, "site")
        size = 24 * 1024 * 1024
        write(os.path.join(site, "meet", "index.html"), "index")
        with open(os.path.join(site, "meet", "big.bin"), "wb") as f:
            f.write(os.urandom(size))
        s = Palaverd(site=site)
        try:
            out = os.path.join(s.dir, "download")
            curl = subprocess.Popen(["curl", "-sS", "--cacert", s.ca, "--limit-rate", "6000K",
                                     "--resolve", f"localhost:{s.https_port}:127.0.0.1",
                                     "-o", out, "-w", "%{http_code}", s.url("/meet/big.bin")],
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            s.signal(signal.SIGTERM)
            time.sleep(0.3)
            # New connections are refused while draining.
            r = subprocess.run(["curl", "-sS", "--max-time", "3", "--cacert", s.ca,
                                "--resolve", f"localhost:{s.https_port}:127.0.0.1", s.url("/healthz")],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            code, _ = curl.communicate(timeout=30)
            self.assertEqual(code, "200")
            self.assertEqual(os.path.getsize(out), size)
            self.assertEqual(s.proc.wait(timeout=20), 0)
            self.assertIn("stopped", s.stderr())
        finally:
            s.close()

    @staticmethod
    def site_with_big_file(size):
        site = os.path.join(Palaverd(expect_start=False).dir, "site")
        write(os.path.join(site, "meet", "index.html"), "index")
        with open(os.path.join(site, "meet", "big.bin"), "wb") as f:
            f.write(os.urandom(size))
        return site

    def test_drain_deadline_ends_a_slow_download_and_exits_zero(self):
        # A download that would take minutes: SIGTERM waits drain_timeout (2 s) for it, no longer,
        # says so, and exits 0. (48 MB: far more than loopback's
        # socket buffers hold, or the server would be done writing at once.)
        size = 48 * 1024 * 1024
        s = Palaverd({"palaver": {"drain_timeout": "2s"}}, site=self.site_with_big_file(size))
        curl = None
        try:
            out = os.path.join(s.dir, "download")
            curl = subprocess.Popen(["curl", "-sS", "--cacert", s.ca, "--limit-rate", "100K",
                                     "--resolve", f"localhost:{s.https_port}:127.0.0.1",
                                     "-o", out, "-w", "%{http_code}", s.url("/meet/big.bin")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, what="the download started")
            start = time.time()
            s.signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=20), 0)
            took = time.time() - start
            self.assertGreater(took, 1.5, "palaverd did not wait for the download")
            self.assertLess(took, 8, "palaverd waited past drain_timeout")
            self.assertIn("drain deadline passed with requests in flight", s.stderr())
            # (curl still reads what the socket buffers hold at 100 KB/s: not waited for.)
        finally:
            if curl and curl.poll() is None:
                curl.kill()
                curl.wait()
            s.close()

    def test_client_hanging_up_mid_download_leaves_nothing_in_flight(self):
        # The client resets the connection after the first bytes of a 48 MB file (more than the
        # socket buffers hold, so the response is still being written). palaverd keeps
        # serving, releases what the response held, and a SIGTERM afterwards finds nothing in
        # flight (a leaked request would make it wait the whole drain_timeout of 10 s).
        size = 48 * 1024 * 1024
        s = Palaverd(site=self.site_with_big_file(size))
        try:
            for _ in range(3):
                conn = s.tls_socket()
                conn.settimeout(10)
                conn.sendall(b"GET /meet/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                got = b""
                while len(got) < 100 * 1024:
                    chunk = conn.recv(65536)
                    self.assertTrue(chunk, "closed before 100 KB")
                    got += chunk
                self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:100])
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()  # RST: hung up mid-download
            self.assertEqual(s.curl("/healthz")[0], 200)
            wait_until(lambda: s.curl("/metrics")[2].decode().count("\npalaver_http_response_body_bytes_held 0\n"),
                       what="response bytes released")
            start = time.time()
            s.signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=20), 0)
            self.assertLess(time.time() - start, 3)
            self.assertNotIn("drain deadline passed", s.stderr())
        finally:
            s.close()

    def test_sigterm_on_idle_server_is_quick(self):
        s = Palaverd()
        try:
            start = time.time()
            s.signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=10), 0)
            self.assertLess(time.time() - start, 3)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()


class SystemdNotify(unittest.TestCase):
    """Type=notify (debian/palaver.service): READY=1 once every listener is open, RELOADING=1 and
    READY=1 around a reload, STOPPING=1 at a stop, and WATCHDOG=1 pings from the net loop at half
    of WatchdogSec — to the socket systemd names in $NOTIFY_SOCKET."""

    def test_notifications_and_watchdog_pings(self):
        s = Palaverd(expect_start=False)
        sock_path = os.path.join(s.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(5)

        def messages(until, limit=50):
            got = []
            deadline = time.time() + 10
            while time.time() < deadline and len(got) < limit:
                got.append(sock.recv(4096).decode())
                if until(got[-1]):
                    return got
            raise AssertionError(f"no matching message in {got}")

        try:
            s.env = {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000"}
            started = time.time()
            s.start()
            first = messages(lambda m: m.startswith("READY=1"))
            self.assertEqual(len(first), 1, first)  # nothing before READY
            self.assertIn(f"STATUS=Serving https on port {s.https_port}", first[0])
            self.assertIn(f"MAINPID={s.proc.pid}", first[0])
            pings = 0
            while pings < 4:
                if messages(lambda m: True)[0] == "WATCHDOG=1":
                    pings += 1
            # Four pings at 200 ms intervals: not sooner than about 0.6 s.
            self.assertGreater(time.time() - started, 0.5)
            s.signal(signal.SIGHUP)
            got = messages(lambda m: m == "READY=1")
            self.assertIn("RELOADING=1", got)
            self.assertLess(got.index("RELOADING=1"), len(got) - 1)
            s.signal(signal.SIGTERM)
            messages(lambda m: m == "STOPPING=1")
            self.assertEqual(s.proc.wait(20), 0)
        finally:
            sock.close()
            s.close()

    def test_watchdog_for_another_pid_is_ignored(self):
        s = Palaverd(expect_start=False)
        sock_path = os.path.join(s.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(1.5)
        try:
            s.env = {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
            s.start()
            self.assertTrue(sock.recv(4096).decode().startswith("READY=1"))
            with self.assertRaises(socket.timeout):
                while True:
                    self.assertNotEqual(sock.recv(4096).decode(), "WATCHDOG=1")
        finally:
            sock.close()
            s.close()
