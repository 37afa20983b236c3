"""TLS: the generated local CA, certificates from files, SNI, and swaps without dropping connections."""
import os
import re
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import Palaverd, assert_tls11_refused, http_exchange, status_of, tls11_client_control


def openssl(*args, input=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, input=input, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def make_cert(directory, name, cn="localhost"):
    """A self-signed ECDSA certificate for cn + localhost; returns (chain, key) paths."""
    key = os.path.join(directory, f"{name}.key")
    crt = os.path.join(directory, f"{name}.crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={cn}",
            "-addext", f"subjectAltName=DNS:{cn},DNS:localhost,IP:127.0.0.1")
    return crt, key


def fingerprint_of_pem(pem):
    return openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem).strip()


class LocalCa(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"hostnames": "meet.example.test"}})

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_ca_path_is_printed_and_in_state_dir(self):
        self.assertTrue(self.s.ca.startswith(self.s.state))
        self.assertTrue(os.path.exists(self.s.ca))
        out = self.s.stdout()
        self.assertIn(f"CA certificate:  {self.s.ca}", out)
        self.assertIn(f"https://meet.example.test:{self.s.https_port}/", out)
        self.assertIn("Ctrl-C", out)

    def test_s_client_verifies_against_ca_with_sni(self):
        for name in ("meet.example.test", "localhost"):
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.s.https_port}",
                                "-servername", name, "-CAfile", self.s.ca, "-verify_hostname", name,
                                "-alpn", "h2,http/1.1"],
                               input="", capture_output=True, text=True, timeout=30)
            text = r.stdout + r.stderr
            self.assertIn("Verify return code: 0 (ok)", text, text)
            self.assertIn("ALPN protocol: h2", text)
            self.assertIn("New, TLSv1.3", text)
            self.assertIn(f"Verified peername: {name}", text)

    def test_tls11_client_control(self):
        # Positive control: the probe's client completes a TLS 1.1 handshake with a server that
        # offers it (fails loudly if this OpenSSL cannot, rather than making the next test vacuous).
        tls11_client_control()

    def test_old_protocols_refused(self):
        assert_tls11_refused(self, self.s.https_port)

    def test_key_files_are_private(self):
        tls_dir = os.path.dirname(self.s.ca)
        for name in os.listdir(tls_dir):
            if name.endswith(".key"):
                self.assertEqual(os.stat(os.path.join(tls_dir, name)).st_mode & 0o077, 0, name)

    def test_ca_survives_restart(self):
        before = open(self.s.ca).read()
        s2 = Palaverd({"palaver": {"hostnames": "meet.example.test", "state_dir": self.s.state}}, expect_start=False)
        s2.state = self.s.state
        # Start a second server on the same state dir after the first one stops.
        self.s.stop()
        try:
            s2.start()
            self.assertEqual(open(s2.ca).read(), before)
        finally:
            s2.stop()
            self.s.start()


class CertificateFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="palaver-certs-")
        self.crt, self.key = make_cert(self.dir, "one")
        self.s = Palaverd({"tls": {"certificate": self.crt, "key": self.key, "watch_interval": "1s"}})
        self.runtime_ca = self.s.ca  # what palaverd reported in runtime.json
        self.s.ca = self.crt  # self-signed: the certificate is its own trust anchor (for curl)

    def tearDown(self):
        self.s.close()

    def served_fingerprint(self):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.s.https_port}",
                            "-servername", "localhost", "-showcerts"],
                           input="", capture_output=True, text=True, timeout=30)
        pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S).group(0)
        return fingerprint_of_pem(pem)

    def test_serves_configured_certificate(self):
        self.assertEqual(self.served_fingerprint(), fingerprint_of_pem(open(self.crt).read()))
        # A client that trusts only the configured file verifies the server by name.
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.s.https_port}",
                            "-servername", "localhost", "-CAfile", self.crt, "-verify_hostname", "localhost",
                            "-verify_return_error"], input="", capture_output=True, text=True, timeout=30)
        self.assertIn("Verify return code: 0 (ok)", r.stdout + r.stderr, r.stdout + r.stderr)
        # With certificate files there is no local CA: none reported, printed or generated.
        self.assertEqual(self.runtime_ca, "")
        self.assertNotIn("CA certificate:", self.s.stdout())
        self.assertFalse(os.path.exists(os.path.join(self.s.state, "tls")), os.listdir(self.s.state))

    def test_swap_on_sighup_keeps_open_connections(self):
        conn = self.s.tls_socket()
        self.assertEqual(status_of(http_exchange(conn, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")), 200)
        old = fingerprint_of_pem(open(self.crt).read())
        new_crt, new_key = make_cert(self.dir, "two")
        os.replace(new_crt, self.crt)
        os.replace(new_key, self.key)
        self.s.reload()
        self.assertNotEqual(self.served_fingerprint(), old)
        self.assertEqual(self.served_fingerprint(), fingerprint_of_pem(open(self.crt).read()))
        # The connection opened before the swap still works.
        self.assertEqual(status_of(http_exchange(conn, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")), 200)
        conn.close()

    def test_swap_when_files_change_without_signal(self):
        old = self.served_fingerprint()
        new_crt, new_key = make_cert(self.dir, "three")
        # Replace the key first, then the chain, as a renewal script would.
        os.replace(new_key, self.key)
        os.replace(new_crt, self.crt)
        deadline = time.time() + 15
        while time.time() < deadline and self.served_fingerprint() == old:
            time.sleep(0.5)
        self.assertEqual(self.served_fingerprint(), fingerprint_of_pem(open(self.crt).read()))

    def test_bad_replacement_keeps_old_certificate(self):
        old = self.served_fingerprint()
        with open(self.crt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
        tail = self.s.reload()
        self.assertIn(self.crt, tail)
        self.assertEqual(self.served_fingerprint(), old)
        self.assertIsNone(self.s.proc.poll())


class KeyFilePermissions(unittest.TestCase):
    """A private key readable by group or world is served, with a warning that names the file and
    the fix, at start and from --check-config; a private key (0600) gets none."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="palaver-keymode-")
        self.crt, self.key = make_cert(self.dir, "open")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.close()

    def start(self):
        s = Palaverd({"tls": {"certificate": self.crt, "key": self.key}})
        s.ca = self.crt  # self-signed: the certificate is its own trust anchor
        self.servers.append(s)
        return s

    def test_world_readable_key_warns_at_start_and_in_check_config(self):
        os.chmod(self.key, 0o644)
        s = self.start()
        log = s.stderr()
        self.assertEqual(log.count("is open to its group and others"), 1, log)  # said once
        warning = re.search(r"^\S+ warn \[palaver\] \[\d+\] config \S+: \[tls\] key: warning: private key file (\S+) "
                            r"is open to its group and others "
                            r"\(mode 0644\); run: chmod 600 (\S+)$", s.stderr(), re.M)
        self.assertIsNotNone(warning, s.stderr())
        self.assertEqual((warning.group(1), warning.group(2)), (self.key, self.key))
        status, _, _, _ = s.curl("/healthz")
        self.assertEqual(status, 200)  # still served

        r = subprocess.run([s.binary, "--check-config", s.config_path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"\[tls\] key: warning: private key file %s is open to its group and others "
                                   r"\(mode 0644\); run: chmod 600 " % re.escape(self.key))

    def test_private_key_gets_no_warning(self):
        os.chmod(self.key, 0o600)
        s = self.start()
        self.assertNotIn("chmod 600", s.stderr())
        r = subprocess.run([s.binary, "--check-config", s.config_path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("warning", r.stderr)


if __name__ == "__main__":
    unittest.main()
