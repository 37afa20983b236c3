"""The built-in TURN server against coturn's own clients (turnutils_stunclient, turnutils_uclient
with turnutils_peer as the echo peer) and a small STUN client of our own: UDP, TCP, TLS, TLS on the
HTTPS port, credentials, the peer policy, quotas, rate limits, malformed input, metrics."""
import json
import os
import re
import shutil
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import time
import unittest

from harness import Palaverd, assert_tls11_refused, free_port, metric, metrics, wait_until
import stun_client as stun
from test_tls import fingerprint_of_pem, make_cert

TOOLS = ("turnutils_uclient", "turnutils_peer", "turnutils_stunclient")


def turn_ports(server):
    return server.turn_ports()


def secret_of(server):
    with open(os.path.join(server.state, "turn_secret")) as f:
        return f.read().strip()


def total(server, name):
    """The sum of every series of the metric `name` (0 when there is none)."""
    return sum(metrics(server, name).values())


def live_allocations(server):
    """The TURN engine's current allocation count, from /healthz (read live, not published)."""
    _, _, body, _ = server.curl("/healthz")
    detail = json.loads(body)["modules"]["turn"]["detail"]
    return int(re.search(r"allocations=(\d+)", detail).group(1))


class Peer:
    """turnutils_peer: a UDP echo peer on loopback."""

    def __init__(self):
        self.port = free_port(tcp=False, udp=True)
        self.proc = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def uclient(port, secret, peer_port, *flags, messages=100, sessions=4, timeout=90, user="alice", peer="127.0.0.1"):
    args = ["turnutils_uclient", *flags, "-W", secret, "-u", user, "-p", str(port), "-e", peer,
            "-r", str(peer_port), "-c", "-m", str(sessions), "-n", str(messages), "-l", "200", "-z", "5", "127.0.0.1"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def udp_buffer_drops():
    """Datagrams the kernel dropped on loopback: UDP and UDP6 RcvbufErrors (a full socket receive
    buffer) plus the per-CPU input backlog's drops (/proc/net/softnet_stat, second column), which a
    starved CPU overflows without any UDP counter moving."""
    total = 0
    for path, prefix in (("/proc/net/snmp", "Udp:"), ("/proc/net/snmp6", "Udp6RcvbufErrors")):
        try:
            with open(path) as f:
                lines = [l.split() for l in f if l.startswith(prefix)]
        except OSError:
            continue
        if prefix == "Udp:" and len(lines) >= 2 and "RcvbufErrors" in lines[0]:
            total += int(lines[1][lines[0].index("RcvbufErrors")])
        elif prefix != "Udp:" and lines:
            total += int(lines[0][1])
    try:
        with open("/proc/net/softnet_stat") as f:
            total += sum(int(line.split()[1], 16) for line in f if line.strip())
    except (OSError, IndexError, ValueError):
        pass
    return total


def server_drops(server):
    """palaverd's own palaver_turn_dropped_total by reason, as "reason=N" text for a failure message."""
    _, _, body, _ = server.curl("/metrics")
    found = re.findall(r'^palaver_turn_dropped_total\{reason="([^"]+)"\} (\S+)$', body.decode(), re.M)
    return " ".join(f"{r}={v}" for r, v in found if float(v) > 0) or "none"


def lost_and_received(output):
    """uclient's "Total lost packets N" and its final send/receive totals."""
    m = re.search(r"Total lost packets (\d+)", output)
    totals = re.findall(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", output)
    sent, received = (int(totals[-1][0]), int(totals[-1][1])) if totals else (0, 0)
    return (int(m.group(1)) if m else None), sent, received


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS), "coturn's turnutils are not installed (scripts/deps.sh test)")
class CoturnClients(unittest.TestCase):
    """Relaying through palaverd with coturn's clients, over every transport."""

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(sections={"turn": {"allow_loopback_peers": "true"}})
        cls.ports = turn_ports(cls.server)
        cls.secret = secret_of(cls.server)
        cls.peer = Peer()

    @classmethod
    def tearDownClass(cls):
        cls.peer.close()
        cls.server.close()

    def relay(self, port, *flags, messages=100, sessions=4):
        # A loaded machine (ctest -j2 beside the fuzzers) can overflow a UDP socket buffer or the
        # loopback backlog: that loss is the kernel's. A run that lost messages is repeated (at
        # most twice more); the test fails only if every run lost some, and says who dropped them.
        report = []
        for attempt in range(3):
            before = udp_buffer_drops()
            rc, out = uclient(port, self.secret, self.peer.port, *flags, messages=messages, sessions=sessions)
            lost, sent, received = lost_and_received(out)
            self.assertEqual(rc, 0, out[-2000:])
            if lost == 0:
                return
            report.append(f"run {attempt + 1}: lost {lost} of {sent}, kernel drops meanwhile "
                          f"{udp_buffer_drops() - before}, palaverd drops {server_drops(self.server)}")
        self.fail("\n".join(report) + "\n" + out[-2000:])

    def test_stun_binding(self):
        r = subprocess.run(["turnutils_stunclient", "-p", str(self.ports["udp"]), "127.0.0.1"],
                           capture_output=True, text=True, timeout=20)
        self.assertRegex(r.stdout + r.stderr, r"UDP reflexive addr: 127\.0\.0\.1:\d+")

    def test_udp_channel_data(self):
        self.relay(self.ports["udp"])

    def test_udp_send_indications(self):
        self.relay(self.ports["udp"], "-s")

    def test_tcp(self):
        self.relay(self.ports["tcp"], "-t")
        self.relay(self.ports["tcp"], "-t", "-s")

    def test_tls(self):
        self.relay(self.ports["tls"], "-t", "-S")

    def test_tls_on_the_https_port(self):
        self.relay(self.server.https_port, "-t", "-S")
        # HTTPS on the same port is unaffected.
        status, _, _, _ = self.server.curl("/healthz")
        self.assertEqual(status, 200)

    def test_one_tls_record_per_message_on_the_https_port(self):
        """coturn's clients read one TLS record as one message: answers to requests that arrive
        together must not share a record (they did, and turnutils_uclient lost messages)."""
        sock = self.server.tls_socket()
        try:
            requests = [stun.Message(0x001, 0) for _ in range(5)]  # Binding requests
            sock.sendall(b"".join(m.build() for m in requests))
            sock.settimeout(10)
            records = [sock.recv(65536) for _ in requests]
            for m, record in zip(requests, records):
                answer = stun.Answer(record)
                self.assertEqual(len(record), 20 + struct.unpack("!H", record[2:4])[0], "a record holds more than one message")
                self.assertTrue(answer.success)
            self.assertEqual(sorted(stun.Answer(r).tid for r in records), sorted(m.tid for m in requests))
        finally:
            sock.close()

    def test_moderate_load_without_loss(self):
        self.relay(self.ports["udp"], messages=500, sessions=10)

    def test_wrong_secret_cannot_allocate(self):
        rc, out = uclient(self.ports["udp"], "wrong-secret", self.peer.port, messages=5, sessions=1, timeout=30)
        self.assertNotEqual(rc, 0)
        self.assertIn("Cannot complete Allocation", out)

    def test_metrics_and_health(self):
        self.relay(self.ports["udp"], messages=50, sessions=2)
        # Counters are published once a second: wait for them, not for a fixed time.
        wait_until(lambda: total(self.server, "palaver_turn_relayed_packets_total") > 0, what="relayed packets counted")
        self.assertGreater(total(self.server, "palaver_turn_requests_total"), 0)
        self.assertGreater(total(self.server, "palaver_turn_challenges_total"), 0)
        _, _, body, _ = self.server.curl("/healthz")
        self.assertRegex(body.decode(), r'"turn":\{"status":"ok","detail":"allocations=\d+ connections=\d+"\}')


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS), "coturn's turnutils are not installed (scripts/deps.sh test)")
@unittest.skipUnless(has_ipv6_loopback(), "environment: no IPv6 on loopback here")
class DocumentedCheck(unittest.TestCase):
    """docs/admin/turn.md's check command works as written (issue 15): coturn's client with -c.
    Without -c it asks for port pairs, which we refuse with 508 and a reason in the log at info."""

    @classmethod
    def setUpClass(cls):
        if not all(shutil.which(t) for t in TOOLS):
            raise unittest.SkipTest("coturn's turnutils are not installed")
        # The client-to-client check relays between two of our own relay addresses: on one host
        # those are loopback addresses.
        cls.server = Palaverd({"turn": {"allow_loopback_peers": "yes"}})
        cls.ports = turn_ports(cls.server)
        with open(os.path.join(os.environ.get("PALAVER_SOURCE", ""), "docs", "admin", "turn.md"), encoding="utf-8") as f:
            cls.command = re.search(r"`(turnutils_uclient [^`]*<host>)` \(UDP\)", f.read()).group(1)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def run_documented(self, drop=()):
        args = self.command.replace('"$(cat /var/lib/palaver/turn_secret)"', secret_of(self.server)).split()
        args = [a for a in args if a not in drop]
        args[-1:] = ["-n", "20", "-p", str(self.ports["udp"]), "127.0.0.1"]  # <host>
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_the_documented_command_relays(self):
        self.assertIn("-c", self.command.split())
        rc, out = self.run_documented()
        self.assertEqual(rc, 0, out[-1500:])
        self.assertIn("Total lost packets 0 ", out)

    def test_port_pairs_are_refused_with_a_reason_in_the_log(self):
        rc, out = self.run_documented(drop=("-c",))
        self.assertNotEqual(rc, 0)
        self.assertIn("508", out)
        deadline = time.monotonic() + 5
        while "reason=unsupported_even_port_reservation" not in self.server.stderr() and time.monotonic() < deadline:
            time.sleep(0.1)
        line = [l for l in self.server.stderr().splitlines() if "reason=unsupported_even_port_reservation" in l]
        self.assertTrue(line, self.server.stderr()[-2000:])
        self.assertIn(" info [turn] ", line[0])


