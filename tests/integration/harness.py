"""Starts the real palaverd on loopback with a temp state dir and talks to it with real clients."""
import json
import re
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

PALAVERD = os.environ.get("PALAVERD", os.path.join(os.path.dirname(__file__), "../../build/appliance/palaverd"))
PALAVERD_TESTBED = os.environ.get("PALAVERD_TESTBED",
                                  os.path.join(os.path.dirname(__file__), "../../build/tests/palaverd-testbed"))
SOURCE = os.environ.get("PALAVER_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
NODE_DIR = os.path.join(SOURCE, "tests", "node")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The sanitizer jobs (sanitized.py, docs/security.md "Sanitizer jobs"): the palaverd under test
# runs 2-10x slower, so the harness's own deadlines stretch by this factor; each sanitized process
# writes any report to <PALAVER_SANITIZER_REPORTS>/palaverd.<pid>.
TIME_SCALE = float(os.environ.get("PALAVER_TEST_TIME_SCALE", "1"))
SANITIZER_REPORTS = os.environ.get("PALAVER_SANITIZER_REPORTS")


def assert_rss_growth_below(test, grown_kb, limit_kb):
    """A memory bound of the normal build. Under ASan the allocator keeps freed blocks in its
    quarantine (up to 256 MB) and pads every block, so RSS says nothing about palaverd's own
    bounds: the sanitizer jobs run these tests for memory errors and print the figure instead."""
    if os.environ.get("PALAVER_SANITIZER") == "asan":
        print(f"\n  [asan] RSS bound not checked: grew {grown_kb} KB (normal build's bound: {limit_kb} KB)")
        return
    test.assertLess(grown_kb, limit_kb, f"palaverd grew by {grown_kb} KB")


# UBSan's reports ignore log_path in GCC's combined ASan + UBSan runtime: they go to stderr.
UBSAN_REPORT = re.compile(r"^.*runtime error: .*$|^SUMMARY: UndefinedBehaviorSanitizer.*$", re.M)


def sanitizer_report(pid, stderr=""):
    """The sanitizer report process `pid` wrote (its log_path file, or UBSan's lines in its
    `stderr`), or "" (none, or not a sanitizer build)."""
    if not SANITIZER_REPORTS or pid is None:
        return ""
    path = os.path.join(SANITIZER_REPORTS, f"palaverd.{pid}")
    report = open(path, errors="replace").read() if os.path.exists(path) else ""
    ubsan = "\n".join(UBSAN_REPORT.findall(stderr))
    return "\n".join(filter(None, [report, ubsan]))


def require_node(test, package="playwright-core", chromium=False, webui=False):
    """The node binary for the tests/node scripts. Fails `test` (never a skip) when node, the npm
    package the script needs, Chromium (`chromium`) or the built Meet app (`webui`: returns its
    site dir as well) is missing, naming what installs it."""
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", package)):
        test.fail("node and tests/node/node_modules are needed: ./dev test installs them (npm ci in tests/node)")
    if chromium and not os.path.exists(CHROMIUM):
        test.fail("chromium is needed: scripts/deps.sh test installs it")
    if not webui:
        return node
    site = os.environ.get("PALAVER_WEBUI")
    if not site or not os.path.exists(os.path.join(site, "meet", "index.html")):
        test.fail("the built web app is needed (PALAVER_WEBUI=<build>/webui, built by cmake)")
    return node, site


PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# State files that hold a secret (the whole file, stripped).
STATE_SECRET_FILES = {"admin-password": "the admin password", "turn_secret": "the TURN secret",
                      "admin-cli-token": "the CLI admin token"}
SECRET_FILE_KEY = re.compile(r"(secret|password|token)[a-z_]*_file$|^secret_file$")


def wait_until(probe, timeout=10, interval=0.1, what=None):
    """Calls `probe` until it returns a true value and returns that value; raises AssertionError
    naming `what` (and the last value seen) after `timeout` seconds. For values palaverd publishes
    on its own schedule (metrics once a second, gauges after a close) instead of a fixed sleep."""
    deadline = time.time() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.time() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what or getattr(probe, '__name__', 'condition')} "
                                 f"(last: {value!r})")
        time.sleep(interval)


