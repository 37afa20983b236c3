"""The directory module against the real binary: the initial admin, `palaverd user ...`."""
import json
import os
import stat
import subprocess
import unittest

from harness import Palaverd


class InitialAdmin(unittest.TestCase):
    def test_first_start_creates_admin_with_private_password_file(self):
        s = Palaverd()
        try:
            path = os.path.join(s.state, "admin-password")
            self.assertTrue(os.path.exists(path))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            password = open(path).read().strip()
            self.assertEqual(len(password), 24)
            log = s.stderr() + s.stdout()
            self.assertIn("created the initial administrator user=admin", log)
            self.assertNotIn(password, log)  # not a terminal: never printed, never logged
        finally:
            s.stop()
        # A second start keeps the account and the file.
        s.start()
        try:
            self.assertEqual(open(path).read().strip(), password)
            self.assertNotIn("created the initial administrator", s.stderr().split("listening")[-1])
        finally:
            s.close()


class AdminWhenOnlyPlainUsersExist(unittest.TestCase):
    """Users created with `palaverd user add` before the first start: the start still creates an
    administrator (issue 11, defect 6) and hands out its password as the first start does."""

    def test_plain_users_before_the_first_start_still_get_an_administrator(self):
        s = Palaverd(expect_start=False)
        try:
            s.add_user("anna", "anna-secret")
            s.add_user("admin", "not-an-admin")  # the usual name, taken by a plain user: never promoted
            s.start()
            path = os.path.join(s.state, "admin-password")
            self.assertTrue(os.path.exists(path), s.stderr())
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            password = open(path).read().strip()
            self.assertEqual(len(password), 24)
            log = s.stderr() + s.stdout()
            self.assertIn("created the initial administrator user=admin-2", log)
            self.assertIn("reason=no_administrator", log)
            self.assertNotIn(password, log)
            r = subprocess.run([s.binary, "user", "list", "--config", s.config_path], capture_output=True, text=True,
                               timeout=60)
            # `user list`: "%-24s %-28s %-32s %s" (name, display name, mail, flags).
            flags = {line[:24].strip(): line[87:].split() for line in r.stdout.splitlines()[1:]}
            self.assertEqual(flags, {"admin": [], "admin-2": ["admin"], "anna": []})
            # The password signs the new administrator in.
            origin = f"https://localhost:{s.https_port}"
            status, _, body, _ = s.curl("/signin/v1/identifier/_/logon", "-X", "POST", "-H",
                                        "Content-Type: application/json", "-H", "Kopano-Konnect-XSRF: 1", "-H",
                                        f"Origin: {origin}", "--data-binary",
                                        json.dumps({"state": "st", "params": ["admin-2", password, "1"]}))
            self.assertEqual(status, 200, body)
        finally:
            s.stop()
        # With an administrator in place, later starts create none.
        s.start()
        try:
            self.assertNotIn("created the initial administrator", s.stderr().split("listening")[-1])
        finally:
            s.close()


    def test_on_a_terminal_the_password_is_printed(self):
        import pty, select, signal, time
        s = Palaverd(expect_start=False)
        try:
            s.add_user("anna", "anna-secret")
            master, slave = pty.openpty()
            err = open(os.path.join(s.dir, "stderr.log"), "wb")
            proc = subprocess.Popen([s.binary, "--config", s.config_path], stdout=slave, stderr=err)
            os.close(slave)
            out, deadline = b"", time.time() + 30
            try:
                while b"Change it with" not in out and time.time() < deadline:
                    if select.select([master], [], [], 0.5)[0]:
                        try:
                            out += os.read(master, 4096)
                        except OSError:
                            break
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
                os.close(master)
            text = out.decode(errors="replace")
            self.assertIn("Created the administrator account 'admin' with the password:", text, s.stderr())
            password = open(os.path.join(s.state, "admin-password")).read().strip()
            self.assertIn(password, text)
        finally:
            s.close()


class UserCommand(unittest.TestCase):
    def setUp(self):
        self.s = Palaverd(expect_start=False)

    def tearDown(self):
        self.s.close()

    def user(self, *args, stdin=""):
        r = subprocess.run([self.s.binary, "user", *args, "--config", self.s.config_path],
                           input=stdin, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_add_list_passwd_disable_enable_remove(self):
        code, out, err = self.user("add", "alice", "--display-name", "Alice Adams", "--mail", "alice@example.org",
                                   stdin="first-secret\n")
        self.assertEqual(code, 0, err)
        self.assertIn("added user alice", out)
        code, out, _ = self.user("list")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"alice\s+Alice Adams\s+alice@example\.org")
        self.assertEqual(self.user("passwd", "alice", stdin="second-secret\n")[0], 0)
        self.assertEqual(self.user("disable", "alice")[0], 0)
        self.assertRegex(self.user("list")[1], r"alice .*disabled")
        self.assertEqual(self.user("enable", "alice")[0], 0)
        self.assertEqual(self.user("remove", "alice")[0], 0)
        self.assertNotIn("alice", self.user("list")[1])
        # The hash in the database is argon2id, the password itself is nowhere.
        db = open(os.path.join(self.s.state, "palaver.db"), "rb").read()
        self.assertNotIn(b"second-secret", db)

    def test_admin_flag_and_server_sees_cli_users(self):
        self.assertEqual(self.user("add", "root2", "--admin", stdin="pw\n")[0], 0)
        self.s.start()  # the server starts on the same database: no initial admin needed
        self.assertFalse(os.path.exists(os.path.join(self.s.state, "admin-password")))
        code, out, _ = self.user("list")  # while the server runs (WAL, busy timeout)
        self.assertEqual(code, 0)
        self.assertRegex(out, r"root2 .*admin")

    def test_bad_input_is_refused_clearly(self):
        self.assertEqual(self.user("add", "bob", stdin="pw\n")[0], 0)
        code, _, err = self.user("add", "BOB", stdin="pw\n")
        self.assertEqual(code, 1)
        self.assertIn("a user with this name exists", err)
        code, _, err = self.user("add", "bad name", stdin="pw\n")
        self.assertEqual(code, 1)
        self.assertIn("usernames are", err)
        code, _, err = self.user("add", "carol", stdin="")
        self.assertEqual(code, 1)
        self.assertIn("no password", err)
        code, _, err = self.user("add", "carol", stdin="\n")
        self.assertEqual(code, 1)
        self.assertIn("must not be empty", err)
        code, _, err = self.user("add", "carol", "--password", "x")
        self.assertEqual(code, 2)
        self.assertIn("passwords are read from standard input", err)
        self.assertEqual(self.user("passwd", "ghost", stdin="pw\n")[0], 1)
        self.assertEqual(self.user("remove", "ghost")[0], 1)
        self.assertEqual(self.user("frobnicate", "x")[0], 2)
        self.assertEqual(self.user()[0], 2)

    def test_unknown_command_and_bad_config(self):
        r = subprocess.run([self.s.binary, "nosuchcommand", "--config", self.s.config_path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command", r.stderr)
        self.s.sections.setdefault("directory", {})["backend"] = "ad"
        self.s.write_config()
        code, _, err = self.user("list")
        self.assertEqual(code, 2)
        self.assertIn("[directory] backend: must be one of local", err)


if __name__ == "__main__":
    unittest.main()
