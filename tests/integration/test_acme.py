"""ACME against a real CA (Debian's Pebble): palaverd obtains, serves, renews and hot-swaps its
certificate by itself; HTTP-01 and TLS-ALPN-01 are answered by palaverd's own listeners."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import unittest

from harness import Palaverd, http_exchange, status_of
from pebble_fixture import Pebble, free_port, have_pebble

NAMES = ("meet.example.test", "turn.example.test")


def openssl(*args, input=None, check=True):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, input=input, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {r.stderr}")
    return r.stdout + r.stderr


def served_chain(port, server_name):
    """The PEM certificates a TLS server at 127.0.0.1:port presents for `server_name`."""
    out = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", server_name, "-showcerts",
                  input="", check=False)
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", out, re.S)
    if not certs:
        raise AssertionError(f"no certificate from 127.0.0.1:{port}:\n{out}")
    return certs


def fingerprint(pem):
    return openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem).strip()


def wait_for_log(server, pattern, timeout=60, start=0):
    """Waits until `pattern` (a regex) appears in the log after offset `start`; returns the match."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, server.stderr()[start:], re.M)
        if m:
            return m
        if server.proc.poll() is not None:
            raise AssertionError(f"palaverd exited ({server.proc.returncode}):\n{server.stderr()}")
        time.sleep(0.1)
    raise AssertionError(f"no /{pattern}/ in the log within {timeout} s:\n{server.stderr()[start:]}")


class AcmeTestCase(unittest.TestCase):
    """Each test runs its own Pebble pointed at the ports of its own palaverd."""

    def setUp(self):
        # No silent skip: CI installs pebble (scripts/deps.sh test); a missing one is a failure.
        self.assertTrue(have_pebble(), "pebble and pebble-challtestsrv are not installed: scripts/deps.sh test")
        self.servers = []
        self.pebbles = []
        self.http_port = free_port()
        self.https_port = free_port()

    def tearDown(self):
        for s in self.servers:
            s.close()
        for p in self.pebbles:
            p.close()

    def pebble(self, start=True, **kw):
        p = Pebble(self.http_port, self.https_port, start=start, **kw)
        self.pebbles.append(p)
        return p

    def palaverd(self, pebble, challenge="http-01", state_from=None, extra_tls=None, extra_palaver=None):
        tls = {"acme": "yes", "acme_agree_tos": "yes", "acme_email": "ops@example.test",
               "acme_directory": pebble.directory, "acme_ca_file": pebble.api_ca, "acme_challenge": challenge,
               "acme_retry_interval": "1s"}
        tls.update(extra_tls or {})
        s = Palaverd({"palaver": {"hostnames": ", ".join(NAMES) + ", localhost", "https_port": str(self.https_port),
                                  "http_port": str(self.http_port), **(extra_palaver or {})},
                      "tls": tls}, expect_start=False)
        if state_from is not None:
            # Another process on the same state dir (a restart).
            s.state = state_from.state
            s.sections["palaver"]["state_dir"] = s.state
            s.write_config()
        s.start()
        self.servers.append(s)
        return s

    def assert_serves_pebble_certificate(self, s, pebble, port=None):
        port = port or s.https_port
        chain = served_chain(port, NAMES[0])
        leaf, rest = chain[0], chain[1:]
        with open(os.path.join(s.dir, "untrusted.pem"), "w") as f:
            f.write("".join(rest))
        with open(os.path.join(s.dir, "leaf.pem"), "w") as f:
            f.write(leaf)
        out = openssl("verify", "-CAfile", pebble.root, "-untrusted", os.path.join(s.dir, "untrusted.pem"),
                      "-purpose", "sslserver", os.path.join(s.dir, "leaf.pem"))
        self.assertIn(": OK", out)
        text = openssl("x509", "-noout", "-ext", "subjectAltName", input=leaf)
        for name in NAMES:
            self.assertIn(f"DNS:{name}", text)
        return leaf

    def healthz(self, s):
        status, _, body, _ = s.curl("/healthz", "-k")
        return status, json.loads(body)