class Ipv6(unittest.TestCase):
    """IPv6 clients and relays, and an IPv6 relay for an IPv4 client (REQUESTED-ADDRESS-FAMILY)."""

    def test_ipv6(self):
        s = Palaverd(sections={"turn": {"listen": "127.0.0.1:0 [::1]:0", "allow_loopback_peers": "true"}})
        peer = None
        try:
            m = re.search(r"turn ready udp=127\.0\.0\.1:(\d+),\[::1\]:(\d+)", s.stderr())
            self.assertIsNotNone(m, s.stderr())
            port6 = int(m.group(2))
            r = subprocess.run(["turnutils_stunclient", "-p", str(port6), "::1"], capture_output=True, text=True, timeout=20)
            self.assertIn("IPv6. UDP reflexive addr: ::1:", r.stdout + r.stderr)
            peer_port = free_port(tcp=False, udp=True)
            peer = subprocess.Popen(["turnutils_peer", "-L", "::1", "-p", str(peer_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.2)
            secret = secret_of(s)
            for host, port, flags in (("::1", port6, []), ("127.0.0.1", int(m.group(1)), ["-x"])):
                with self.subTest(client=host, flags=flags):
                    args = ["turnutils_uclient", *flags, "-W", secret, "-u", "v6", "-p", str(port), "-e", "::1",
                            "-r", str(peer_port), "-c", "-m", "2", "-n", "50", "-l", "200", "-z", "5", host]
                    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
                    text = out.stdout + out.stderr
                    self.assertEqual(out.returncode, 0, text[-1500:])
                    self.assertIn("Total lost packets 0 ", text, text[-1500:])
                    self.assertEqual(lost_and_received(text)[1:], (100, 100), text[-1500:])
        finally:
            if peer:
                peer.kill()
                peer.wait()
            s.close()


class Credentials(unittest.TestCase):
    """REST credentials and challenges, with our own client (exact error codes)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(sections={"turn": {"allow_loopback_peers": "true", "max_allocations_per_user": "2"}})
        cls.ports = turn_ports(cls.server)
        cls.secret = secret_of(cls.server)
        cls.addr = ("127.0.0.1", cls.ports["udp"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_secret_is_generated_private_and_kept(self):
        path = os.path.join(self.server.state, "turn_secret")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertGreaterEqual(len(self.secret), 32)
        self.assertNotIn(self.secret, self.server.stderr())  # never logged

    def test_challenge_then_success(self):
        c = stun.TurnClient(self.addr, *stun.rest_credentials(self.secret, "bob"))
        try:
            first = c.request(stun.Message(stun.ALLOCATE, 0).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"))
            self.assertEqual(first.code, 401)
            self.assertEqual(first.text(stun.REALM), "localhost")
            self.assertEqual(len(first.text(stun.NONCE)), 34)
            self.assertNotIn(stun.SOFTWARE, first.attrs)  # nothing more than needed before credentials
            a = c.allocate()
            self.assertTrue(a.success, a.code)
            host, port = a.address(stun.XOR_RELAYED_ADDRESS)
            self.assertEqual(host, "127.0.0.1")
            self.assertTrue(49152 <= port <= 65535)
            self.assertEqual(a.address(stun.XOR_MAPPED_ADDRESS), c.sock.getsockname()[:2])
            self.assertEqual(c.auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")]).success, True)
        finally:
            c.close()

    def test_wrong_password_is_401(self):
        username, _ = stun.rest_credentials(self.secret, "mallory")
        c = stun.TurnClient(self.addr, username, "not-the-password")
        try:
            a = c.allocate()
            self.assertEqual(a.code, 401)
        finally:
            c.close()

    def test_expired_credentials_are_401(self):
        username, password = stun.rest_credentials(self.secret, "late", ttl=-10)
        c = stun.TurnClient(self.addr, username, password)
        try:
            self.assertEqual(c.allocate().code, 401)
        finally:
            c.close()

    def test_allocation_quota_per_user(self):
        clients = [stun.TurnClient(self.addr, *stun.rest_credentials(self.secret, "quota")) for _ in range(3)]
        try:
            self.assertTrue(clients[0].allocate().success)
            self.assertTrue(clients[1].allocate().success)
            self.assertEqual(clients[2].allocate().code, 486)
            clients[0].auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")])  # delete one
            self.assertTrue(clients[2].allocate().success)
        finally:
            for c in clients:
                c.auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")]) if c.nonce else None
                c.close()

    def test_tcp_allocation_ends_with_its_connection(self):
        sock = socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=3)
        c = stun.TurnClient(self.addr, *stun.rest_credentials(self.secret, "tcpuser"), sock=sock)
        self.assertTrue(c.allocate().success)
        # The engine's live count (/healthz), not the gauge published once a second.
        with_it = live_allocations(self.server)
        self.assertGreaterEqual(with_it, 1)
        c.close()
        wait_until(lambda: live_allocations(self.server) < with_it, timeout=5, what="allocation ended with its connection")
        self.assertEqual(live_allocations(self.server), with_it - 1)
        wait_until(lambda: total(self.server, "palaver_turn_allocations") < with_it, timeout=5,
                   what="palaver_turn_allocations published")


class AllocationLog(unittest.TestCase):
    """With the turn logger at debug, every allocation made, refused and ended is one log line with
    the client address and the user (and never a password or key): why a call does not connect."""

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(sections={"palaver": {"log_levels": "turn=debug"},
                                        "turn": {"max_allocations_per_user": "1"}})
        cls.ports = turn_ports(cls.server)
        cls.secret = secret_of(cls.server)
        cls.addr = ("127.0.0.1", cls.ports["udp"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def wait_for_line(self, pattern, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.server.stderr(), re.M)
            if m:
                return m
            time.sleep(0.1)
        self.fail(f"no log line matching {pattern!r} in:\n{self.server.stderr()[-4000:]}")

    def client_of(self, c):
        host, port = c.sock.getsockname()[:2]
        return re.escape(f"{host}:{port}")

    def test_created_and_deleted(self):
        username, password = stun.rest_credentials(self.secret, "carol")
        c = stun.TurnClient(self.addr, username, password)
        try:
            a = c.allocate()
            self.assertTrue(a.success, a.code)
            relay = "%s:%d" % a.address(stun.XOR_RELAYED_ADDRESS)
            self.wait_for_line(r"\[turn\].*allocation created client=%s transport=udp user=%s relay=%s lifetime_s=\d+$"
                               % (self.client_of(c), re.escape(username), re.escape(relay)))
            self.assertTrue(c.auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")]).success)
            self.wait_for_line(r"\[turn\].*allocation deleted client=%s transport=udp user=%s relay=%s age_s=\d+$"
                               % (self.client_of(c), re.escape(username), re.escape(relay)))
        finally:
            c.close()
        self.assertNotIn(password, self.server.stderr())

    def test_closed_with_its_tcp_connection(self):
        username, password = stun.rest_credentials(self.secret, "tcplog")
        sock = socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=3)
        c = stun.TurnClient(self.addr, username, password, sock=sock)
        client = self.client_of(c)
        self.assertTrue(c.allocate().success)
        c.close()
        self.wait_for_line(r"\[turn\].*allocation closed client=%s transport=tcp user=%s " % (client, re.escape(username)))

    def test_refused_for_wrong_credentials(self):
        username, _ = stun.rest_credentials(self.secret, "mallory")
        c = stun.TurnClient(self.addr, username, "not-the-password")
        try:
            self.assertEqual(c.allocate().code, 401)
            self.wait_for_line(r"\[turn\].*allocation refused client=%s transport=udp user=%s reason=credentials "
                               r"detail=wrong_password code=401$" % (self.client_of(c), re.escape(username)))
        finally:
            c.close()
        late, password = stun.rest_credentials(self.secret, "late", ttl=-10)
        c = stun.TurnClient(self.addr, late, password)
        try:
            self.assertEqual(c.allocate().code, 401)
            self.wait_for_line(r"allocation refused client=%s transport=udp user=%s reason=credentials detail=expired "
                               % (self.client_of(c), re.escape(late)))
        finally:
            c.close()
        self.assertNotIn(password, self.server.stderr())
        self.assertNotIn(self.secret, self.server.stderr())

    def test_refused_for_quota_and_forbidden_peer(self):
        username, password = stun.rest_credentials(self.secret, "dave")
        first = stun.TurnClient(self.addr, username, password)
        second = stun.TurnClient(self.addr, username, password)
        try:
            self.assertTrue(first.allocate().success)
            self.assertEqual(second.allocate().code, 486)
            self.wait_for_line(r"allocation refused client=%s transport=udp user=%s reason=quota code=486$"
                               % (self.client_of(second), re.escape(username)))
            self.assertEqual(first.create_permission("127.0.0.1", 9).code, 403)  # loopback: not by default
            self.wait_for_line(r"permission refused client=%s transport=udp user=%s reason=forbidden_peer "
                               r"peer=127\.0\.0\.1:9 code=403$" % (self.client_of(first), re.escape(username)))
        finally:
            first.auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")])
            first.close()
            second.close()

    def test_nothing_at_info(self):
        """At the default level (info) the lines are not written: they are per allocation."""
        quiet = Palaverd()
        try:
            secret = secret_of(quiet)
            c = stun.TurnClient(("127.0.0.1", turn_ports(quiet)["udp"]), *stun.rest_credentials(secret, "erin"))
            try:
                self.assertTrue(c.allocate().success)
                self.assertTrue(c.auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")]).success)
            finally:
                c.close()
            time.sleep(0.3)
            self.assertNotIn("allocation created", quiet.stderr())
            self.assertNotIn("allocation deleted", quiet.stderr())
        finally:
            quiet.close()


class PeerPolicy(unittest.TestCase):
    """Peers the appliance refuses (coturn's CVE-2020-26262 class), by default."""

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd()  # allow_loopback_peers off, as in production
        cls.ports = turn_ports(cls.server)
        cls.secret = secret_of(cls.server)
        cls.client = stun.TurnClient(("127.0.0.1", cls.ports["udp"]), *stun.rest_credentials(cls.secret, "carol"))
        assert cls.client.allocate().success

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.close()

    def test_refused_peers(self):
        # An IPv4 relay: IPv6 peers would get 443 (family mismatch) first; the IPv6 and mapped forms
        # of these rules are covered by the unit tests (peer_policy_test.cpp).
        for ip in ("127.0.0.1", "127.1.2.3", "0.0.0.0", "169.254.169.254", "224.0.0.1", "255.255.255.255",
                   "240.0.0.1"):
            with self.subTest(ip=ip):
                self.assertEqual(self.client.create_permission(ip).code, 403)
        self.assertEqual(self.client.channel_bind(0x4001, "169.254.169.254", 80).code, 403)

    def test_private_and_public_peers_are_allowed(self):
        for ip in ("10.1.2.3", "192.168.1.10", "198.51.100.7"):
            with self.subTest(ip=ip):
                self.assertTrue(self.client.create_permission(ip).success)

    def test_guests_reach_public_peers_but_not_private_ones(self):
        """A guest's credentials (user part "guest/…", what signaling gives guest logons) are held
        to `guest_private_peers = no`: anyone with a public room's link must not relay into the
        LAN. The mark is under the HMAC, so dropping it is a wrong password."""
        username, password = stun.rest_credentials(self.secret, "guest/gina")
        with stun.TurnClient(("127.0.0.1", self.ports["udp"]), username, password) as guest:
            self.assertTrue(guest.allocate().success)
            for ip in ("10.1.2.3", "192.168.1.10", "172.16.5.4"):
                with self.subTest(ip=ip):
                    self.assertEqual(guest.create_permission(ip).code, 403)
            self.assertEqual(guest.channel_bind(0x4001, "10.1.2.3", 5000).code, 403)
            self.assertTrue(guest.create_permission("198.51.100.7").success)
        forged = username.replace("guest/", "")
        with stun.TurnClient(("127.0.0.1", self.ports["udp"]), forged, password) as c:
            self.assertEqual(c.allocate().code, 401)

    @unittest.skipUnless(shutil.which("turnutils_uclient"), "coturn's turnutils are not installed")
    def test_coturn_client_gets_403_for_a_loopback_peer(self):
        peer = Peer()
        try:
            rc, out = uclient(self.ports["udp"], self.secret, peer.port, messages=5, sessions=1, timeout=30)
            self.assertIn("403", out)
        finally:
            peer.close()

    @unittest.skipUnless(shutil.which("turnutils_uclient"), "coturn's turnutils are not installed")
    def test_coturn_client_with_a_guests_name_gets_403_for_a_private_peer(self):
        _, out = uclient(self.ports["udp"], self.secret, 9, user="guest/gina", peer="10.1.2.3", messages=5,
                         sessions=1, timeout=30)
        self.assertIn("error 403 (Forbidden)", out)


class Settings(unittest.TestCase):
    """Static users, denied ranges, the total quota, bandwidth per allocation, external_ip."""

    def start(self, turn):
        s = Palaverd(sections={"turn": turn}, expect_start=False)
        self.addCleanup(s.close)
        return s

    def test_static_users_and_denied_ranges(self):
        s = self.start({"denied_peers": "198.51.100.0/24"})
        users = os.path.join(s.dir, "turn-users")
        with open(users, "w") as f:
            f.write("# fixed accounts\nsip-gateway:gw-password\n")
        s.sections["turn"]["static_users_file"] = users
        s.write_config()
        s.start()
        addr = ("127.0.0.1", turn_ports(s)["udp"])
        c = stun.TurnClient(addr, "sip-gateway", "gw-password")
        self.addCleanup(c.close)
        self.assertTrue(c.allocate().success)
        self.assertEqual(c.create_permission("198.51.100.7").code, 403)
        self.assertTrue(c.create_permission("198.51.101.7").success)
        wrong = stun.TurnClient(addr, "sip-gateway", "guess")
        self.addCleanup(wrong.close)
        self.assertEqual(wrong.allocate().code, 401)

    def test_total_quota(self):
        s = self.start({"max_allocations": "2"})
        s.start()
        addr = ("127.0.0.1", turn_ports(s)["udp"])
        secret = secret_of(s)
        clients = [stun.TurnClient(addr, *stun.rest_credentials(secret, f"user{i}")) for i in range(3)]
        for c in clients:
            self.addCleanup(c.close)
        self.assertTrue(clients[0].allocate().success)
        self.assertTrue(clients[1].allocate().success)
        self.assertEqual(clients[2].allocate().code, 508)

    def test_relay_ports_running_out(self):
        # A relay range of two ports: two allocations get them, a third is refused with 508
        # (Insufficient Capacity), and a port freed by a deleted allocation is used again.
        for _ in range(50):
            low = free_port(tcp=False, udp=True)
            if low < 65535:
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                        probe.bind(("127.0.0.1", low + 1))
                    break
                except OSError:
                    continue
        s = self.start({"min_port": str(low), "max_port": str(low + 1)})
        s.start()
        addr = ("127.0.0.1", turn_ports(s)["udp"])
        secret = secret_of(s)
        clients = [stun.TurnClient(addr, *stun.rest_credentials(secret, f"ports{i}")) for i in range(4)]
        for c in clients:
            self.addCleanup(c.close)
        relayed = []
        for c in clients[:2]:
            a = c.allocate()
            self.assertTrue(a.success, a.code)
            relayed.append(a.address(stun.XOR_RELAYED_ADDRESS)[1])
        self.assertEqual(sorted(relayed), [low, low + 1])
        self.assertEqual(clients[2].allocate().code, 508)
        clients[0].auth_request(stun.REFRESH, [(stun.LIFETIME, b"\0\0\0\0")])  # delete one: a port is free again
        again = clients[3].allocate()
        self.assertTrue(again.success, again.code)
        self.assertEqual(again.address(stun.XOR_RELAYED_ADDRESS)[1], relayed[0])

    def test_external_ip_is_advertised(self):
        s = self.start({"external_ip": "203.0.113.10"})
        s.start()
        c = stun.TurnClient(("127.0.0.1", turn_ports(s)["udp"]), *stun.rest_credentials(secret_of(s), "nat"))
        self.addCleanup(c.close)
        a = c.allocate()
        self.assertTrue(a.success)
        self.assertEqual(a.address(stun.XOR_RELAYED_ADDRESS)[0], "203.0.113.10")

    def test_bandwidth_per_allocation(self):
        s = self.start({"bandwidth": "8k", "allow_loopback_peers": "true"})
        s.start()
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(0.5)
        self.addCleanup(peer.close)
        c = stun.TurnClient(("127.0.0.1", turn_ports(s)["udp"]), *stun.rest_credentials(secret_of(s), "bw"))
        self.addCleanup(c.close)
        self.assertTrue(c.allocate().success)
        self.assertTrue(c.channel_bind(0x4000, "127.0.0.1", peer.getsockname()[1]).success)
        for _ in range(40):
            c.channel_data(0x4000, b"x" * 1000)
        got = 0
        try:
            while True:
                peer.recvfrom(2048)
                got += 1
        except socket.timeout:
            pass
        self.assertGreater(got, 0)
        self.assertLess(got, 15)  # 8 KB of burst, plus what 8 KB/s refills meanwhile
        wait_until(lambda: (metric(s, 'palaver_turn_dropped_total{reason="bandwidth"}') or 0) > 0, what="bandwidth drops counted")


class OwnServicesAreNoPeers(unittest.TestCase):
    def test_https_and_turn_ports_refused_even_with_loopback_allowed(self):
        s = Palaverd(sections={"turn": {"allow_loopback_peers": "true"}})
        try:
            ports = turn_ports(s)
            time.sleep(1.2)  # an ephemeral HTTPS port joins the own endpoints within a second
            c = stun.TurnClient(("127.0.0.1", ports["udp"]), *stun.rest_credentials(secret_of(s), "dave"))
            self.assertTrue(c.allocate().success)
            self.assertEqual(c.channel_bind(0x4001, "127.0.0.1", s.https_port).code, 403)
            self.assertEqual(c.channel_bind(0x4002, "127.0.0.1", ports["udp"]).code, 403)
            self.assertEqual(c.channel_bind(0x4003, "127.0.0.1", ports["tls"]).code, 403)
            self.assertTrue(c.channel_bind(0x4004, "127.0.0.1", 9).success)  # other loopback ports: allowed here
            c.close()
        finally:
            s.close()


class BadInputAndLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(sections={"turn": {"unauthenticated_per_second": "2", "unauthenticated_burst": "5"}})
        cls.ports = turn_ports(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        return s

    def answers(self, sock, requests):
        got = 0
        for r in requests:
            sock.sendto(r, ("127.0.0.1", self.ports["udp"]))
        deadline = time.time() + 1.0
        while time.time() < deadline:
            try:
                sock.recvfrom(2048)
                got += 1
            except socket.timeout:
                break
        return got

    def test_malformed_datagrams_get_no_answer_and_harm_nothing(self):
        s = self.udp()
        try:
            junk = [b"", b"\x00", b"\x00\x01\x00\x00", b"\x00\x01\x00\x08" + b"\x21\x12\xa4\x42" + b"x" * 12,
                    b"\xff" * 100, os.urandom(600), b"\x40\x01\x10\x00abcd",
                    stun.Message(stun.BINDING, 0).build()[:-3]]
            self.assertEqual(self.answers(s, junk), 0)
            self.assertEqual(self.answers(s, [stun.Message(stun.BINDING, 0).build()]), 1)
        finally:
            s.close()
        wait_until(lambda: (metric(self.server, 'palaver_turn_dropped_total{reason="malformed"}') or 0) > 0,
                   what="malformed drops counted")

    def test_binding_answer_is_no_larger_than_needed(self):
        s = self.udp()
        try:
            req = stun.Message(stun.BINDING, 0).build(fingerprint=False)
            s.sendto(req, ("127.0.0.1", self.ports["udp"]))
            data = s.recvfrom(2048)[0]
            a = stun.Answer(data)
            self.assertTrue(a.success)
            self.assertEqual(a.order, [stun.XOR_MAPPED_ADDRESS])  # no SOFTWARE, nothing else
            self.assertEqual(len(data), 32)
        finally:
            s.close()

    def test_unauthenticated_requests_are_rate_limited_per_address(self):
        s = self.udp()
        try:
            got = self.answers(s, [stun.Message(stun.BINDING, 0).build() for _ in range(30)])
            self.assertGreaterEqual(got, 5)
            self.assertLessEqual(got, 7)  # the burst of 5, plus what 2/s refills meanwhile
        finally:
            s.close()
        wait_until(lambda: (metric(self.server, 'palaver_turn_dropped_total{reason="unauthenticated_rate"}') or 0) > 0,
                   what="rate-limited requests counted")

    def test_tcp_garbage_closes_the_connection(self):
        sock = socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=3)
        try:
            sock.sendall(b"\xc0\x00\x00\x00junk")
            self.assertEqual(sock.recv(100), b"")
        finally:
            sock.close()

    def test_http_on_the_https_port_is_still_http(self):
        # An unknown method on the HTTPS port is HTTP's to answer (405), not TURN's.
        ctx = ssl.create_default_context(cafile=self.server.ca)
        with socket.create_connection(("127.0.0.1", self.server.https_port), timeout=3) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"FROBNICATE / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                self.assertTrue(tls.recv(100).startswith(b"HTTP/1.1 4"))


class IdleConnections(unittest.TestCase):
    """TCP/TLS connections that never finish the TLS handshake or idle without an allocation."""

    @classmethod
    def setUpClass(cls):
        cls.server = Palaverd(sections={"turn": {"connection_idle_timeout": "5s"}})
        cls.ports = turn_ports(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def closed_after(self, sock, limit):
        start = time.time()
        sock.settimeout(limit)
        try:
            data = sock.recv(100)
        except (socket.timeout, TimeoutError):
            self.fail(f"still open after {limit} s")
        except ConnectionResetError:
            data = b""
        self.assertEqual(data, b"")
        return time.time() - start

    def test_unfinished_tls_handshake_is_cut(self):
        s = Palaverd()  # idle timeout 2 min: what cuts this one is the 10 s handshake limit
        try:
            with socket.create_connection(("127.0.0.1", turn_ports(s)["tls"]), timeout=3) as sock:
                sock.sendall(b"\x16\x03\x01\x00\x50")  # a ClientHello header, and then nothing
                took = self.closed_after(sock, 15)
                self.assertGreater(took, 8)  # swept once a second
        finally:
            s.close()

    def test_idle_tcp_without_allocation_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=3) as sock:
            sock.sendall(stun.Message(stun.BINDING, 0).build())
            self.assertEqual(stun.Answer(sock.recv(100)).success, True)
            took = self.closed_after(sock, 10)
            self.assertGreater(took, 3)


class TlsCertificate(unittest.TestCase):
    """TURN over TLS uses the tls module's certificate and picks up a renewed one without a restart."""

    def served(self, port):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"],
                           input="", capture_output=True, text=True, timeout=30)
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
        return fingerprint_of_pem(m.group(0)) if m else None

    def test_certificate_swap_reaches_the_turn_tls_port(self):
        d = tempfile.mkdtemp(prefix="palaver-turn-certs-")
        crt, key = make_cert(d, "one")
        s = Palaverd({"tls": {"certificate": crt, "key": key, "watch_interval": "1s"}})
        try:
            port = turn_ports(s)["tls"]
            self.assertEqual(self.served(port), fingerprint_of_pem(open(crt).read()))
            assert_tls11_refused(self, port)  # TLS 1.2+ only, as on HTTPS (with a client that can offer 1.1)
            new_crt, new_key = make_cert(d, "two")
            os.replace(new_key, key)
            os.replace(new_crt, crt)
            want = fingerprint_of_pem(open(crt).read())
            deadline = time.time() + 15
            while time.time() < deadline and self.served(port) != want:
                time.sleep(0.5)
            self.assertEqual(self.served(port), want)
        finally:
            s.close()


class ConfigAndStartup(unittest.TestCase):
    def test_port_in_use_is_a_clear_error(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        try:
            s = Palaverd(sections={"turn": {"listen": f"127.0.0.1:{port}"}}, expect_start=False)
            code, _, err = s.run_once()
            self.assertEqual(code, 1, err)
            self.assertIn(f"127.0.0.1:{port}", err)
            s.close()
        finally:
            blocker.close()

    def test_short_secret_file_is_refused(self):
        s = Palaverd(expect_start=False)
        try:
            path = os.path.join(s.dir, "secret")
            with open(path, "w") as f:
                f.write("short\n")
            s.sections["turn"]["secret_file"] = path
            s.write_config()
            code, _, err = s.run_once()
            self.assertEqual(code, 2, err)  # the start's config check, as --check-config
            self.assertIn("[turn] secret_file:", err)
            self.assertIn("shorter than 16 characters", err)
        finally:
            s.close()

    def test_bad_values_are_reported_with_their_line(self):
        s = Palaverd(sections={"turn": {"listen": "127.0.0.1", "denied_peers": "10.0.0.0/40"}}, expect_start=False)
        try:
            code, _, err = s.run_once()
            self.assertEqual(code, 2, err)
            self.assertIn("[turn] listen", err)
            self.assertIn("[turn] denied_peers", err)
        finally:
            s.close()

    def test_secret_survives_a_restart(self):
        s = Palaverd()
        try:
            first = secret_of(s)
            s.stop()
            s.start()
            self.assertEqual(secret_of(s), first)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
