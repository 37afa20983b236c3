"""The appliance image, for real: appliance/image/build.sh makes the qcow2 from this build's .deb
(the one test_package builds, reused while it is newer than what it packages), and QEMU (TCG,
UEFI with OVMF, -snapshot) boots it with user-mode networking restricted to two port forwards on
127.0.0.1 (free ports chosen now). Within 3 minutes of QEMU's start the serial console must show
the host name, the URL and the initial admin password (and /etc/issue's copy of them at the login
prompt), and through the forwards /healthz and /meet/ must answer over HTTPS with a certificate
for that host name, port 80 must redirect to HTTPS, and the admin must sign in with the password
from the console. The image is under 250 MB, and its tree names no build mirror, only Debian's
public hosts, has no SSH server, and has time sync and unattended security upgrades on.

Needs root (mmdebstrap), the tools of `scripts/deps.sh test` (its image group), Debian's archive
(the mirror configured on this machine) and a build dir configured with CMAKE_INSTALL_PREFIX=/usr
(as ./dev does). The package cache of mmdebstrap is kept in <build>/image-cache/."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import free_port
from test_package import BUILD, SOURCE, log, sh

TOOLS = ("dpkg-buildpackage", "dh", "mmdebstrap", "mkfs.fat", "mmd", "mcopy", "sfdisk", "mkfs.ext4", "qemu-img",
         "qemu-system-x86_64", "curl")
OVMF = "/usr/share/ovmf/OVMF.fd"
BOOT_LIMIT = 180  # seconds from QEMU's start to a working server (issue 18)
SIZE_LIMIT = 250 * 1000 * 1000


def why_not():
    if os.geteuid() != 0:
        return "needs root (mmdebstrap keeps file owners in root mode)"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if not os.path.exists(OVMF):
        missing.append(OVMF)
    if missing:
        return f"missing {', '.join(missing)} (scripts/deps.sh test installs them)"
    cache = os.path.join(BUILD, "CMakeCache.txt")
    prefix = None
    if os.path.exists(cache):
        with open(cache) as f:
            prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M)
    if not prefix or prefix.group(1) != "/usr":
        return f"{BUILD} is not configured with CMAKE_INSTALL_PREFIX=/usr (the package needs it; ./dev does it)"
    return None


def package():
    """This build's .deb: the one scripts/package.sh (or test_package) made last, while it is newer
    than palaverd, the Meet app and debian/; else a new one."""
    debs = glob.glob(os.path.join(BUILD, "package", "palaver_*.deb"))
    inputs = [os.environ.get("PALAVERD", os.path.join(BUILD, "appliance", "palaverd")),
              os.path.join(BUILD, "appliance", "palaver.cfg")]
    for top in (os.environ.get("PALAVER_WEBUI", os.path.join(BUILD, "webui")), os.path.join(SOURCE, "debian")):
        for d, _, files in os.walk(top):
            inputs += [os.path.join(d, f) for f in files]
    newest_input = max(os.path.getmtime(p) for p in inputs if os.path.exists(p))
    if len(debs) == 1 and os.path.getmtime(debs[0]) > newest_input:
        log(f"reusing {os.path.relpath(debs[0], BUILD)}")
        return debs[0]
    log("building the package (scripts/package.sh)")
    return sh([os.path.join(SOURCE, "scripts/package.sh"), BUILD], 400).stdout.strip().splitlines()[-1]


def port_taken(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def slurp(path):
    with open(path, errors="replace") as f:
        return f.read()


def plain(text):
    """Serial console text without terminal escapes and carriage returns."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", text)