class Issuance(AcmeTestCase):
    def test_http01_certificate_for_two_names_on_https_and_turn_tls(self):
        pebble = self.pebble()
        s = self.palaverd(pebble)
        m = wait_for_log(s, r"certificate obtained source=acme reason=\"no certificate\" names=(\S+)")
        self.assertEqual(sorted(m.group(1).split(",")), sorted(NAMES))
        leaf = self.assert_serves_pebble_certificate(s, pebble)
        for name in NAMES:
            self.assertIn(f"ACME challenge answered type=http-01 name={name}", s.stderr())
        # Outside an order the challenge path answers 404 on the plain listener (no redirect).
        with socket.create_connection(("127.0.0.1", s.http_port), timeout=5) as plain:
            self.assertEqual(status_of(http_exchange(
                plain, b"GET /.well-known/acme-challenge/abc HTTP/1.1\r\nHost: meet.example.test\r\n\r\n")), 404)
        # TURN over TLS (5349-style listener) presents the same certificate.
        turn_tls = s.turn_ports()["tls"]
        self.assertEqual(fingerprint(served_chain(turn_tls, NAMES[1])[0]), fingerprint(leaf))
        # Stored in the state dir: chain + key in one file, mode 0600; the account key too.
        acme_dir = os.path.join(s.state, "tls", "acme")
        self.assertEqual(os.stat(os.path.join(acme_dir, "certificate.pem")).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.join(acme_dir, "account.key")).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(os.path.join(acme_dir, "order.json")))
        # Health is fine, the metric carries notAfter.
        status, health = self.healthz(s)
        self.assertEqual(health["modules"]["tls"]["status"], "ok", health)
        not_after = openssl("x509", "-noout", "-enddate", input=leaf).strip().split("=", 1)[1]
        expected = int(time.mktime(time.strptime(not_after, "%b %d %H:%M:%S %Y GMT"))) - time.timezone
        _, _, metrics, _ = s.curl("/metrics", "-k")
        m = re.search(rb"^palaver_tls_certificate_expiry_timestamp_seconds (\d+)", metrics, re.M)
        self.assertIsNotNone(m, metrics[:2000])
        self.assertEqual(int(m.group(1)), expected)
        # A second start on the same state reuses the stored certificate and account: no new order.
        s.stop()
        t = self.palaverd(pebble, state_from=s)
        wait_for_log(t, r"certificate loaded source=acme names=\S*meet.example.test", timeout=10)
        self.assertEqual(fingerprint(served_chain(t.https_port, NAMES[0])[0]), fingerprint(leaf))
        time.sleep(1)
        self.assertNotIn("ACME order started", t.stderr())

    def test_tls_alpn01_certificate(self):
        pebble = self.pebble()
        # A wildcard among the hostnames is left out of the order (it would need DNS-01).
        s = self.palaverd(pebble, challenge="tls-alpn-01",
                          extra_palaver={"hostnames": ", ".join(NAMES) + ", *.example.test, localhost, 127.0.0.1"})
        m = wait_for_log(s, r"certificate obtained source=acme reason=\S+ \S+ names=(\S+)")
        self.assertEqual(sorted(m.group(1).split(",")), sorted(NAMES))
        self.assert_serves_pebble_certificate(s, pebble)
        log = s.stderr()
        for name in NAMES:
            self.assertIn(f"ACME challenge answered type=tls-alpn-01 name={name}", log)
        self.assertNotIn("type=http-01", log)
        # With no challenge pending, an acme-tls/1 handshake is refused (not answered with the
        # normal certificate).
        out = openssl("s_client", "-connect", f"127.0.0.1:{s.https_port}", "-servername", NAMES[0],
                      "-alpn", "acme-tls/1", input="", check=False)
        self.assertNotIn("ALPN protocol: acme-tls/1", out)
        self.assertIn("no peer certificate available", out)

    def test_switching_acme_on_by_reload(self):
        pebble = self.pebble()
        s = self.palaverd(pebble, extra_tls={"acme": "no"})
        time.sleep(1)
        self.assertNotIn("ACME", s.stderr())
        before = len(s.stderr())
        s.sections["tls"]["acme"] = "yes"
        s.write_config()
        s.reload()
        wait_for_log(s, r"certificate obtained source=acme", start=before)
        self.assert_serves_pebble_certificate(s, pebble)
        # A further reload checks again but orders nothing: the certificate is not due.
        before = len(s.stderr())
        s.reload()
        time.sleep(1.5)
        self.assertNotIn("ACME order started", s.stderr()[before:])
        self.assertEqual(self.healthz(s)[1]["modules"]["tls"]["status"], "ok")
        # Switching it off again serves the local CA.
        s.sections["tls"]["acme"] = "no"
        s.write_config()
        s.reload()
        out = openssl("s_client", "-connect", f"127.0.0.1:{s.https_port}", "-servername", NAMES[0], "-CAfile", s.ca,
                      input="", check=False)
        self.assertIn("Verify return code: 0 (ok)", out)

    def test_auto_without_plain_listener_uses_tls_alpn01(self):
        pebble = self.pebble()
        s = self.palaverd(pebble, challenge="auto", extra_palaver={"http_redirect": "no"})
        wait_for_log(s, r"certificate obtained source=acme")
        self.assert_serves_pebble_certificate(s, pebble)
        self.assertIn("ACME challenge answered type=tls-alpn-01", s.stderr())
        self.assertNotIn("type=http-01", s.stderr())
        # http-01 alone cannot work without the plain listener: refused at start.
        s.stop()
        bad = Palaverd({"palaver": {"hostnames": NAMES[0], "http_redirect": "no"},
                        "tls": {"acme": "yes", "acme_agree_tos": "yes", "acme_challenge": "http-01"}},
                       expect_start=False)
        try:
            code, _, err = bad.run_once()
            self.assertEqual(code, 2, err)
            self.assertIn("[tls] acme_challenge: http-01 needs the plain-HTTP listener", err)
        finally:
            bad.close()

    def test_bad_nonce_answers_are_retried(self):
        pebble = self.pebble(env={"PEBBLE_WFE_NONCEREJECT": "60"})
        # Pebble rolls the dice per request; a whole order (about 12 signed requests) without a
        # rejection is rare, but possible: then order again from a fresh state.
        retried = []
        for _ in range(3):
            s = self.palaverd(pebble)
            m = wait_for_log(s, r"certificate obtained source=acme .* bad_nonce_retries=(\d+)")
            self.assert_serves_pebble_certificate(s, pebble)
            retried.append(int(m.group(1)))
            s.close()
            self.servers.remove(s)
            if retried[-1] > 0:
                break
        self.assertGreater(max(retried), 0, f"no badNonce in three orders at a 60 % rejection rate: {retried}")


