"""The Debian package, for real: built from this build dir with scripts/package.sh, checked with
lintian, installed into a fresh Debian 12 tree (mmdebstrap) booted with systemd-nspawn, where
palaver.service must run and answer /healthz and /meet/, rate "OK" in `systemd-analyze security`,
stay down with a clear journal message on a config error, keep users, keys and settings across an
upgrade from the previous build, and leave nothing behind after `apt purge`.

Needs root (mmdebstrap, systemd-nspawn), the tools of `scripts/deps.sh test`, Debian's archive
(the mirror configured on this machine) and a build dir configured with CMAKE_INSTALL_PREFIX=/usr
(as ./dev does). The Debian tree is cached as a tarball in <build>/package-cache/."""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SOURCE = os.environ.get("PALAVER_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("PALAVER_BUILD", os.path.join(SOURCE, "build"))
HOST = "palaver-test.example.test"
TOOLS = ("dpkg-buildpackage", "dh", "lintian", "mmdebstrap", "systemd-nspawn", "nsenter", "curl")
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def sh(cmd, timeout, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def why_not():
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root (mmdebstrap and systemd-nspawn)"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        return f"missing {', '.join(missing)} (scripts/deps.sh test installs them)"
    cache = os.path.join(BUILD, "CMakeCache.txt")
    prefix = None
    if os.path.exists(cache):
        with open(cache) as f:
            prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M)
    if not prefix or prefix.group(1) != "/usr":
        return (f"{BUILD} is configured with CMAKE_INSTALL_PREFIX={prefix.group(1) if prefix else '?'}; the package "
                "needs /usr (./dev configures it so)")
    return None


def mirror():
    """The Debian mirror this machine's apt uses (never stored in the tree)."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            text = f.read()
        for block in text.split("\n\n"):
            if re.search(r"^Suites:.*\bbookworm\b", block, re.M):
                m = re.search(r"^URIs:\s*(\S+)", block, re.M)
                if m:
                    return m.group(1)
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", f.read(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def depends(deb):
    """The first alternative of each Depends of the .deb, without versions."""
    text = sh(["dpkg-deb", "-f", deb, "Depends"], 30).stdout
    return sorted({part.split("|")[0].split("(")[0].strip() for part in text.split(",") if part.strip()})


def tree_files(root):
    skip = ("proc", "sys", "dev", "run", "tmp", "root", "var/log", "var/cache", "var/lib/dpkg", "var/lib/apt",
            "var/tmp", "var/lib/systemd/catalog", "etc/ld.so.cache")
    out = set()
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel != "." and any(rel == s or rel.startswith(s + "/") for s in skip):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.normpath(os.path.join(rel, name))
            if not any(path == s or path.startswith(s + "/") for s in skip):
                out.add(path)
    return out


class Container:
    """A Debian tree booted with systemd-nspawn (private network), reached with nsenter."""

    def __init__(self, root, logfile):
        self.root = root
        self.log = open(logfile, "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", root, "--private-network", "--register=no", "--keep-unit", "-b",
             "--console=passive", f"--hostname={HOST.split('.')[0]}", "--machine=palaver-test"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.leader = None
        deadline = time.time() + 60
        while time.time() < deadline and self.leader is None:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}:\n{open(logfile).read()[-3000:]}")
            kids = sh(["pgrep", "-P", str(self.proc.pid)], 10, check=False).stdout.split()
            self.leader = int(kids[0]) if kids else None
            time.sleep(0.1)
        state = ""
        while time.time() < deadline:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise AssertionError(f"container did not boot (state {state!r}):\n{open(logfile).read()[-3000:]}")

    def run(self, *cmd, timeout=120, check=True, input=None):
        return sh(["nsenter", "-t", str(self.leader), "-a", "--", *cmd], timeout, check=check, input=input)

    def curl(self, path):
        """(status, body) of https://HOST<path>, trusting the service's local CA."""
        ca = os.path.join(self.root, "var/lib/palaver/tls/ca.crt")
        r = sh(["nsenter", "-t", str(self.leader), "-n", "--", "curl", "-sS", "--max-time", "10", "--cacert", ca,
                "--resolve", f"{HOST}:443:127.0.0.1", "-o", "-", "-w", "\n%{http_code}", f"https://{HOST}{path}"],
               20, check=False)
        body, _, status = r.stdout.rpartition("\n")
        return int(status or 0), body

    def wait_active(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.run("systemctl", "is-active", "palaver.service", check=False).stdout.strip() == "active" and \
                    self.curl("/healthz")[0] == 200:
                return
            time.sleep(0.3)
        raise AssertionError("palaver.service not active and answering:\n" +
                             self.run("journalctl", "-u", "palaver", "--no-pager", "-n", "40", check=False).stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn powers the container off
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


@unittest.skipIf(why_not(), why_not())
class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="palaver-pkg-")
        cls.container = None
        try:
            cls._prepare()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _prepare(cls):
        log("building the package (scripts/package.sh)")
        r = sh([os.path.join(SOURCE, "scripts/package.sh"), BUILD], 400)
        cls.deb = r.stdout.strip().splitlines()[-1]
        cls.version = sh(["dpkg-deb", "-f", cls.deb, "Version"], 30).stdout.strip()
        log(f"{os.path.basename(cls.deb)}: {os.path.getsize(cls.deb) / 1e6:.1f} MB")
        # The previous build: the package of the last passing run in this build dir if there is one
        # (older code, a real upgrade), else this one; either with a lower version, so that
        # installing this build is an upgrade through the maintainer scripts. (Delete
        # <build>/package-cache/last-good.deb after switching to an older checkout.)
        cls.cache_dir = os.path.join(BUILD, "package-cache")
        last_good = os.path.join(cls.cache_dir, "last-good.deb")
        previous = last_good if os.path.exists(last_good) else cls.deb
        log(f"previous build: {'the last passing run' if previous == last_good else 'this build'}")
        unpacked = os.path.join(cls.tmp, "prev")
        sh(["dpkg-deb", "-R", previous, unpacked], 120)
        control = os.path.join(unpacked, "DEBIAN/control")
        with open(control) as f:
            text = f.read()
        with open(control, "w") as f:
            f.write(re.sub(r"^Version: .*$", f"Version: {cls.version}~prev1", text, flags=re.M))
        cls.prev_deb = os.path.join(cls.tmp, "palaver-prev.deb")
        sh(["dpkg-deb", "-Zgzip", "-b", unpacked, cls.prev_deb], 180)
        shutil.rmtree(unpacked)

        # A Debian 12 tree with systemd and the package's dependencies (not the package), cached.
        includes = ["systemd", "systemd-sysv", "dbus", "hostname", "ca-certificates"] + depends(cls.deb)
        url = mirror()
        key = hashlib.sha256(json.dumps([url, includes]).encode()).hexdigest()[:12]
        cache_dir = cls.cache_dir
        tarball = os.path.join(cache_dir, f"bookworm-{key}.tar")
        if not os.path.exists(tarball):
            log(f"mmdebstrap: {len(includes)} packages from the configured mirror")
            os.makedirs(cache_dir, exist_ok=True)
            for old in glob.glob(os.path.join(cache_dir, "bookworm-*.tar*")):
                shutil.rmtree(old) if os.path.isdir(old) else os.remove(old)
            sh(["mmdebstrap", "--variant=minbase", "--format=tar", "--include=" + ",".join(includes),
                "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                f"--customize-hook=echo {HOST.split('.')[0]} > \"$1/etc/hostname\"",
                f"--customize-hook=printf '127.0.0.1 localhost\\n127.0.1.1 {HOST} {HOST.split('.')[0]}\\n' > \"$1/etc/hosts\"",
                "--customize-hook=rm -f \"$1\"/etc/apt/sources.list \"$1\"/etc/apt/sources.list.d/*",
                "bookworm", tarball + ".part", url], 400)
            os.rename(tarball + ".part", tarball)
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        sh(["tar", "-C", cls.root, "-xf", tarball], 120)
        for deb in (cls.deb, cls.prev_deb):
            shutil.copy(deb, os.path.join(cls.root, "root"))
        log("booting the tree (systemd-nspawn)")
        cls.container = Container(cls.root, os.path.join(cls.tmp, "nspawn.log"))
        log("booted")
        # What the booted system has before the package (the boot itself writes a few files).
        cls.before = tree_files(cls.root)

    @classmethod
    def tearDownClass(cls):
        if cls.container:
            cls.container.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def in_box(self, *cmd, **kw):
        return self.container.run(*cmd, **kw)

    def read(self, path):
        with open(os.path.join(self.root, path)) as f:
            return f.read()

    def jwks_kids(self):
        status, body = self.container.curl("/konnect/v1/jwks.json")
        self.assertEqual(status, 200)
        return sorted(k["kid"] for k in json.loads(body)["keys"])

    def test_1_lintian(self):
        r = sh(["lintian", "--fail-on", "error,warning", "--info", self.deb], 300, check=False)
        log("lintian: " + (r.stdout.strip() or "clean"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^[EW]: ")

    def test_2_install_upgrade_config_error_purge(self):
        c = self.container
        # First installation (the previous build), with systemd running.
        r = self.in_box("dpkg", "-i", f"/root/{os.path.basename(self.prev_deb)}", timeout=180)
        out = r.stdout + r.stderr
        log("installed the previous build")
        self.assertIn(f"palaver: host name {HOST}", out)
        self.assertIn("its password is in /var/lib/palaver/admin-password (readable by root and the palaver service only)", out)
        c.wait_active()
        status, body = c.curl("/meet/")
        self.assertEqual(status, 200)
        self.assertIn("<script", body)
        st = os.stat(os.path.join(self.root, "var/lib/palaver/admin-password"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        palaver_uid = int(self.in_box("id", "-u", "palaver").stdout)
        self.assertNotEqual(palaver_uid, 0)
        self.assertEqual(st.st_uid, palaver_uid)
        self.assertEqual(os.stat(os.path.join(self.root, "var/lib/palaver")).st_mode & 0o777, 0o750)
        self.assertEqual(self.in_box("stat", "-c", "%U", "/proc/" + self.in_box(
            "systemctl", "show", "-P", "MainPID", "palaver").stdout.strip()).stdout.strip(), "palaver")

        # Hardening as systemd rates it.
        r = self.in_box("systemd-analyze", "security", "--no-pager", "palaver.service")
        m = re.search(r"Overall exposure level for palaver.service: ([\d.]+) (\S+)", r.stdout)
        self.assertTrue(m, r.stdout[-2000:])
        log(f"systemd-analyze security: {m.group(1)} {m.group(2)}")
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)

        # State to keep across the upgrade: a user, a setting, the signing keys, the CA, the password.
        self.in_box("palaverd", "user", "add", "anna", "--display-name", "Anna", input="anna-secret-1\n")
        self.in_box("palaverd", "settings", "set", "signaling.guests_enabled", "true")
        kids = self.jwks_kids()
        ca = self.read("var/lib/palaver/tls/ca.crt")
        password = self.read("var/lib/palaver/admin-password")
        pid_before = self.in_box("systemctl", "show", "-P", "MainPID", "palaver").stdout.strip()

        r = self.in_box("dpkg", "-i", f"/root/{os.path.basename(self.deb)}", timeout=180)
        log("upgraded to this build")
        self.assertNotIn("palaver: host name", r.stdout)  # first-install steps only once
        c.wait_active()
        self.assertNotEqual(self.in_box("systemctl", "show", "-P", "MainPID", "palaver").stdout.strip(), pid_before)
        self.assertIn(self.version, self.in_box("dpkg-query", "-W", "palaver").stdout)
        self.assertIn("anna", self.in_box("palaverd", "user", "list").stdout)
        self.assertEqual(self.in_box("palaverd", "settings", "get", "signaling.guests_enabled").stdout.strip(), "true")
        self.assertEqual(self.jwks_kids(), kids)
        self.assertEqual(self.read("var/lib/palaver/tls/ca.crt"), ca)
        self.assertEqual(self.read("var/lib/palaver/admin-password"), password)

        # This build says which palaver.cfg values the drop-ins hide.
        r = self.in_box("palaverd", "--check-config", "/etc/palaver/palaver.cfg")
        self.assertRegex(r.stderr, r"/etc/palaver/palaver.cfg.d/00-hostname.cfg:\d+: \[palaver\] hostnames "
                                   r"overrides /etc/palaver/palaver.cfg:\d+")

        # This build's unit: Type=notify with the watchdog (active means palaverd said READY=1).
        show = self.in_box("systemctl", "show", "-p", "Type", "-p", "WatchdogUSec", "-p", "NRestarts",
                           "palaver").stdout
        self.assertIn("Type=notify", show)
        self.assertIn("WatchdogUSec=30s", show)
        self.assertIn("NRestarts=0", show)
        self.assertIn("Serving https on port 443",
                      self.in_box("systemctl", "show", "-P", "StatusText", "palaver").stdout)
        self.assertIn("systemd watchdog on ping_interval_ms=15000",
                      self.in_box("journalctl", "-u", "palaver", "--no-pager").stdout)

        # A config error: the service stays down (no restart loop) and the journal says why.
        bad = os.path.join(self.root, "etc/palaver/palaver.cfg.d/99-bad.cfg")
        with open(bad, "w") as f:
            f.write("[palaver]\nhttps_port = 70000\n")
        self.in_box("systemctl", "restart", "palaver", check=False, timeout=60)
        time.sleep(3)  # past RestartSec: a restart loop would show as "activating"
        self.assertEqual(self.in_box("systemctl", "is-active", "palaver", check=False).stdout.strip(), "failed")
        journal = self.in_box("journalctl", "-u", "palaver", "--no-pager", "-n", "30").stdout
        self.assertIn("palaverd: invalid configuration:", journal)
        self.assertIn("/etc/palaver/palaver.cfg.d/99-bad.cfg:2: [palaver] https_port", journal)
        self.assertEqual(c.curl("/healthz")[0], 0)
        os.remove(bad)
        self.in_box("systemctl", "restart", "palaver", timeout=60)
        c.wait_active()
        log("config error kept the service down; fixed, it runs again")

        # Backup and restore on the installed system, as the docs say (root runs them; the restored
        # files must go to the service's user, or the service could not start again).
        self.in_box("palaverd", "backup", "/root/palaver.backup")
        self.assertEqual(os.stat(os.path.join(self.root, "root/palaver.backup")).st_mode & 0o777, 0o600)
        self.in_box("palaverd", "user", "remove", "anna")
        r = self.in_box("palaverd", "restore", "/root/palaver.backup", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Stop it first (systemctl stop palaver)", r.stderr)
        self.in_box("systemctl", "stop", "palaver", timeout=60)
        self.in_box("palaverd", "restore", "/root/palaver.backup")
        self.in_box("systemctl", "start", "palaver", timeout=60)
        c.wait_active()
        self.assertIn("anna", self.in_box("palaverd", "user", "list").stdout)
        self.assertEqual(self.jwks_kids(), kids)
        owners = self.in_box("find", "/var/lib/palaver", "!", "-user", "palaver").stdout.split()
        self.assertEqual(owners, [], "files not owned by palaver after a restore as root")
        os.remove(os.path.join(self.root, "root/palaver.backup"))
        log("backup and restore as root")

        # Remove keeps config and state (for a reinstallation); only purge deletes them.
        self.in_box("apt-get", "remove", "-y", "palaver", timeout=120)
        self.assertFalse(os.path.exists(os.path.join(self.root, "usr/sbin/palaverd")))
        self.assertEqual(c.curl("/healthz")[0], 0)
        for kept in ("var/lib/palaver/palaver.db", "var/lib/palaver/tls/ca.crt", "etc/palaver/palaver.cfg",
                     "etc/palaver/palaver.cfg.d/00-hostname.cfg"):
            self.assertTrue(os.path.exists(os.path.join(self.root, kept)), kept)
        log("removed (state kept)")

        # Purge: nothing of the package remains (the system user stays, as Debian keeps them).
        self.in_box("apt-get", "purge", "-y", "palaver", timeout=120)
        log("purged")
        self.assertNotEqual(self.in_box("dpkg-query", "-W", "-f=${Status}", "palaver", check=False).stdout,
                            "install ok installed")
        left = sorted(tree_files(self.root) - self.before - {"etc/passwd-", "etc/group-", "etc/shadow-",
                                                              "etc/gshadow-"})
        self.assertEqual(left, [], "left behind after purge")
        self.assertEqual(c.curl("/healthz")[0], 0)
        shutil.copy(self.deb, os.path.join(self.cache_dir, "last-good.deb"))


if __name__ == "__main__":
    unittest.main()