def metric(server, series):
    """The value of one series from palaverd's /metrics (open to loopback), e.g.
    `palaver_signaling_connections` or `palaver_signaling_drops_total{reason="slow_reader"}`
    (labels as palaverd writes them); None when it is not there."""
    body = server.curl("/metrics")[2].decode()
    m = re.search("^" + re.escape(series) + r" (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def metrics(server, name):
    """{labels: value} of every series of the metric `name` ("" for the one without labels), e.g.
    {'{direction="to_peer"}': 12.0, ...}; empty when there is none."""
    status, _, body, _ = server.curl("/metrics")
    if status != 200:
        raise AssertionError(f"/metrics: {status}")
    out = {}
    for m in re.finditer(r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", body.decode(), re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port(tcp=True, udp=False):
    """A loopback port that is free now for TCP (and UDP, with udp=True), for a server a test
    starts later on a port it must know in advance (slapd, Pebble, Apache, QEMU's forwards).

    Chosen at random outside the kernel's ephemeral range (ip_local_port_range): a port the
    kernel handed out (bind to port 0) and the test gave back could be handed out again at once
    to any other process's outgoing connection or port-0 listener before the server binds it,
    which is a race when suites run side by side (ctest -j); ports outside that range are never
    handed out by the kernel, so only another test picking the same random port could take it."""
    lo, hi = _ephemeral_range()
    choices = [(10000, lo - 1)] if lo > 12000 else []
    if hi < 64000:
        choices.append((hi + 1, 65535))
    kinds = ([socket.SOCK_STREAM] if tcp else []) + ([socket.SOCK_DGRAM] if udp else [])
    rng = random.SystemRandom()
    for _ in range(200):
        a, b = rng.choice(choices) if choices else (1024, 65535)
        port = rng.randint(a, b)
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise AssertionError("no free loopback port outside the ephemeral range")


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    os.chmod(path, mode)


class Palaverd:
    """One palaverd process. `sections` maps section -> {key: value}, merged over test defaults."""

    def __init__(self, sections=None, site=None, expect_start=True, binary=None):
        self.binary = binary or PALAVERD
        self.dir = tempfile.mkdtemp(prefix="palaver-it-")
        self.state = os.path.join(self.dir, "state")
        self.env = {}  # extra environment for the process
        self.site = site or os.environ.get("PALAVER_WEBUI") or os.path.join(SOURCE, "webui")
        self.config_path = os.path.join(self.dir, "palaver.cfg")
        self.sections = {
            "palaver": {"hostnames": "localhost", "state_dir": self.state, "listen": "127.0.0.1",
                        "https_port": "0", "http_port": "0",
                        # PALAVER_TEST_LOG_LEVEL=debug runs every suite's palaverd at debug: the
                        # secrets check then covers debug lines too.
                        "log_level": os.environ.get("PALAVER_TEST_LOG_LEVEL", "info"),
                        "header_timeout": "3s", "body_timeout": "3s", "drain_timeout": "10s"},
            "web": {"root": self.site},
            # Short test passwords ("pw"); the policy itself is tested with its default
            # (test_admin_console.py).
            "directory": {"password_min_length": "1"},
            # TURN on ephemeral loopback ports, so that suites can run side by side. The testbed
            # binary's own raw-fallback echo needs the HTTPS port's fallback for itself.
            "turn": {"listen": "127.0.0.1:0", "tls_listen": "127.0.0.1:0",
                     "https_fallback": "false" if self.binary == PALAVERD_TESTBED else "true"},
        }
        for name, kv in (sections or {}).items():
            self.sections.setdefault(name, {}).update(kv)
        self.write_config()
        # No secret may reach a log (issue 19): every value registered here, and every secret
        # in the state dir and the files the config names, is looked for in this instance's
        # logs at each restart and at close(), which fails the test on a find.
        self.secrets = {}  # value -> what it is
        # stderr through a pipe (copied to stderr.log) rather than a file: as under systemd,
        # where a file size limit (RLIMIT_FSIZE) on palaverd does not apply to its log.
        self.log_pipe = False
        self.leaks = []
        self.proc = None
        self.https_port = None
        self.http_port = None
        if expect_start:
            self.start()

    def write_config(self, extra_text=""):
        lines = []
        for name, kv in self.sections.items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in kv.items()]
            lines.append("")
        write(self.config_path, "\n".join(lines) + extra_text)

    # --- secrets must not reach the logs ------------------------------------------------------

    def register_secret(self, value, what):
        """Marks `value` (a cookie, token or password this test obtained) as something the logs
        must never hold. Short values are ignored (they would match by chance)."""
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        value = (value or "").strip()
        if len(value) >= 12:
            self.secrets.setdefault(value, what)

    def register_token_answer(self, body):
        """Registers the tokens in a JSON token answer (access, refresh and ID tokens)."""
        try:
            data = json.loads(body)
        except (ValueError, TypeError):
            return
        if isinstance(data, dict):
            for key in ("access_token", "refresh_token", "id_token"):
                if isinstance(data.get(key), str):
                    self.register_secret(data[key], key.replace("_", " "))

    def register_location(self, location):
        """Registers tokens and codes in a redirect's query or fragment."""
        import urllib.parse
        for part in re.split(r"[?#]", location or "")[1:]:
            for key, value in urllib.parse.parse_qsl(part):
                if key in ("access_token", "refresh_token", "id_token", "code"):
                    self.register_secret(value, key.replace("_", " "))

    def collect_state_secrets(self):
        """The secrets this instance knows: state files, files the config names, private keys."""
        for name, what in STATE_SECRET_FILES.items():
            path = os.path.join(self.state, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.register_secret(f.read(), what)
        for section, kv in self.sections.items():
            for key, value in kv.items():
                if SECRET_FILE_KEY.search(key) and os.path.isfile(str(value)):
                    with open(value, "rb") as f:
                        self.register_secret(f.read(), f"[{section}] {key}")
        for root, _, files in os.walk(self.state):
            for name in files:
                path = os.path.join(root, name)
                if name.startswith("palaver.db") or not os.path.isfile(path) or os.path.getsize(path) > 65536:
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                if PEM_PRIVATE_KEY.search(data):
                    # Each line of a PEM body is 64 characters of the key: none may be logged.
                    for line in data.decode("latin-1").splitlines():
                        if len(line) >= 40 and not line.startswith("-----"):
                            self.register_secret(line, f"a line of the private key {os.path.relpath(path, self.dir)}")

    def check_logs_for_secrets(self):
        """Looks for every known secret and for PEM private keys in this instance's logs so
        far; what it finds is kept in `leaks` (close() fails the test with it)."""
        if not os.path.isdir(self.dir):
            return  # closed before
        self.collect_state_secrets()
        # stdout and stderr, and any other log a test kept in the instance's dir.
        for name in sorted(n for n in os.listdir(self.dir) if n.endswith(".log")):
            path = os.path.join(self.dir, name)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for line in data.split(b"\n"):
                if PEM_PRIVATE_KEY.search(line):
                    self.leaks.append(f"{name}: a PEM private key: {line[:80]!r}")
            for value, what in self.secrets.items():
                at = data.find(value.encode("latin-1"))
                if at >= 0:
                    start = data.rfind(b"\n", 0, at) + 1
                    end = data.find(b"\n", at)
                    line = data[start:end if end >= 0 else len(data)].replace(value.encode("latin-1"), b"<SECRET>")
                    self.leaks.append(f"{name}: {what} is in the log: {line[:300]!r}")

    def start(self):
        if getattr(self, "out", None) is not None:
            self.check_logs_for_secrets()  # the logs of the previous run are replaced now
        self.out = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.err = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path], stdout=self.out,
                                     stderr=subprocess.PIPE if self.log_pipe else self.err,
                                     env={**os.environ, **self.env})
        if self.log_pipe:
            import threading
            threading.Thread(target=self._copy_log, args=(self.proc.stderr, self.err), daemon=True).start()
        runtime = os.path.join(self.state, "runtime.json")
        deadline = time.time() + 15 * TIME_SCALE
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"palaverd exited with {self.proc.returncode}:\n{self.stderr()}"
                                     f"{sanitizer_report(self.proc.pid)}")
            if os.path.exists(runtime):
                try:
                    info = json.load(open(runtime))
                except ValueError:
                    time.sleep(0.02)
                    continue
                if info.get("pid") == self.proc.pid:
                    self.https_port = info["https_port"]
                    self.http_port = info["http_port"]
                    self.ca = info["ca_certificate"]
                    return
            time.sleep(0.02)
        raise AssertionError("palaverd did not start in time:\n" + self.stderr())

    @staticmethod
    def _copy_log(pipe, out):
        for chunk in iter(lambda: pipe.read1(65536), b""):
            out.write(chunk)
            out.flush()
        pipe.close()

    def run_once(self, timeout=15):
        """Runs palaverd expecting it to exit; returns (code, stdout, stderr)."""
        r = subprocess.run([self.binary, "--config", self.config_path], capture_output=True, text=True,
                           timeout=timeout * TIME_SCALE)
        return r.returncode, r.stdout, r.stderr

    def stderr(self):
        self.err.flush() if self.proc else None
        p = os.path.join(self.dir, "stderr.log")
        return open(p, errors="replace").read() if os.path.exists(p) else ""

    def stdout(self):
        p = os.path.join(self.dir, "stdout.log")
        return open(p, errors="replace").read() if os.path.exists(p) else ""

    def wait_stdout(self, text, timeout=5):
        """stdout once it holds `text`. The start summary is printed after runtime.json is written
        (what start() waits for), so a slow palaverd (sanitizer builds) may not have printed it yet."""
        deadline = time.time() + timeout * TIME_SCALE
        while text not in self.stdout() and time.time() < deadline:
            time.sleep(0.05)
        return self.stdout()

    def url(self, path, host="localhost"):
        return f"https://{host}:{self.https_port}{path}"

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, wait_for=None, timeout=10):
        before = len(self.stderr())
        self.signal(signal.SIGHUP)
        deadline = time.time() + timeout
        while time.time() < deadline:
            tail = self.stderr()[before:]
            if wait_for is None and any(m in tail for m in ("reload applied", "reload partly applied", "reload rejected")):
                return tail
            if wait_for is not None and wait_for in tail:
                return tail
            time.sleep(0.05)
        raise AssertionError("no reload outcome in log:\n" + self.stderr()[before:])

    def stop(self, timeout=20):
        """Stops palaverd (SIGTERM, SIGKILL after `timeout`) and returns its exit code. In a
        sanitizer job, a report from this palaverd (leaks are found at exit) fails the caller."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        report = sanitizer_report(self.proc.pid if self.proc else None, self.stderr() if self.proc else "")
        if report and not getattr(self, "_reported", False):
            self._reported = True
            raise AssertionError(f"sanitizer report from palaverd (pid {self.proc.pid}, exit "
                                 f"{self.proc.returncode}):\n{report}")
        return self.proc.returncode if self.proc else None

    def close(self):
        try:
            self.stop()
        finally:
            if getattr(self, "out", None) is not None:
                self.check_logs_for_secrets()
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.leaks:
            raise AssertionError("secrets in palaverd's log (issue 19):\n" + "\n".join(dict.fromkeys(self.leaks)))

    # --- clients -------------------------------------------------------------------------

    def curl(self, path, *args, http="--http1.1", host="localhost", url=None, check=True):
        """Returns (status, headers dict (lowercase; repeated headers such as set-cookie joined
        with newlines), body bytes, http_version)."""
        # One body file per call: tests and benches call curl from several threads at once.
        fd, body_file = tempfile.mkstemp(prefix="curl-", suffix=".body", dir=self.dir)
        os.close(fd)
        cmd = ["curl", "-sS", "--max-time", "20", "--cacert", self.ca, http,
               "--resolve", f"localhost:{self.https_port}:127.0.0.1",
               "-D", "-", "-o", body_file, "-w", "\n%{http_version}"]
        cmd += list(args)
        cmd.append(url or self.url(path, host))
        r = subprocess.run(cmd, capture_output=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"curl failed ({r.returncode}): {r.stderr.decode()}")
        text = r.stdout.decode("latin-1")
        head, _, version = text.rpartition("\n")
        blocks = [b for b in head.replace("\r\n", "\n").split("\n\n") if b.strip()]
        status, headers = 0, {}
        if blocks:
            lines = blocks[-1].split("\n")
            status = int(lines[0].split()[1])
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    k = k.strip().lower()
                    headers[k] = headers[k] + "\n" + v.strip() if k in headers else v.strip()
        body = b""
        if os.path.exists(body_file):
            with open(body_file, "rb") as f:
                body = f.read()
            os.remove(body_file)
        for line in headers.get("set-cookie", "").split("\n"):
            name, _, value = line.split(";", 1)[0].partition("=")
            self.register_secret(value, f"the cookie {name.strip()}")
        self.register_location(headers.get("location"))
        if body[:1] == b"{":
            self.register_token_answer(body)
        return status, headers, body, version.strip()

    @staticmethod
    def cookie(headers, name):
        """(value, full Set-Cookie line) of cookie `name` in a response, or (None, None)."""
        for line in headers.get("set-cookie", "").split("\n"):
            if line.startswith(name + "="):
                return line.split(";", 1)[0].split("=", 1)[1], line
        return None, None

    def turn_ports(self):
        """The bound TURN listeners ({"udp", "tcp", "tls"} → first port, or None) from the
        `turn ready` log line."""
        deadline = time.time() + 5
        while time.time() < deadline:
            m = re.search(r"turn ready udp=(\S+) tcp=(\S+) tls=(\S+)", self.stderr())
            if m:
                port = lambda s: None if s == "-" else int(s.split(",")[0].rsplit(":", 1)[1])
                return {"udp": port(m.group(1)), "tcp": port(m.group(2)), "tls": port(m.group(3))}
            time.sleep(0.05)
        raise AssertionError("no `turn ready` line:\n" + self.stderr())

    def add_user(self, name, password="pw", *options):
        """`palaverd user add` on this server's config (password on stdin)."""
        r = subprocess.run([self.binary, "user", "add", name, *options, "--config", self.config_path],
                           input=password + "\n", capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"user add {name} failed: {r.stderr}")

    def mint_token(self, username_and_scopes):
        """An access token from the test-only testbed module (palaverd-testbed only)."""
        status, _, token, _ = self.curl("/testbed/token", "-X", "POST", "--data-binary", username_and_scopes)
        if status != 200:
            raise AssertionError(f"minting a token failed: {status} {token!r}")
        self.register_secret(token, "an access token")
        return token.decode()

    def tls_socket(self, server_name="localhost", alpn=("http/1.1",)):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.set_alpn_protocols(list(alpn))
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=10)
        return ctx.wrap_socket(raw, server_hostname=server_name)


