"""Start-up failures, reload (good and bad), graceful stop with open connections."""
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import Palaverd, write


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
            self.assertIn("systemctl stop|reload palaver", s.stdout())
            self.assertNotIn("Ctrl-C", s.stdout())
        finally:
            s.close()
        t = Palaverd()
        try:
            self.assertIn("press Ctrl-C", t.stdout())
        finally:
            t.close()

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
        self.assertEqual(code, 1)
        self.assertIn("state dir", err)

    def test_unreadable_certificate(self):
        s, err = self.run_expecting_failure({"tls": {"certificate": "/nonexistent/chain.pem",
                                                     "key": "/nonexistent/key.pem"}})
        s.close()
        self.assertIn("/nonexistent/chain.pem", err)

    def test_web_root_missing(self):
        s, err = self.run_expecting_failure({"web": {"root": "/nonexistent/webui"}})
        s.close()
        self.assertIn("module web failed to start", err)

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
        # A failing module start (web root missing) must not leave listeners or a runtime file.
        s = Palaverd({"web": {"root": "/nonexistent/webui"}}, expect_start=False)
        code, _, _ = s.run_once()
        self.assertEqual(code, 1)
        self.assertFalse(os.path.exists(os.path.join(s.state, "runtime.json")))
        s.close()


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
        self.assertIn("configuration reloaded", tail)
        _, h, _, _ = self.s.curl("/meet/")
        self.assertEqual(h["strict-transport-security"], "max-age=200")
        self.assertEqual(self.s.proc.pid, pid)
        self.assertIsNone(self.s.proc.poll())

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


class GracefulStop(unittest.TestCase):
    def test_sigterm_lets_a_download_finish_and_exits_zero(self):
        site = os.path.join(Palaverd(expect_start=False).dir, "site")
        size = 4 * 1024 * 1024
        write(os.path.join(site, "meet", "index.html"), "index")
        with open(os.path.join(site, "meet", "big.bin"), "wb") as f:
            f.write(os.urandom(size))
        s = Palaverd(site=site)
        try:
            out = os.path.join(s.dir, "download")
            curl = subprocess.Popen(["curl", "-sS", "--cacert", s.ca, "--limit-rate", "1500K",
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
