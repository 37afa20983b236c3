"""A small STUN/TURN client for the integration tests (RFC 8489/8656): builds requests with
long-term credentials and FINGERPRINT, parses answers. Standard library only."""
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import time

COOKIE = 0x2112A442  # the magic cookie

BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 0x001, 0x003, 0x004, 0x006, 0x007, 0x008, 0x009

MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028


def rest_credentials(secret, user, ttl=3600):
    username = f"{int(time.time()) + ttl}:{user}"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password


def xor_address(host, port, tid):
    ip = ipaddress.ip_address(host)
    xport = port ^ (COOKIE >> 16)
    if ip.version == 4:
        xip = int(ip) ^ COOKIE
        return struct.pack("!BBH", 0, 1, xport) + struct.pack("!I", xip)
    key = struct.pack("!I", COOKIE) + tid
    raw = bytes(a ^ b for a, b in zip(ip.packed, key))
    return struct.pack("!BBH", 0, 2, xport) + raw


def parse_xor_address(value, tid):
    family, xport = value[1], struct.unpack("!H", value[2:4])[0]
    port = xport ^ (COOKIE >> 16)
    if family == 1:
        ip = ipaddress.ip_address(struct.unpack("!I", value[4:8])[0] ^ COOKIE)
    else:
        key = struct.pack("!I", COOKIE) + tid
        ip = ipaddress.ip_address(bytes(a ^ b for a, b in zip(value[4:20], key)))
    return str(ip), port


class Message:
    def __init__(self, method, cls, tid=None):
        self.method, self.cls = method, cls
        self.tid = tid or os.urandom(12)
        self.attrs = []

    def add(self, typ, value):
        self.attrs.append((typ, bytes(value)))
        return self

    def _type(self):
        m, c = self.method, self.cls
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)

    def _encode(self, attrs):
        body = b""
        for typ, value in attrs:
            body += struct.pack("!HH", typ, len(value)) + value + b"\0" * (-len(value) % 4)
        return body

    def build(self, key=None, fingerprint=True):
        body = self._encode(self.attrs)
        if key is not None:
            header = struct.pack("!HHI", self._type(), len(body) + 24, COOKIE) + self.tid
            mac = hmac.new(key, header + body, hashlib.sha1).digest()
            body += struct.pack("!HH", MESSAGE_INTEGRITY, 20) + mac
        if fingerprint:
            header = struct.pack("!HHI", self._type(), len(body) + 8, COOKIE) + self.tid
            crc = (binascii.crc32(header + body) ^ 0x5354554E) & 0xFFFFFFFF
            body += struct.pack("!HHI", FINGERPRINT, 4, crc)
        return struct.pack("!HHI", self._type(), len(body), COOKIE) + self.tid + body


class Answer:
    def __init__(self, data):
        self.raw = data
        typ, length, cookie = struct.unpack("!HHI", data[:8])
        assert cookie == COOKIE, "not STUN"
        self.tid = data[8:20]
        self.cls = ((typ >> 4) & 1) | ((typ >> 7) & 2)
        self.method = (typ & 0x000F) | ((typ >> 1) & 0x0070) | ((typ >> 2) & 0x0F80)
        self.attrs = {}
        self.order = []
        off = 20
        while off + 4 <= 20 + length:
            t, n = struct.unpack("!HH", data[off:off + 4])
            self.attrs.setdefault(t, data[off + 4:off + 4 + n])
            self.order.append(t)
            off += 4 + n + (-n % 4)

    @property
    def success(self):
        return self.cls == 2

    @property
    def code(self):
        v = self.attrs.get(ERROR_CODE)
        return None if v is None else v[2] * 100 + v[3]

    def text(self, attr):
        v = self.attrs.get(attr)
        return None if v is None else v.decode()

    def address(self, attr):
        return parse_xor_address(self.attrs[attr], self.tid)


def long_term_key(username, realm, password):
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


class TurnClient:
    """One client transport address over UDP (or a TCP/TLS stream given as `sock`)."""

    def __init__(self, server, username=None, password=None, sock=None, timeout=2.0):
        self.server = server
        self.stream = sock is not None
        self.sock = sock or socket.socket(socket.AF_INET6 if ":" in server[0] else socket.AF_INET, socket.SOCK_DGRAM)
        if not self.stream:
            self.sock.bind(("::1" if ":" in server[0] else "127.0.0.1", 0))
        self.sock.settimeout(timeout)
        self.username, self.password = username, password
        self.realm = self.nonce = None
        self.buffer = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        if self.stream:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.server)

    def recv_raw(self):
        if not self.stream:
            return self.sock.recvfrom(70000)[0]
        while True:
            if len(self.buffer) >= 4:
                first = self.buffer[0] >> 6
                if first == 0:
                    need = 20 + struct.unpack("!H", self.buffer[2:4])[0]
                else:
                    n = struct.unpack("!H", self.buffer[2:4])[0]
                    need = 4 + n + (-n % 4)
                if len(self.buffer) >= need:
                    frame, self.buffer = self.buffer[:need], self.buffer[need:]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk

    def request(self, msg, key=None):
        self.send_raw(msg.build(key))
        while True:
            data = self.recv_raw()
            if data[0] >> 6 != 0:
                continue
            a = Answer(data)
            if a.tid == msg.tid:
                return a

    def auth_request(self, method, attrs=()):
        """Sends with credentials; answers a 401/438 challenge once."""
        for _ in range(3):
            m = Message(method, 0)
            for t, v in attrs:
                m.add(t, v)
            if self.nonce is None:
                a = self.request(m)
            else:
                m.add(USERNAME, self.username.encode()).add(REALM, self.realm.encode()).add(NONCE, self.nonce.encode())
                a = self.request(m, long_term_key(self.username, self.realm, self.password))
            if a.code in (401, 438) and a.text(NONCE):
                if a.code == 401 and self.nonce is not None:
                    return a  # credentials were given and refused
                self.realm, self.nonce = a.text(REALM), a.text(NONCE)
                continue
            return a
        return a

    def allocate(self, lifetime=None):
        attrs = [(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))]
        if lifetime is not None:
            attrs.append((LIFETIME, struct.pack("!I", lifetime)))
        return self.auth_request(ALLOCATE, attrs)

    def create_permission(self, host, port=0):
        return self._with_peer(CREATE_PERMISSION, host, port)

    def channel_bind(self, number, host, port):
        return self._with_peer(CHANNEL_BIND, host, port, [(CHANNEL_NUMBER, struct.pack("!HH", number, 0))])

    def _with_peer(self, method, host, port, extra=()):
        # XOR-PEER-ADDRESS depends on the transaction id only for IPv6; build per attempt.
        for _ in range(3):
            m = Message(method, 0)
            m.add(XOR_PEER_ADDRESS, xor_address(host, port, m.tid))
            for t, v in extra:
                m.add(t, v)
            m.add(USERNAME, self.username.encode()).add(REALM, self.realm.encode()).add(NONCE, self.nonce.encode())
            a = self.request(m, long_term_key(self.username, self.realm, self.password))
            if a.code == 438:
                self.nonce = a.text(NONCE)
                continue
            return a
        return a

    def send_indication(self, host, port, payload):
        m = Message(SEND, 1)
        m.add(XOR_PEER_ADDRESS, xor_address(host, port, m.tid)).add(DATA_ATTR, payload)
        self.send_raw(m.build(fingerprint=False))

    def channel_data(self, number, payload):
        pad = b"\0" * (-len(payload) % 4) if self.stream else b""
        self.send_raw(struct.pack("!HH", number, len(payload)) + payload + pad)