class Browser:
    """A cookie-keeping HTTPS client that does not follow redirects: enough of a browser to walk
    sign-in flows step by step. Cookies are matched by path prefix, as browsers do."""

    def __init__(self, server, lang="en"):
        self.server = server
        self.lang = lang
        self.jar = {}  # (name, path) -> value
        self.ctx = ssl.create_default_context(cafile=server.ca)

    @property
    def origin(self):
        return f"https://localhost:{self.server.https_port}"

    def cookies_for(self, path):
        return "; ".join(f"{n}={v}" for (n, p), v in sorted(self.jar.items(), key=lambda i: -len(i[0][1]))
                         if path.startswith(p))

    def cookie(self, name):
        for (n, _), v in self.jar.items():
            if n == name:
                return v
        return None

    def request(self, method, target, body=None, headers=None, form=None):
        """Returns (status, headers (lowercase; repeated ones joined with newlines), body text)."""
        import http.client
        import urllib.parse
        if target.startswith("https://"):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        path = target.split("?", 1)[0]
        hdrs = {"Accept-Language": self.lang}
        if form is not None:
            body = urllib.parse.urlencode(form)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            hdrs["Origin"] = self.origin
        cookies = self.cookies_for(path)
        if cookies:
            hdrs["Cookie"] = cookies
        hdrs.update(headers or {})
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.https_port, context=self.ctx, timeout=20)
        conn._tunnel_host = None
        conn.sock = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.https_port), timeout=20),
                                         server_hostname="localhost")
        hdrs.setdefault("Host", f"localhost:{self.server.https_port}")
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        out = {}
        for k, v in resp.getheaders():
            k = k.lower()
            out[k] = out[k] + "\n" + v if k in out else v
            if k == "set-cookie":
                self._store(v)
        conn.close()
        if hasattr(self.server, "register_location"):
            self.server.register_location(out.get("location"))
            if data[:1] == "{":
                self.server.register_token_answer(data)
        return resp.status, out, data

    def _store(self, line):
        parts = [p.strip() for p in line.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts[1:]}
        key = (name, attrs.get("path", "/"))
        register = getattr(self.server, "register_secret", None)
        if register is not None:
            register(value, f"the cookie {name}")
        if attrs.get("max-age") == "0" or value == "":
            self.jar.pop(key, None)
        else:
            self.jar[key] = value

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def post(self, target, **kw):
        return self.request("POST", target, **kw)