class Failures(AcmeTestCase):
    def test_validation_failure_is_reported_and_the_local_ca_serves(self):
        # Pebble validates HTTP-01 on a port where nothing listens.
        pebble = Pebble(free_port(), self.https_port)
        self.pebbles.append(pebble)
        s = self.palaverd(pebble)
        m = wait_for_log(s, r"error \[tls\] .*ACME certificate not obtained err=\"(.*validation of "
                            r"(meet|turn)\.example\.test failed.*)\" attempt=1 retry_in_s=1; serving the local CA")
        self.assertIn("urn:ietf:params:acme:error:connection", m.group(1))
        status, health = self.healthz(s)
        self.assertEqual(health["modules"]["tls"]["status"], "degraded")
        self.assertIn("no ACME certificate yet, serving the local CA's", health["modules"]["tls"]["detail"])
        self.assertIn("failed", health["modules"]["tls"]["detail"])
        # The local CA's certificate is served meanwhile.
        out = openssl("s_client", "-connect", f"127.0.0.1:{s.https_port}", "-servername", NAMES[0], "-CAfile", s.ca,
                      input="", check=False)
        self.assertIn("Verify return code: 0 (ok)", out)
        # Back-off: the next attempts come after 2 s, then 4 s.
        wait_for_log(s, r"attempt=2 retry_in_s=2;", timeout=20)

    def test_ca_down_at_start_then_a_later_retry_succeeds(self):
        pebble = self.pebble(start=False)
        s = self.palaverd(pebble)
        wait_for_log(s, r"ACME certificate not obtained err=\"ACME CA not reachable: .*\" attempt=1")
        out = openssl("s_client", "-connect", f"127.0.0.1:{s.https_port}", "-servername", NAMES[0], "-CAfile", s.ca,
                      input="", check=False)
        self.assertIn("Verify return code: 0 (ok)", out)  # local CA
        pebble.start()
        wait_for_log(s, r"certificate obtained source=acme", timeout=60)
        self.assert_serves_pebble_certificate(s, pebble)
        status, health = self.healthz(s)
        self.assertEqual(health["modules"]["tls"]["status"], "ok", health)