@unittest.skipIf(why_not(), why_not())
class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="palaver-image-")
        cls.qemu = None
        try:
            cls._prepare()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _prepare(cls):
        reuse = os.environ.get("PALAVER_TEST_IMAGE_DIR")  # development: palaver.qcow2 + tree/ of an earlier build
        cls.image = os.path.join(reuse or cls.tmp, "palaver.qcow2")
        cls.tree = os.path.join(reuse or cls.tmp, "tree")
        t = time.time()
        if reuse:
            log(f"reusing the image in {reuse} (PALAVER_TEST_IMAGE_DIR)")
        else:
            deb = package()
            t = time.time()
            r = sh([os.path.join(SOURCE, "appliance/image/build.sh"), cls.image, "--deb", deb, "--keep-tree",
                    cls.tree, "--cache", os.path.join(BUILD, "image-cache")], 600)
            log(r.stderr.strip())
        cls.build_seconds = time.time() - t
        log(f"image built in {cls.build_seconds:.0f} s: {os.path.getsize(cls.image) / 1e6:.0f} MB")

        # Two forwards on loopback, to the guest's 443 and 80; refused when taken (a leaked QEMU
        # of an earlier run would answer instead of this one).
        cls.https_port, cls.http_port = free_port(), free_port()
        for port in (cls.https_port, cls.http_port):
            if port_taken(port):
                raise AssertionError(f"127.0.0.1:{port} is taken; not starting QEMU")
        # The serial port: everything it prints in serial.log; typed into through a socket.
        cls.serial = os.path.join(cls.tmp, "serial.log")
        cls.serial_socket = os.path.join(cls.tmp, "serial.sock")
        cls.serial_conn = None
        cls.qemu_log = open(os.path.join(cls.tmp, "qemu.log"), "wb")
        cls.t_boot = time.time()
        cls.qemu = subprocess.Popen(
            ["qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", "1024", "-nographic", "-monitor", "none",
             "-chardev", f"socket,id=ser0,path={cls.serial_socket},server=on,wait=off,logfile={cls.serial}",
             "-serial", "chardev:ser0", "-bios", OVMF, "-snapshot",
             "-drive", f"file={cls.image},if=virtio,format=qcow2",
             "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{cls.https_port}-:443,"
                        f"hostfwd=tcp:127.0.0.1:{cls.http_port}-:80",
             "-device", "virtio-net-pci,netdev=n0"],
            stdin=subprocess.DEVNULL, stdout=cls.qemu_log, stderr=subprocess.STDOUT, start_new_session=True)
        log(f"QEMU {cls.qemu.pid} booting (forwards 127.0.0.1:{cls.https_port} -> 443, :{cls.http_port} -> 80)")
        for _ in range(100):
            try:
                cls.serial_conn = socket.socket(socket.AF_UNIX)
                cls.serial_conn.connect(cls.serial_socket)
                break
            except OSError:
                cls.serial_conn.close()
                cls.serial_conn = None
                time.sleep(0.1)
        if cls.serial_conn is None:
            raise AssertionError("QEMU's serial socket did not open:\n" + slurp(os.path.join(cls.tmp, "qemu.log")))

        def drain(conn):  # the log file has it all; a full socket would stall the guest's console
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
        threading.Thread(target=drain, args=(cls.serial_conn,), daemon=True).start()

        # The console block of palaver-appliance-console.service, then a login prompt (with
        # /etc/issue.d/palaver.issue printed before it).
        cls.console = cls.wait_serial(r"(?s)\n(\S+) login:", "a login prompt")
        m = re.search(r"Meet: +https://([A-Za-z0-9.-]+)/meet/", cls.console)
        if not m:
            raise AssertionError("no Meet URL on the console:\n" + cls.console[-3000:])
        cls.host = m.group(1)
        pw = re.search(r"Admin password: +(\S+)", cls.console)
        cls.admin_password = pw.group(1) if pw else None
        # The server answers over the forward.
        deadline = cls.t_boot + BOOT_LIMIT
        status = None
        while time.time() < deadline:
            status = cls.get("/healthz", check=False)[0]
            if status == 200:
                break
            time.sleep(1)
        cls.boot_seconds = time.time() - cls.t_boot
        if status != 200:
            raise AssertionError(f"/healthz: {status} after {BOOT_LIMIT} s\n" + plain(slurp(cls.serial))[-3000:])
        log(f"host {cls.host}: /healthz answered {cls.boot_seconds:.0f} s after QEMU's start")

    @classmethod
    def serial_text(cls):
        return plain(slurp(cls.serial)) if os.path.exists(cls.serial) else ""

    @classmethod
    def type_and_wait(cls, keys, pattern, what, timeout=60):
        """Types keys on the serial console and waits for pattern in what it prints after them."""
        start = len(cls.serial_text())
        cls.serial_conn.sendall(keys.encode())
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = cls.serial_text()[start:]
            m = re.search(pattern, text)
            if m:
                return m, text
            time.sleep(0.5)
        raise AssertionError(f"no {what} on the serial console within {timeout} s:\n" + text[-2000:])

    @classmethod
    def wait_serial(cls, pattern, what):
        deadline = cls.t_boot + BOOT_LIMIT
        while time.time() < deadline:
            if cls.qemu.poll() is not None:
                raise AssertionError(f"QEMU exited {cls.qemu.returncode}:\n" +
                                     slurp(os.path.join(cls.tmp, "qemu.log"))[-2000:])
            text = plain(slurp(cls.serial)) if os.path.exists(cls.serial) else ""
            if re.search(pattern, text):
                return text
            time.sleep(1)
        raise AssertionError(f"no {what} on the serial console within {BOOT_LIMIT} s:\n" + text[-3000:])

    @classmethod
    def tearDownClass(cls):
        if cls.qemu and cls.qemu.poll() is None:
            os.killpg(cls.qemu.pid, signal.SIGTERM)
            try:
                cls.qemu.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(cls.qemu.pid, signal.SIGKILL)
                cls.qemu.wait(10)
        if cls.qemu:
            cls.qemu_log.close()
        if getattr(cls, "serial_conn", None):
            cls.serial_conn.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def https(cls):
        """A TLS connection to the guest's 443 with the appliance's host name (SNI); the local CA
        lives inside the VM, so the chain is checked by hand (test_certificate)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", cls.https_port), timeout=20),
                               server_hostname=cls.host)

    @classmethod
    def get(cls, path, method="GET", body=None, headers=None, check=True):
        import http.client
        conn = http.client.HTTPSConnection(cls.host, cls.https_port, timeout=20)
        try:
            conn.sock = cls.https()
            hdrs = {"Host": f"{cls.host}:{cls.https_port}"}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            headers = {}
            for k, v in resp.getheaders():
                headers[k.lower()] = headers[k.lower()] + "\n" + v if k.lower() in headers else v
            return resp.status, headers, resp.read().decode("utf-8", "replace")
        except OSError:
            if check:
                raise
            return 0, {}, ""
        finally:
            conn.close()

    def logon(self, password):
        origin = f"https://{self.host}:{self.https_port}"
        return self.get("/signin/v1/identifier/_/logon", "POST",
                        json.dumps({"state": "st", "params": ["admin", password, "1"]}),
                        {"Content-Type": "application/json", "Kopano-Konnect-XSRF": "1", "Origin": origin})

    def test_boot_console_and_issue(self):
        self.assertLess(self.boot_seconds, BOOT_LIMIT)
        self.assertRegex(self.host, r"^palaver-[0-9a-f]{6}$", "the first boot's unique host name")
        self.assertRegex(self.admin_password or "", r"^[A-Za-z0-9_-]{20,}$", self.console[-3000:])
        self.assertIn(f"Admin console:  https://{self.host}/admin/", self.console)
        self.assertRegex(self.console, r"Root password: +[A-Za-z0-9]{16} +\(initial; to be changed at the first login\)")
        # /etc/issue(.d): what agetty prints between its banner and the login prompt.
        m = re.search(rf"Debian GNU/Linux 12 {re.escape(self.host)} ttyS0\n(.*?)\n{re.escape(self.host)} login:",
                      self.console, re.S)
        self.assertTrue(m, "no /etc/issue before the serial login prompt:\n" + self.console[-3000:])
        issue = m.group(1)
        self.assertIn(f"Meet:           https://{self.host}/meet/", issue)
        self.assertIn(f"Admin password: {self.admin_password}", issue)
        self.assertIn("Addresses:      10.0.2.15", issue)  # QEMU's user network, by DHCP

    def test_meet_healthz_and_redirect(self):
        status, _, body = self.get("/meet/")
        self.assertEqual(status, 200)
        self.assertIn("<script", body)
        status, _, body = self.get("/healthz")
        self.assertEqual(status, 200, body)
        # Port 80 (the packaged unit's CAP_NET_BIND_SERVICE) redirects to HTTPS on the host name.
        r = sh(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                "-H", f"Host: {self.host}", f"http://127.0.0.1:{self.http_port}/meet/"], 30)
        code, _, location = r.stdout.partition(" ")
        self.assertIn(code, ("301", "308"), r.stdout)
        self.assertEqual(location, f"https://{self.host}/meet/")

    def test_certificate(self):
        """A fresh certificate from the VM's own local CA, for the first boot's host name."""
        with self.https() as s:
            der = s.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der)
        text = sh(["openssl", "x509", "-noout", "-text"], 30, input=pem).stdout \
            if shutil.which("openssl") else ""
        if not text:
            self.skipTest("openssl is needed to read the certificate")
        self.assertIn(f"DNS:{self.host}", text)
        self.assertIn(f"Palaver local CA ({self.host})", text)

    def test_admin_signs_in_with_the_console_password(self):
        status, headers, body = self.logon(self.admin_password)
        self.assertEqual(status, 200, body)
        hello = json.loads(body)
        self.assertTrue(hello["success"])
        self.assertEqual(hello["hello"]["username"], "admin")
        self.assertIn("__Secure-KKT=", headers.get("set-cookie", ""))
        status, _, body = self.logon(self.admin_password + "x")
        self.assertNotEqual(status, 200, body)

    def test_image_size_and_tree(self):
        size = os.path.getsize(self.image)
        log(f"image: {size / 1e6:.0f} MB; built in {self.build_seconds:.0f} s, booted in {self.boot_seconds:.0f} s")
        self.assertLess(size, SIZE_LIMIT)
        t = self.tree

        def read(path):
            with open(os.path.join(t, path)) as f:
                return f.read()

        # apt: Debian's public hosts only; no lists, no sources.list; no host of this machine's mirrors.
        self.assertEqual(sorted(os.listdir(os.path.join(t, "etc/apt/sources.list.d"))), ["debian.sources"])
        self.assertFalse(os.path.exists(os.path.join(t, "etc/apt/sources.list")))
        uris = re.findall(r"^URIs: (\S+)", read("etc/apt/sources.list.d/debian.sources"), re.M)
        self.assertEqual(uris, ["http://deb.debian.org/debian", "http://security.debian.org/debian-security"])
        lists = os.path.join(t, "var/lib/apt/lists")
        self.assertEqual([f for f in os.listdir(lists) if f not in ("lock", "partial", "auxfiles")]
                         if os.path.isdir(lists) else [], [])
        hosts = set()
        for path in glob.glob("/etc/apt/sources.list.d/*.sources") + glob.glob("/etc/apt/sources.list"):
            with open(path) as f:
                for uri in re.findall(r"(?:^URIs:|^deb(?:\s+\[[^]]*\])?)\s+(\S+)", f.read(), re.M):
                    hosts.add(urllib.parse.urlparse(uri).hostname)
        hosts -= {None, "deb.debian.org", "security.debian.org"}
        for host in hosts:
            r = subprocess.run(["grep", "-rlsF", host, t], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.stdout, "", f"a build mirror's host name in the image")
        # No state from the build: each VM makes its own machine id, keys, CA and passwords.
        self.assertEqual(read("etc/machine-id"), "")
        state = os.path.join(t, "var/lib/palaver")
        self.assertEqual(os.listdir(state) if os.path.isdir(state) else [], [])
        self.assertFalse(os.path.exists(os.path.join(t, "etc/palaver/palaver.cfg.d/00-hostname.cfg")))
        self.assertFalse(os.path.exists(os.path.join(t, "var/lib/palaver-appliance")))
        self.assertEqual(glob.glob(os.path.join(t, "etc/ssh/ssh_host_*")), [])
        # SSH is not installed (build.sh --ssh adds it); time sync and security upgrades are on.
        self.assertFalse(os.path.exists(os.path.join(t, "usr/sbin/sshd")))
        self.assertTrue(os.path.islink(os.path.join(
            t, "etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service")))
        auto = read("etc/apt/apt.conf.d/20auto-upgrades")
        self.assertIn('APT::Periodic::Unattended-Upgrade "1";', auto)
        self.assertIn('"origin=Debian,codename=${distro_codename},label=Debian-Security";',
                      read("etc/apt/apt.conf.d/50unattended-upgrades"))
        dpkg_cfg = read("etc/dpkg/dpkg.cfg.d/99mmdebstrap")
        self.assertIn("path-exclude=/usr/share/doc/*", dpkg_cfg)
        self.assertNotIn("unsafe-io", dpkg_cfg)
        # Docs, man pages and translations are left out (dpkg path-excludes).
        self.assertEqual(glob.glob(os.path.join(t, "usr/share/man/man1/*")), [])
        self.assertFalse(os.path.exists(os.path.join(t, "usr/share/locale/de/LC_MESSAGES")))
        docs = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(t, "usr/share/doc")) for f in files
                if f != "copyright"]
        self.assertEqual(docs, [])

    def test_root_console_login(self):
        """The initial root password from the console logs in on the serial console and must be
        changed at once; inside: time sync on, security upgrades on, no SSH server, the passwords
        in no log, and the console stops showing the root password."""
        root_pw = re.search(r"Root password: +(\S+)", self.console).group(1)
        self.type_and_wait("root\r", r"Password:", "password prompt")
        m, _ = self.type_and_wait(root_pw + "\r", r"(Current password:|New password:)", "forced password change",
                                  timeout=90)
        if m.group(1) == "Current password:":
            self.type_and_wait(root_pw + "\r", r"New password:", "new password prompt")
        new_pw = "Pv7-" + os.urandom(9).hex()
        self.type_and_wait(new_pw + "\r", r"Retype new password:", "retype prompt")
        self.type_and_wait(new_pw + "\r", rf"root@{re.escape(self.host)}:~# ", "root shell", timeout=90)
        script = ("echo BEGIN-$((6*7)); hostname; systemctl is-active palaver systemd-timesyncd systemd-networkd; "
                  "systemctl is-enabled unattended-upgrades apt-daily-upgrade.timer; "
                  "apt-config dump APT::Periodic::Unattended-Upgrade; "
                  "test -e /usr/sbin/sshd && echo sshd-installed || echo no-sshd; "
                  f"journalctl -b --no-pager | grep -cF -e '{self.admin_password}' -e '{root_pw}'; "
                  "test -e /var/lib/palaver-appliance/root-password && echo root-password-kept || echo root-password-gone; "
                  "grep -c 'Root password' /etc/issue.d/palaver.issue; "
                  "stat -c '%a %U' /etc/issue.d/palaver.issue; echo END-$((6*7))\r")
        m, _ = self.type_and_wait(script, r"(?s)BEGIN-42\n(.*?)END-42", "command output", timeout=90)
        out = m.group(1).split("\n")
        log("in the VM: " + " | ".join(line for line in out if line))
        self.assertEqual(out[0], self.host)
        self.assertEqual(out[1:4], ["active", "active", "active"])
        self.assertEqual(out[4:6], ["enabled", "enabled"])
        self.assertEqual(out[6], 'APT::Periodic::Unattended-Upgrade "1";')
        self.assertEqual(out[7], "no-sshd")
        self.assertEqual(out[8], "0", "a password in the journal")
        self.assertEqual(out[9], "root-password-gone")
        self.assertEqual(out[10], "0")
        self.assertEqual(out[11], "600 root")

    def test_scripts_pass_shellcheck(self):
        if not shutil.which("shellcheck"):
            self.fail("shellcheck is needed: scripts/deps.sh test installs it")
        image = os.path.join(SOURCE, "appliance/image")
        r = sh(["shellcheck", os.path.join(image, "build.sh"), os.path.join(image, "customize.sh")], 60, check=False)
        self.assertEqual(r.returncode, 0, r.stdout)
        r = sh(["shellcheck", "-s", "sh"] + glob.glob(os.path.join(image, "files/usr/lib/palaver-appliance/*")) +
               [os.path.join(image, "files/etc/profile.d/palaver-appliance.sh")], 60, check=False)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_appliance_conf_turns_acme_on(self):
        """appliance.conf -> palaver.cfg.d: ACME only with a public host name and an e-mail address,
        and what the setup script writes passes palaverd's own config check."""
        root = os.path.join(self.tmp, "conf")
        setup = os.path.join(SOURCE, "appliance/image/files/usr/lib/palaver-appliance/setup")  # as in the image
        palaverd = os.environ.get("PALAVERD", os.path.join(BUILD, "appliance", "palaverd"))

        def run(conf):
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(os.path.join(root, "etc/palaver"))
            shutil.copytree(os.path.join(self.tree, "etc/palaver"), os.path.join(root, "etc/palaver"),
                            dirs_exist_ok=True)
            with open(os.path.join(root, "etc/palaver/appliance.conf"), "a") as f:
                f.write(conf)
            with open(os.path.join(root, "etc/hostname"), "w") as f:
                f.write("palaver\n")
            with open(os.path.join(root, "etc/hosts"), "w") as f:
                f.write("127.0.0.1\tlocalhost\n127.0.1.1\tpalaver\n")
            r = sh([setup], 30, env={**os.environ, "PALAVER_APPLIANCE_ROOT": root})
            d = os.path.join(root, "etc/palaver/palaver.cfg.d")
            return r, {f: slurp(os.path.join(d, f)) for f in os.listdir(d)}

        r, files = run("")
        self.assertEqual(sorted(files), ["00-hostname.cfg"])
        self.assertRegex(files["00-hostname.cfg"], r"\nhostnames = palaver-[0-9a-f]{6}\n")
        r, files = run("ACME_EMAIL=ops@example.org\n")  # no public name: off
        self.assertEqual(sorted(files), ["00-hostname.cfg"])
        r, files = run("HOSTNAME=meet.example.org\n")  # no e-mail: off
        self.assertEqual(sorted(files), ["00-hostname.cfg"])
        self.assertIn("\nhostnames = meet.example.org\n", files["00-hostname.cfg"])
        r, files = run("HOSTNAME=meet.example.org\nACME_EMAIL=ops@example.org\nACME_DIRECTORY=letsencrypt-staging\n")
        self.assertEqual(sorted(files), ["00-hostname.cfg", "10-appliance-acme.cfg"])
        acme = files["10-appliance-acme.cfg"]
        for line in ("acme = yes", "acme_email = ops@example.org", "acme_agree_tos = yes",
                     "acme_directory = letsencrypt-staging"):
            self.assertIn(f"\n{line}\n", acme)
        self.assertIn("meet.example.org", slurp(os.path.join(root, "etc/hostname")))
        self.assertIn("127.0.1.1\tmeet.example.org meet\n", slurp(os.path.join(root, "etc/hosts")))
        r, files = run("HOSTNAME=meet.example.org\nACME_EMAIL=ops@example.org\nACME_DIRECTORY=ftp://ca.example\n")
        self.assertIn("\nacme_directory = letsencrypt\n", files["10-appliance-acme.cfg"])
        self.assertIn("ACME_DIRECTORY=ftp://ca.example is not letsencrypt", r.stderr)
        # palaverd reads it as the appliance would (state_dir here: the check needs none of it).
        # (The web root of the image's tree, not this machine's /usr/share, which has none.)
        with open(os.path.join(root, "etc/palaver/palaver.cfg.d/zz-test.cfg"), "w") as f:
            f.write(f"[web]\nroot = {os.path.join(self.tree, 'usr/share/palaver/webui')}\n")
        cfg = os.path.join(root, "etc/palaver/palaver.cfg")
        r = sh([palaverd, "--check-config", cfg], 30, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"10-appliance-acme.cfg:\d+: \[tls\] acme overrides ")


if __name__ == "__main__":
    unittest.main()
