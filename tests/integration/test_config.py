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
        r = subprocess.run([PALAVERD, "--check-config", EXAMPLE], capture_output=True, text=True)
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
        r = self.check("[palaver]\nhostnames = meet.example.org\n")
        self.assertEqual(r.returncode, 0, r.stderr)


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        r = subprocess.run([PALAVERD, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^palaverd \d+\.\d+\.\d+")
        r = subprocess.run([PALAVERD, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)

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