class Renewal(AcmeTestCase):
    def test_renewal_swaps_the_certificate_without_dropping_connections(self):
        # 30-second certificates: renewal is due after 20 s (a third of the lifetime left).
        pebble = self.pebble(validity=30)
        s = self.palaverd(pebble)
        wait_for_log(s, r"certificate obtained source=acme reason=\"no certificate\"")
        first = self.assert_serves_pebble_certificate(s, pebble)
        # A client keeps a connection open across the swap.
        ctx = ssl.create_default_context(cafile=pebble.root)
        raw = socket.create_connection(("127.0.0.1", s.https_port), timeout=10)
        conn = ctx.wrap_socket(raw, server_hostname=NAMES[0])
        self.assertEqual(status_of(http_exchange(conn, b"GET /healthz HTTP/1.1\r\nHost: meet.example.test\r\n\r\n")),
                         200)
        before = len(s.stderr())
        wait_for_log(s, r"certificate obtained source=acme reason=\"renewal due \(a third of the lifetime left\)\"",
                     timeout=60, start=before)
        second = self.assert_serves_pebble_certificate(s, pebble)
        self.assertNotEqual(fingerprint(first), fingerprint(second))
        # TURN's TLS listener presents the new certificate too.
        self.assertEqual(fingerprint(served_chain(s.turn_ports()["tls"], NAMES[0])[0]), fingerprint(second))
        # The old connection still works and still has the old certificate.
        self.assertEqual(status_of(http_exchange(conn, b"GET /healthz HTTP/1.1\r\nHost: meet.example.test\r\n\r\n")),
                         200)
        self.assertEqual(fingerprint(ssl.DER_cert_to_PEM_cert(conn.getpeercert(binary_form=True))), fingerprint(first))
        conn.close()


    def test_a_ca_that_forgot_the_account_gets_it_registered_again(self):
        pebble = self.pebble(validity=30)
        s = self.palaverd(pebble)
        wait_for_log(s, r"certificate obtained source=acme reason=\"no certificate\"")
        pebble.restart()  # Pebble keeps accounts in memory only
        before = len(s.stderr())
        wait_for_log(s, r"warn \[tls\] \[\d+\] ACME account unknown to the CA, registering again", timeout=60,
                     start=before)
        wait_for_log(s, r"certificate obtained source=acme reason=\"renewal due", timeout=30, start=before)
        self.assert_serves_pebble_certificate(s, pebble)


