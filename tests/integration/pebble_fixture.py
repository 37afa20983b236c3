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
import threading
import time
import urllib.request

from harness import free_port as harness_free_port


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (the mock DNS needs UDP); harness.free_port."""
    return harness_free_port(tcp=True, udp=True)


def have_pebble():
    return shutil.which("pebble") is not None and shutil.which("pebble-challtestsrv") is not None


class HeldFront:
    """A loopback TCP port this process holds from the start, for a CA that starts later.

    The socket is bound without SO_REUSEADDR and not listening: nobody else can bind the port (not
    even with SO_REUSEADDR, as Go's listeners do), connections to it are refused as if nothing
    listened there, and the kernel never hands it out as an ephemeral port. `forward_to(port)` then
    listens on it and relays every connection, byte for byte (TLS passes through), to
    127.0.0.1:port. So palaverd can be configured with this port before Pebble runs, and Pebble can
    take any free port when it starts (and another if that one was taken meanwhile): there is no
    window in which the configured port is free for another suite to take."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.target = None
        self.closed = False
        self.conns = []

    def forward_to(self, port):
        self.target = port
        if self.closed or self.sock.fileno() < 0:
            return
        if not getattr(self, "_thread", None):
            self.sock.listen(64)
            self._thread = threading.Thread(target=self._accept, daemon=True)
            self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    sock.shutdown(how)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


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
        self._choose_ports()
        # Not started yet: palaverd is configured with a port this process holds (HeldFront), and
        # Pebble takes whatever port is free once it starts, so nothing can take the configured
        # one in between (under ctest -j2 another suite once did).
        self.front = None if start else HeldFront()
        self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0",
                    **(env or {})}
        self.api_ca = os.path.join(self.dir, "api-ca.pem")
        self.root = os.path.join(self.dir, "issuing-root.pem")
        self.intermediate = os.path.join(self.dir, "issuing-intermediate.pem")
        self.directory = f"https://127.0.0.1:{self.front.port if self.front else self.port}/dir"
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
        self.validity = validity
        self._write_config()
        if start:
            self.start()

    def _choose_ports(self):
        self.port = free_port()
        self.mgmt_port = free_port()
        self.dns_port = free_port()
        self.dns_mgmt_port = free_port()

    def _write_config(self):
        d = self.dir
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}",
                             "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                             "certificate": f"{d}/api.pem", "privateKey": f"{d}/api.key",
                             "httpPort": self.http_port, "tlsPort": self.tls_port, "ocspResponderURL": "",
                             "externalAccountBindingRequired": False}}
        if self.validity:
            config["pebble"]["certificateValidityPeriod"] = int(self.validity)
        with open(f"{d}/pebble-config.json", "w") as f:
            json.dump(config, f)

    def _spawn(self, name, args, env):
        with open(os.path.join(self.dir, name + ".log"), "ab") as log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def start(self):
        """Starts the mock DNS and Pebble. Behind a HeldFront, Pebble's own ports are chosen now and
        chosen again if one was taken before Pebble bound it (nothing points at them yet); then the
        front starts relaying to Pebble."""
        if not self.front:
            self._start_once()
            return
        for attempt in range(3):
            self._choose_ports()
            self._write_config()
            try:
                self._start_once()
                return
            except AssertionError:
                log = self.log() + self._log("challtestsrv")
                self.stop()
                if "address already in use" not in log or attempt == 2:
                    raise

    def _log(self, name):
        p = os.path.join(self.dir, name + ".log")
        if not os.path.exists(p):
            return ""
        with open(p, errors="replace") as f:
            return f.read()

    def _start_once(self):
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
                with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/dir", context=ctx, timeout=2) as answer:
                    answer.read()
                break
            except OSError:
                exited = any(p.poll() is not None for p in self.procs)
                if exited or time.time() > deadline:
                    raise AssertionError("pebble did not start:\n" + self.log() + self._log("challtestsrv"))
                time.sleep(0.1)
        if self.front:
            self.front.forward_to(self.port)
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
        return self._log("pebble")

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
        if self.front:
            self.front.close()
        shutil.rmtree(self.dir, ignore_errors=True)
