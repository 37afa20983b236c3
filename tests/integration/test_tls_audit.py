"""TLS audit: Debian's testssl.sh against palaverd's HTTPS port and the TURN server's TLS port.

What must hold on both (docs/security.md, "TLS audit"): TLS 1.2 and 1.3 only (no SSLv2/3, TLS 1.0/1.1),
no NULL/anonymous/export/low/3DES/CBC-obsolete cipher, forward secrecy on every cipher offered,
secure renegotiation and no client-initiated renegotiation, no TLS compression (CRIME); on HTTPS also
HSTS of at least 180 days. Any finding testssl rates MEDIUM, HIGH or CRITICAL fails the test.

testssl is slow: only the checks above run (-p protocols, -s cipher categories, -f forward secrecy,
-h headers (HTTPS only), -R renegotiation, -C compression, --fast), about 35-40 s per port.
Without testssl the test is skipped, loudly, and fails under CI=true (scripts/deps.sh test installs
the `testssl.sh` package)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import Palaverd

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
BAD = {"MEDIUM", "HIGH", "CRITICAL"}


def testssl(port, checks, directory):
    """Runs testssl against 127.0.0.1:port; returns {id: (severity, finding)} from its --jsonfile."""
    out = os.path.join(directory, f"testssl-{port}.json")
    r = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1",
                        "--connect-timeout", "10", "--openssl-timeout", "10", *checks, "--fast",
                        "--jsonfile", out, f"127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=300)
    if not os.path.exists(out):
        raise AssertionError(f"testssl wrote no JSON (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    with open(out) as f:
        findings = json.load(f)
    by_id = {}
    for item in findings:
        by_id.setdefault(item["id"], (item["severity"], item["finding"]))
    return findings, by_id, r.stdout


class TlsAudit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not TESTSSL:
            if os.environ.get("CI") == "true":
                raise AssertionError("testssl not installed (apt-get install testssl.sh; scripts/deps.sh test)")
            raise unittest.SkipTest("testssl not installed (apt-get install testssl.sh) -- TLS audit NOT RUN")
        cls.dir = tempfile.mkdtemp(prefix="palaver-tls-audit-")
        cls.s = Palaverd()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def audit(self, port, checks):
        findings, by_id, text = testssl(port, checks, self.dir)
        bad = [f"{f['severity']} {f['id']}: {f['finding']}" for f in findings if f["severity"] in BAD]
        self.assertEqual(bad, [], "testssl findings rated MEDIUM or worse:\n" + text[-4000:])

        def expect(id_, severities, finding_prefix=None):
            self.assertIn(id_, by_id, f"testssl did not report {id_}:\n{text[-3000:]}")
            severity, finding = by_id[id_]
            self.assertIn(severity, severities, f"{id_}: {severity} {finding}")
            if finding_prefix is not None:
                self.assertTrue(finding.startswith(finding_prefix), f"{id_}: {finding}")

        # TLS 1.2+ only.
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            expect(old, {"OK", "INFO"}, "not offered")
        expect("TLS1_2", {"OK"}, "offered")
        expect("TLS1_3", {"OK"}, "offered")
        # No weak cipher category.
        for weak in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                     "cipherlist_3DES_IDEA"):
            expect(weak, {"OK", "INFO"}, "not offered")
        # Forward secrecy (testssl 3.0 calls it PFS, 3.1 FS).
        fs = "FS" if "FS" in by_id else "PFS"
        expect(fs, {"OK"}, "offered")
        # Renegotiation and compression.
        expect("secure_renego", {"OK"}, "supported")
        expect("secure_client_renego", {"OK"}, "not vulnerable")
        expect("CRIME_TLS", {"OK"}, "not vulnerable")
        return by_id

    def test_https_port(self):
        by_id = self.audit(self.s.https_port, ["-p", "-s", "-f", "-h", "-R", "-C"])
        # HSTS, at least the 180 days testssl asks for.
        self.assertIn("HSTS_time", by_id)
        self.assertEqual(by_id["HSTS_time"][0], "OK", by_id["HSTS_time"])

    def test_turn_tls_port(self):
        port = self.s.turn_ports()["tls"]
        self.assertIsNotNone(port, "no TURN TLS listener")
        self.audit(port, ["-p", "-s", "-f", "-R", "-C"])


if __name__ == "__main__":
    unittest.main()
