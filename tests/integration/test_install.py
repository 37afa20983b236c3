"""`cmake --install` puts everything a start needs in place: the installed palaverd, started with
the installed config (changed only for ports, the state dir and the DESTDIR staging prefix),
answers /healthz and serves the Meet app and the admin console."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import Palaverd

BUILD = os.environ.get("PALAVER_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))


def set_keys(text, overrides):
    """`text` with `key = value` lines replaced per {(section, key): value}; every key must exist."""
    out, section, seen = [], None, set()
    for line in text.splitlines():
        m = re.match(r"\[(\w+)\]\s*$", line)
        if m:
            section = m.group(1)
        m = re.match(r"(\w+)\s*=", line)
        if m and (section, m.group(1)) in overrides:
            line = f"{m.group(1)} = {overrides[(section, m.group(1))]}"
            seen.add((section, m.group(1)))
        out.append(line)
    missing = set(overrides) - seen
    if missing:
        raise AssertionError(f"installed config lacks {missing}")
    return "\n".join(out) + "\n"


def key(text, section, name):
    current = None
    for line in text.splitlines():
        m = re.match(r"\[(\w+)\]\s*$", line)
        if m:
            current = m.group(1)
        m = re.match(r"(\w+)\s*=\s*(.*)$", line)
        if m and current == section and m.group(1) == name:
            return m.group(2).strip()
    return None


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="palaver-install-")
        r = subprocess.run(["cmake", "--install", BUILD, "--strip"], env={**os.environ, "DESTDIR": cls.dest},
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")
        cls.install_log = r.stdout
        found = [os.path.join(d, f) for d, _, files in os.walk(cls.dest) for f in files if f == "palaverd"]
        assert len(found) == 1, found
        cls.binary = found[0]
        # The default config path is compiled in; the installed file must be exactly there.
        help_text = subprocess.run([cls.binary, "--help"], capture_output=True, text=True, timeout=10).stdout
        cls.default_config = re.search(r"--config FILE\s+config file \(default (\S+)\)", help_text).group(1)
        cls.config = cls.dest + cls.default_config

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def test_fhs_layout_under_the_prefix(self):
        prefix = os.path.dirname(os.path.dirname(self.binary[len(self.dest):]))
        self.assertTrue(self.binary.endswith(prefix + "/sbin/palaverd"), self.binary)
        self.assertTrue(os.access(self.binary, os.X_OK))
        self.assertTrue(os.path.isfile(self.config), f"no config at the compiled-in default {self.default_config}")
        # Read by the unprivileged service user; it holds no secrets (those are in files it names).
        self.assertEqual(os.stat(self.config).st_mode & 0o777, 0o644)
        self.assertTrue(os.path.isfile(f"{self.dest}{prefix}/share/doc/palaver/palaver.cfg.example"))
        self.assertTrue(os.path.isfile(f"{self.dest}{prefix}/share/palaver/fail2ban/palaver-filter.conf"))
        self.assertTrue(os.path.isfile(f"{self.dest}{prefix}/share/palaver/prometheus/palaver-alerts.yml"))
        text = open(self.config).read()
        root = key(text, "web", "root")
        self.assertEqual(root, prefix + "/share/palaver/webui")
        self.assertTrue(os.path.isfile(self.dest + root + "/meet/index.html"))
        self.assertTrue(os.path.isfile(self.dest + root + "/meet/manifest.webmanifest") or
                        os.listdir(self.dest + root + "/meet/assets"))
        self.assertTrue(key(text, "palaver", "state_dir").endswith("/lib/palaver"))

    def test_a_second_install_keeps_an_edited_config(self):
        with open(self.config, "a") as f:
            f.write("# edited by the admin\n")
        r = subprocess.run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": self.dest},
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Keeping:", r.stdout)
        self.assertTrue(open(self.config).read().endswith("# edited by the admin\n"))

    def test_installed_server_starts_with_the_installed_config(self):
        text = open(self.config).read()
        # The installed file names the final paths (/usr/share/..., /var/lib/...), which exist only
        # under DESTDIR here: its syntax and values are checked, not the files it names.
        r = subprocess.run([self.binary, "--check-config", self.config, "--syntax-only"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = Palaverd(expect_start=False, binary=self.binary)
        try:
            root = key(text, "web", "root")
            s.config_path = os.path.join(s.dir, "palaver.cfg")
            with open(s.config_path, "w") as f:
                f.write(set_keys(text, {
                    ("palaver", "state_dir"): s.state, ("palaver", "listen"): "127.0.0.1",
                    ("palaver", "https_port"): "0", ("palaver", "http_port"): "0",
                    ("turn", "listen"): "127.0.0.1:0", ("turn", "tls_listen"): "127.0.0.1:0",
                    ("web", "root"): self.dest + root}))
            s.start()
            status, _, body, _ = s.curl("/healthz")
            self.assertEqual(status, 200, body)
            status, headers, body, _ = s.curl("/meet/")
            self.assertEqual(status, 200)
            self.assertIn("text/html", headers.get("content-type", ""))
            self.assertIn(b"<script", body)
            # The sign-in page and the admin console's assets are compiled into the binary.
            status, _, body, _ = s.curl("/admin/")
            self.assertIn(status, (200, 302, 303))
            self.assertTrue(os.path.isfile(os.path.join(s.state, "admin-password")))
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
