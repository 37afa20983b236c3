"""Let's Encrypt's Pebble ACME test CA (Debian package `pebble`) on loopback, for the ACME tests.

Starts `pebble-challtestsrv` as a mock DNS server that resolves every name to 127.0.0.1 (its own
challenge responders off: palaverd answers the challenges) and `pebble` with `httpPort`/`tlsPort`
pointing at palaverd's HTTP and HTTPS ports, so that Pebble validates HTTP-01 and TLS-ALPN-01
against palaverd itself. Every port is chosen free at start, so suites can run side by side.
Pebble's HTTPS API gets a throwaway CA made with the openssl CLI (Debian ships no test certs).
Standard library only."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (the mock DNS needs UDP)."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port")


def have_pebble():
    return shutil.which("pebble") is not None and shutil.which("pebble-challtestsrv") is not None


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {r.stderr}")


class Pebble:
    """One Pebble + mock DNS. `http_port`/`tls_port`: where Pebble validates challenges.
    `env`: extra PEBBLE_* variables (PEBBLE_WFE_NONCEREJECT=0 and PEBBLE_VA_NOSLEEP=1 by default).
    `validity`: lifetime of issued certificates in seconds (Pebble's default: 5 years)."""

    def __init__(self, http_port, tls_port, env=None, validity=None, start=True):
        self.dir = tempfile.mkdtemp(prefix="pebble-it-")
        self.http_port = http_port
        self.tls_port = tls_port
        self.port = free_port()
        self.mgmt_port = free_port()
        self.dns_port = free_port()
        self.dns_mgmt_port = free_port()
        self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0",
                    **(env or {})}
        self.api_ca = os.path.join(self.dir, "api-ca.pem")
        self.root = os.path.join(self.dir, "issuing-root.pem")
        self.intermediate = os.path.join(self.dir, "issuing-intermediate.pem")
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        self.procs = []
        d = self.dir
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                 "-subj", "/CN=pebble test API CA", "-keyout", f"{d}/api-ca.key", "-out", self.api_ca,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                 "-keyout", f"{d}/api.key", "-out", f"{d}/api.csr")
        with open(f"{d}/api.ext", "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", f"{d}/api.csr", "-CA", self.api_ca, "-CAkey", f"{d}/api-ca.key",
                 "-CAcreateserial", "-days", "30", "-extfile", f"{d}/api.ext", "-out", f"{d}/api.pem")
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}",
                             "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                             "certificate": f"{d}/api.pem", "privateKey": f"{d}/api.key",
                             "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "",
                             "externalAccountBindingRequired": False}}
        if validity:
            config["pebble"]["certificateValidityPeriod"] = int(validity)
        with open(f"{d}/pebble-config.json", "w") as f:
            json.dump(config, f)
        if start:
            self.start()

    def _spawn(self, name, args, env):
        with open(os.path.join(self.dir, name + ".log"), "ab") as log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def start(self):
        # -defaultIPv6 "": no AAAA answers, or Pebble would dial [::1] first, where palaverd
        # (bound to 127.0.0.1) refuses.
        self._spawn("challtestsrv", ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "",
                                     "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1",
                                     "-defaultIPv6", "", "-management", f"127.0.0.1:{self.dns_mgmt_port}"],
                    os.environ.copy())
        self._spawn("pebble", ["pebble", "-strict=false", "-config", f"{self.dir}/pebble-config.json",
                               "-dnsserver", f"127.0.0.1:{self.dns_port}"], {**os.environ, **self.env})
        ctx = ssl.create_default_context(cafile=self.api_ca)
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=2) as answer:
                    answer.read()
                break
            except OSError:
                if time.time() > deadline:
                    raise AssertionError("pebble did not start:\n" + self.log())
                time.sleep(0.1)
        for path, target in (("/roots/0", self.root), ("/intermediates/0", self.intermediate)):
            url = f"https://127.0.0.1:{self.mgmt_port}{path}"
            with urllib.request.urlopen(url, context=ctx, timeout=5) as answer, open(target, "wb") as f:
                f.write(answer.read())

    def restart(self):
        """Stops and starts Pebble on the same ports: it forgets every account, order and
        certificate, and makes a new issuing root (fetched again)."""
        self.stop()
        self.start()

    def log(self):
        p = os.path.join(self.dir, "pebble.log")
        if not os.path.exists(p):
            return ""
        with open(p, errors="replace") as f:
            return f.read()

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
