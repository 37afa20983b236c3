"""Config file handling: --check-config, every key documented, every problem reported at once."""
import os
import re
import subprocess
import tempfile
import unittest

from harness import PALAVERD, SOURCE, Palaverd, write

EXAMPLE = os.path.join(SOURCE, "appliance", "palaver.cfg.example")


def example_keys():
    keys, section = set(), None
    for line in open(EXAMPLE):
        line = line.strip()
        m = re.match(r"^\[([a-z0-9_]+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^([a-z0-9_.]+)\s*=", line)
        if m and section:
            keys.add(f"{section}.{m.group(1)}")
    return keys


class ExampleConfig(unittest.TestCase):
    def test_every_accepted_key_is_documented_and_vice_versa(self):
        out = subprocess.run([PALAVERD, "--list-config-keys"], capture_output=True, text=True, check=True).stdout
        accepted = {k for k in out.split() if not k.endswith(".enabled")}
        documented = example_keys()
        self.assertGreater(len(accepted), 20)
        self.assertEqual(sorted(accepted - documented), [], "keys the parsers accept but the example lacks")
        self.assertEqual(sorted(documented - accepted), [], "keys in the example no parser accepts")

    def test_example_passes_check_config(self):
        # --syntax-only: the example names a web root of an installed package.
        r = subprocess.run([PALAVERD, "--check-config", EXAMPLE, "--syntax-only"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(": ok", r.stdout)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="palaver-cfg-")
        self.path = os.path.join(self.dir, "p.cfg")

    def check(self, text):
        write(self.path, text)
        return subprocess.run([PALAVERD, "--check-config", self.path], capture_output=True, text=True)

    def test_reports_every_problem_with_file_and_line(self):
        r = self.check("[palaver]\nhttps_port = 99999\ntypo_key = 1\n\n[nosuchmodule]\nx = 1\n"
                       "[web]\nroot = relative/path\n[tls]\ncertificate = /only/cert.pem\n")
        self.assertEqual(r.returncode, 2)
        err = r.stderr
        self.assertIn(f"{self.path}:2: [palaver] https_port: must be between 0 and 65535", err)
        self.assertIn(f"{self.path}:3: [palaver] typo_key: unknown key", err)
        self.assertIn(f"{self.path}:5: unknown section [nosuchmodule]", err)
        self.assertIn(f"{self.path}:8: [web] root: must be an absolute path", err)
        self.assertIn("[tls]", err)

    def test_syntax_errors(self):
        r = self.check("[palaver\nhostnames\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{self.path}:1: section header must end with ']'", r.stderr)
        self.assertIn(f"{self.path}:2: expected 'key = value'", r.stderr)

    def test_missing_and_binary_files(self):
        r = subprocess.run([PALAVERD, "--check-config", os.path.join(self.dir, "absent.cfg")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read config file", r.stderr)
        write(self.path, b"[palaver]\n\x00\x01\x02")
        r = subprocess.run([PALAVERD, "--check-config", self.path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a text file", r.stderr)

    def test_disabled_module_keys_are_still_checked(self):
        r = self.check("[web]\nenabled = no\nrooot = /x\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("[web] rooot: unknown key", r.stderr)

    def test_valid_minimal_file(self):
        r = self.check(f"[palaver]\nhostnames = meet.example.org\nstate_dir = {self.dir}/state\n"
                       f"[web]\nroot = {self.dir}\n")
        self.assertEqual(r.returncode, 0, r.stderr)


class CheckConfigAsStrictAsStart(unittest.TestCase):
    """Issue 15: `--check-config` checks what start checks (certificate and key files present,
    readable and matching; secret and token files and their lengths; port clashes), so that a
    file it calls ok does not fail at start for the config's sake; and start refuses what it
    refuses, with the same messages."""

    def setUp(self):
        self.s = Palaverd(expect_start=False)
        self.addCleanup(self.s.close)
        self.d = self.s.dir

    def cert(self, name, cn="localhost"):
        key, crt = os.path.join(self.d, name + ".key"), os.path.join(self.d, name + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={cn}",
                        "-addext", f"subjectAltName=DNS:{cn}"], check=True, capture_output=True, timeout=30)
        return crt, key

    def secret(self, name, text):
        path = os.path.join(self.d, name)
        write(path, text, 0o600)
        return path

    def check(self, sections):
        """--check-config of the test server's file with `sections` merged in."""
        for name, kv in sections.items():
            self.s.sections.setdefault(name, {}).update(kv)
        self.s.write_config()
        return subprocess.run([PALAVERD, "--check-config", self.s.config_path], capture_output=True, text=True,
                              timeout=30)

    def assert_refused(self, sections, *expected):
        check = self.check(sections)
        code, _, err = self.s.run_once()
        self.assertEqual(check.returncode, 2, check.stdout + check.stderr)
        for e in expected:
            self.assertIn(e, check.stderr)
            self.assertIn(e, err)  # start says the same
        self.assertEqual(code, 2, err)
        self.assertFalse(os.path.exists(os.path.join(self.s.state, "runtime.json")))
        return check.stderr

    def test_a_good_file_with_certificate_secrets_and_token_checks_ok_and_starts(self):
        crt, key = self.cert("server")
        token = self.secret("metrics-token", "0123456789abcdef0123\n")
        turn_secret = self.secret("turn-secret", "a-turn-secret-long-enough\n")
        users = self.secret("turn-users", "# name:password\nalice:wonder\n")
        check = self.check({
            "palaver": {"metrics_token_file": token},
            "tls": {"certificate": crt, "key": key},
            "turn": {"secret_file": turn_secret, "static_users_file": users}})
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn(": ok", check.stdout)
        self.s.start()  # and it really starts, serving that certificate
        self.s.ca = crt
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    def test_missing_certificate_file(self):
        crt, key = self.cert("server")
        err = self.assert_refused({"tls": {"certificate": os.path.join(self.d, "absent.crt"), "key": key}},
                                  "[tls] certificate:", "absent.crt")
        self.assertNotIn("[tls] key:", err)

    def test_key_that_does_not_match_the_certificate(self):
        crt, _ = self.cert("server")
        _, other_key = self.cert("other")
        self.assert_refused({"tls": {"certificate": crt, "key": other_key}}, "[tls] certificate:", "does not match")

    def test_key_file_that_is_a_directory(self):
        crt, _ = self.cert("server")
        self.assert_refused({"tls": {"certificate": crt, "key": self.d}}, "[tls] certificate:")

    def test_metrics_token_missing_or_short(self):
        self.assert_refused({"palaver": {"metrics_token_file": os.path.join(self.d, "absent")}},
                            "[palaver] metrics_token_file: cannot read metrics_token_file")
        short = self.secret("short-token", "tooshort\n")
        self.assert_refused({"palaver": {"metrics_token_file": short}},
                            "[palaver] metrics_token_file: metrics token in", "shorter than 16 characters")

    def test_turn_secret_and_static_users(self):
        self.assert_refused({"turn": {"secret_file": self.secret("s", "short\n")}},
                            "[turn] secret_file:", "shorter than 16 characters")
        del self.s.sections["turn"]["secret_file"]
        self.assert_refused({"turn": {"static_users_file": self.secret("u", "no-colon-here\n")}},
                            "[turn] static_users_file:", "line 1: expected name:password")

    def test_secret_files_others_may_read_warn_in_check_config_and_in_the_log(self):
        """Every file that holds a secret is named when users other than its owner and group may
        read it, by --check-config and in the log at start (before, only the LDAP bind password
        and the upstream client secret were, only by --check-config). Group-readable is fine."""
        files = {("palaver", "metrics_token_file"): self.secret("metrics-token", "0123456789abcdef0123\n"),
                 ("turn", "secret_file"): self.secret("turn-secret", "a-turn-secret-long-enough\n"),
                 ("turn", "static_users_file"): self.secret("turn-users", "alice:wonder\n"),
                 ("signaling", "turn_shared_secret_file"): self.secret("external-turn-secret", "external-secret\n")}
        sections = {}
        for (section, key), path in files.items():
            sections.setdefault(section, {})[key] = path
            os.chmod(path, 0o640)
        sections["signaling"]["turn_uris"] = "turn:turn.example.org:3478"
        check = self.check(sections)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertNotIn("warning", check.stderr)

        for path in files.values():
            os.chmod(path, 0o644)
        check = self.check({})
        self.assertEqual(check.returncode, 0, check.stderr)  # a warning, not a refusal
        for (section, key), path in files.items():
            self.assertRegex(check.stderr, r"\[%s\] %s: warning: %s is open to other users \(mode 0644\); "
                             r"run: chmod o-rwx %s\n" % (section, key, re.escape(path), re.escape(path)))
        self.s.start()
        log = self.s.stderr()
        for (section, key), path in files.items():
            self.assertRegex(log, r"(?m)^\S+ warn \[palaver\] \[\d+\] config \S+:\d+: \[%s\] %s: warning: %s is open "
                             r"to other users \(mode 0644\)" % (section, key, re.escape(path)))
        self.assertNotIn("external-secret", log)

    def test_external_turn_secret_missing_or_empty(self):
        base = {"turn_uris": "turn:turn.example.org:3478"}
        self.assert_refused({"signaling": {**base, "turn_shared_secret_file": os.path.join(self.d, "absent")}},
                            "[signaling] turn_shared_secret_file: cannot read")
        self.assert_refused({"signaling": {**base, "turn_shared_secret_file": self.secret("empty", "\n")}},
                            "[signaling] turn_shared_secret_file: empty TURN secret")

    def test_state_dir_and_web_root(self):
        blocker = self.secret("a-file", "x")
        self.assert_refused({"palaver": {"state_dir": os.path.join(blocker, "state")}},
                            f"[palaver] state_dir: {blocker} is not a directory")

    def test_web_root_and_meet_config(self):
        self.assert_refused({"web": {"root": os.path.join(self.d, "no-webui")}}, "[web] root:", "is not a directory")
        self.s.sections["web"].pop("root")
        self.assert_refused({"web": {"root": self.d, "meet_config_file": self.secret("meet.json", "[1, 2]")}},
                            "[web] meet_config_file:", "must hold a JSON object")

    def free_tcp_port(self):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def test_turn_listener_on_the_https_port(self):
        port = self.free_tcp_port()
        err = self.assert_refused({"palaver": {"https_port": str(port), "http_redirect": "no"},
                                   "turn": {"tls_listen": f"127.0.0.1:{port}"}},
                                  f"[turn] tls_listen: 127.0.0.1:{port} (TURN over TLS) takes port {port}",
                                  "https_fallback = yes shares it")
        self.assertNotIn("[turn] listen:", err)
        # TURN's TCP listener too; its UDP listener alone does not clash (another protocol).
        self.s.sections["turn"]["tls_listen"] = ""
        self.assert_refused({"turn": {"listen": f"0.0.0.0:{port}"}}, f"[turn] listen: 0.0.0.0:{port} (TCP) takes port")
        check = self.check({"turn": {"listen": f"127.0.0.1:{port}", "tcp": "no"}})
        self.assertEqual(check.returncode, 0, check.stderr)
        self.s.start()
        self.assertEqual(self.s.curl("/healthz")[0], 200)

    def test_turn_on_the_https_port_through_the_fallback_is_fine(self):
        port = self.free_tcp_port()
        check = self.check({"palaver": {"https_port": str(port), "http_redirect": "no"},
                            "turn": {"https_fallback": "yes"}})
        self.assertEqual(check.returncode, 0, check.stderr)
        self.s.start()
        self.assertEqual(self.s.https_port, port)

    def test_turn_tls_and_tcp_listeners_on_one_port(self):
        port = self.free_tcp_port()
        self.assert_refused({"turn": {"listen": f"127.0.0.1:{port}", "tls_listen": f"0.0.0.0:{port}"}},
                            f"[turn] tls_listen: 0.0.0.0:{port} takes the same TCP port as listen 127.0.0.1:{port}")

    def test_acme_without_a_public_name_or_with_a_missing_ca_file(self):
        acme = {"acme": "yes", "acme_agree_tos": "yes"}
        self.assert_refused({"tls": acme}, "[tls] acme: needs a public DNS name in [palaver] hostnames")
        self.assert_refused({"palaver": {"hostnames": "meet.example.test"},
                             "tls": {**acme, "acme_ca_file": os.path.join(self.d, "missing-ca.pem")}},
                            "[tls] acme_ca_file: cannot read " + os.path.join(self.d, "missing-ca.pem"))

    def test_syntax_only_skips_what_the_file_names(self):
        self.s.sections["web"]["root"] = os.path.join(self.d, "no-webui")
        self.s.write_config()
        r = subprocess.run([PALAVERD, "--check-config", self.s.config_path, "--syntax-only"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        r = subprocess.run([PALAVERD, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^palaverd \d+\.\d+\.\d+")
        r = subprocess.run([PALAVERD, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)
        for command in ("user", "client", "settings"):  # every module command is listed
            self.assertRegex(r.stdout, rf"(?m)^\s+palaverd {command} ")

    def test_command_help_exits_0_without_a_config(self):
        for command, expected in (("user", "palaverd user passwd NAME"), ("client", "palaverd client add"),
                                  ("settings", "palaverd settings set KEY VALUE")):
            for flag in ("--help", "-h", "help"):
                r = subprocess.run([PALAVERD, command, flag, "--config", "/nonexistent/palaver.cfg"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, (command, flag, r.stderr))
                self.assertIn(expected, r.stdout)
                self.assertEqual(r.stderr, "")
        r = subprocess.run([PALAVERD, "user", "frobnicate", "--config", "/nonexistent/palaver.cfg"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)  # a wrong command line is still an error

    def test_unknown_argument(self):
        r = subprocess.run([PALAVERD, "--frobnicate"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown argument", r.stderr)

    def test_invalid_config_at_start_exits_2(self):
        s = Palaverd({"palaver": {"bogus": "1"}}, expect_start=False)
        try:
            code, _, err = s.run_once()
            self.assertEqual(code, 2)
            self.assertIn("invalid configuration", err)
            self.assertIn("bogus: unknown key", err)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