class CrashSafety(AcmeTestCase):
    def test_kill_9_during_an_order_then_restart(self):
        # Validation waits up to 4 s inside Pebble, so the order is in flight when palaverd dies.
        pebble = self.pebble(env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "4"})
        s = self.palaverd(pebble)
        wait_for_log(s, r"ACME order started")
        order = os.path.join(s.state, "tls", "acme", "order.json")
        deadline = time.time() + 10
        while not os.path.exists(order) and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(order), "no order journal while the order runs")
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(10)
        t = self.palaverd(pebble, state_from=s)
        m = wait_for_log(t, r"certificate obtained source=acme .* resumed=(yes|no)", timeout=90)
        self.assert_serves_pebble_certificate(t, pebble)
        self.assertFalse(os.path.exists(order))
        self.assertEqual(t.stderr().count("ACME account registered"), 0)  # the account survived
        # The order itself was resumed unless Pebble had already finished it as invalid (the
        # validation may have hit the dead listener).
        if m.group(1) == "no":
            self.assertIn("ACME order started", t.stderr())

    def test_sigterm_during_an_order_stops_promptly(self):
        pebble = self.pebble(env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "15"})
        s = self.palaverd(pebble)
        wait_for_log(s, r"ACME challenge answered")
        started = time.time()
        s.signal(signal.SIGTERM)
        s.proc.wait(20)
        self.assertLess(time.time() - started, 5, "stop waited for the ACME order")
        self.assertEqual(s.proc.returncode, 0, s.stderr())

    def test_tampered_or_truncated_stored_certificate_is_replaced(self):
        pebble = self.pebble()
        s = self.palaverd(pebble)
        wait_for_log(s, r"certificate obtained source=acme")
        s.stop()
        path = os.path.join(s.state, "tls", "acme", "certificate.pem")
        text = open(path).read()
        for damage in ("tamper", "truncate"):
            if damage == "tamper":
                i = text.index("\n", text.index("BEGIN CERTIFICATE")) + 150
                broken = text[:i] + ("B" if text[i] == "A" else "A") + text[i + 1:]
            else:
                broken = text[:len(text) // 2]
            with open(path, "w") as f:
                f.write(broken)
            t = self.palaverd(pebble, state_from=s)
            wait_for_log(t, r"warn \[tls\] \[\d+\] ACME on: serving the local CA's certificate until one is obtained "
                            r"reason=\"stored certificate .*certificate.pem unusable", timeout=10)
            wait_for_log(t, r"certificate obtained source=acme reason=\"no certificate\"")
            self.assert_serves_pebble_certificate(t, pebble)
            t.stop()
            self.assertNotEqual(open(path).read(), broken)
            text = open(path).read()


class CheckConfig(unittest.TestCase):
    def test_inconsistent_acme_config_is_rejected_with_file_and_line(self):
        s = Palaverd({"tls": {"acme": "yes", "acme_directory": "http://ca.example/dir"}}, expect_start=False)
        try:
            r = subprocess.run([s.binary, "--check-config", s.config_path], capture_output=True, text=True,
                               timeout=30)
            self.assertNotEqual(r.returncode, 0)
            lines = open(s.config_path).read().splitlines()
            tls_header = lines.index("[tls]") + 1
            acme_line = lines.index("acme_directory = http://ca.example/dir") + 1
            self.assertIn(f"{s.config_path}:{tls_header}: [tls] acme_agree_tos: acme = yes needs acme_agree_tos = yes",
                          r.stderr)
            self.assertIn(f"{s.config_path}:{acme_line}: [tls] acme_directory: must be letsencrypt", r.stderr)
        finally:
            s.close()

    def test_acme_needs_a_public_hostname(self):
        s = Palaverd({"tls": {"acme": "yes", "acme_agree_tos": "yes"}}, expect_start=False)
        try:
            code, _, err = s.run_once()
            self.assertEqual(code, 2, err)  # a config error, found before anything starts (as --check-config does)
            self.assertIn("[tls] acme: needs a public DNS name in [palaver] hostnames", err)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