def read_http_response(sock, buffered=b"", head_only=False):
    """Reads one HTTP/1.1 response (headers + Content-Length body) from `sock`, after the bytes
    already `buffered`. Returns (response bytes, bytes read past it); the response is what arrived
    if the connection closed first."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    if not head_only:
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def http_exchange(sock, request_bytes, read_timeout=5):
    """Sends raw bytes and reads one HTTP/1.1 response (headers + Content-Length body; no body
    for HEAD requests)."""
    sock.settimeout(read_timeout)
    sock.sendall(request_bytes)
    head_only = request_bytes.startswith(b"HEAD ")
    response, rest = read_http_response(sock, head_only=head_only)
    return response + rest if head_only else response


def rss_kb(pid):
    """A process's resident set size in KB (/proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def status_of(response_bytes):
    try:
        return int(response_bytes.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return 0


class PalaverTestCase(unittest.TestCase):
    """A test case owning one palaverd per class (`sections` class attribute)."""
    sections = None
    site = None

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(cls.sections, site=cls.site() if callable(cls.site) else cls.site)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()


class WsClient:
    """A minimal RFC 6455 client over an existing (TLS) socket, for tests."""

    def __init__(self, sock, path, host="localhost", extra_headers=""):
        import base64
        import hashlib
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.buf = data.partition(b"\r\n\r\n")
        self.status = status_of(head)
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
            if b"sec-websocket-accept: " + want not in head.lower().replace(want.lower(), want):
                raise AssertionError("bad Sec-WebSocket-Accept: " + head.decode())

    def send_frame(self, payload, opcode=1, fin=True):
        mask = os.urandom(4)
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text):
        self.send_frame(text.encode() if isinstance(text, str) else text, 1)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """Returns (opcode, payload) of the next data or close message; answers pings."""
        message, first_opcode = b"", None
        while True:
            b0, b1 = self._read(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            if opcode == 9:
                self.send_frame(payload, 10)
                continue
            if opcode == 10:
                continue
            if opcode == 8:
                return 8, payload
            if first_opcode is None:
                first_opcode = opcode
            message += payload
            if fin:
                return first_opcode, message

    def close_code(self, timeout=10):
        """Reads until a close frame; returns its status code (1005 for a close frame without one,
        None if the socket just closed without a close frame). Waiting longer than `timeout` seconds
        for either is an AssertionError: a hang is never a close."""
        self.sock.settimeout(timeout)
        try:
            while True:
                opcode, payload = self.recv()
                if opcode == 8:
                    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        except socket.timeout:
            raise AssertionError(f"no close frame and no close within {timeout} s") from None
        except (ConnectionError, OSError):
            return None


# TLS 1.1 probes. OpenSSL 3's default security level (1) forbids TLS 1.0/1.1 on the client's own
# side, so a bare `s_client -tls1_1` fails before a byte reaches the server and "refused" would pass
# against a server that accepts TLS 1.1. The probe offers TLS 1.1 at @SECLEVEL=0, and a positive
# control proves once per process that this client really completes a TLS 1.1 handshake (against a
# local `openssl s_server -tls1_1`); if it cannot, the probe fails loudly instead of passing.
_TLS11_CLIENT_ARGS = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief"]
_tls11_control_result = None


def _tls11_client(port):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        *_TLS11_CLIENT_ARGS], input="", capture_output=True, text=True, timeout=30)
    text = r.stdout + r.stderr
    return r.returncode == 0 and "Protocol version: TLSv1.1" in text, text


def tls11_client_control():
    """Proves that `openssl s_client` here can complete a TLS 1.1 handshake at @SECLEVEL=0: starts
    `openssl s_server -tls1_1 -cipher ALL@SECLEVEL=0` on a free loopback port and connects. Raises
    AssertionError (with OpenSSL's output) when it cannot."""
    global _tls11_control_result
    if _tls11_control_result is not None:
        if _tls11_control_result is not True:
            raise AssertionError(_tls11_control_result)
        return
    d = tempfile.mkdtemp(prefix="palaver-tls11-")
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost"],
                   capture_output=True, check=True, timeout=60)
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_1",
                            "-cipher", "ALL@SECLEVEL=0", "-cert", crt, "-key", key],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port, seen, deadline = None, [], time.time() + 20
        while port is None and time.time() < deadline:
            line = srv.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.match(r"ACCEPT (?:127\.0\.0\.1|0\.0\.0\.0|\[::\])?:?(\d+)", line.strip())
            if m:
                port = int(m.group(1))
        if port is None:
            _tls11_control_result = "the TLS 1.1 control server did not start: " + "".join(seen)
        else:
            ok, text = _tls11_client(port)
            _tls11_control_result = True if ok else (
                "positive control failed: this OpenSSL client cannot complete a TLS 1.1 handshake even at "
                "@SECLEVEL=0 against `openssl s_server -tls1_1`, so a refusal by palaverd would prove nothing:\n"
                + text)
    finally:
        srv.kill()
        srv.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)
    if _tls11_control_result is not True:
        raise AssertionError(_tls11_control_result)


def assert_tls11_refused(test, port):
    """Offers TLS 1.1 (a client able to speak it, proven by tls11_client_control) to `port` and
    asserts that the server refuses the handshake."""
    tls11_client_control()
    ok, text = _tls11_client(port)
    test.assertFalse(ok, "the server accepted a TLS 1.1 handshake:\n" + text)
    test.assertNotIn("CONNECTION ESTABLISHED", text, text)
