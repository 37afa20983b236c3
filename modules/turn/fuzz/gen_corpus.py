#!/usr/bin/env python3
"""Writes the TURN fuzzer's seed corpus: a few valid messages, one per file.

Usage: modules/turn/fuzz/gen_corpus.py [OUTDIR]   (default: corpus/ beside this script)

Independent of the C++ codec on purpose (Python's hmac, hashlib and zlib), so the seeds also
cross-check it. The credentials match turn_fuzz.cpp: realm "palaver", static user "fuzz" with
password "fuzzpw", REST secret "fuzz-secret". The fuzzer re-signs requests that carry integrity
(fresh NONCE, recomputed MACs), so the placeholder nonce below does not need to be valid. The
last transaction-id byte steers the harness: bit 0 sends the re-signed copy over the TCP 5-tuple,
bit 2 over TLS, otherwise UDP; bit 1 keeps the NONCE as sent.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys
import zlib

COOKIE = 0x2112A442
REALM = b"palaver"
STATIC_USER, STATIC_PASSWORD = b"fuzz", b"fuzzpw"
SECRET = b"fuzz-secret"
NONCE = b"000000000000" + b"A" * 22  # the shape of ours: 12 hex digits + 22 base64url characters

# Methods and classes (RFC 8489 §5, RFC 8656 §17).
BINDING, ALLOCATE, REFRESH, SEND, CREATE_PERMISSION, CHANNEL_BIND = 0x001, 0x003, 0x004, 0x006, 0x008, 0x009
REQUEST, INDICATION = 0, 1

# Attributes.
USERNAME, MESSAGE_INTEGRITY, CHANNEL_NUMBER, LIFETIME = 0x0006, 0x0008, 0x000C, 0x000D
XOR_PEER_ADDRESS, DATA, REALM_ATTR, NONCE_ATTR = 0x0012, 0x0013, 0x0014, 0x0015
REQUESTED_ADDRESS_FAMILY, REQUESTED_TRANSPORT, MESSAGE_INTEGRITY_SHA256 = 0x0017, 0x0019, 0x001C
SOFTWARE, FINGERPRINT = 0x8022, 0x8028


def msg_type(method, cls):
    return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7)


def attr(t, value):
    return struct.pack("!HH", t, len(value)) + value + b"\0" * (-len(value) % 4)


def header(t, length, tid):
    return struct.pack("!HHI", t, length, COOKIE) + tid


def message(method, cls, tid, attrs, key=None, sha256=False, fingerprint=False):
    t = msg_type(method, cls)
    body = b"".join(attrs)
    if key is not None:
        # The length field covers the integrity attribute itself (RFC 8489 §14.5, §14.6).
        if sha256:
            mac = hmac.new(key, header(t, len(body) + 36, tid) + body, hashlib.sha256).digest()
            body += attr(MESSAGE_INTEGRITY_SHA256, mac)
        else:
            mac = hmac.new(key, header(t, len(body) + 24, tid) + body, hashlib.sha1).digest()
            body += attr(MESSAGE_INTEGRITY, mac)
    if fingerprint:
        crc = zlib.crc32(header(t, len(body) + 8, tid) + body) ^ 0x5354554E
        body += attr(FINGERPRINT, struct.pack("!I", crc))
    return header(t, len(body), tid) + body


def xor_v4(ip, port):
    a = bytes(int(x) for x in ip.split("."))
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + bytes(x ^ y for x, y in zip(a, struct.pack("!I", COOKIE)))


def long_term_key(username, password):
    return hashlib.md5(username + b":" + REALM + b":" + password).digest()


def credentials(username, password):
    return [attr(USERNAME, username), attr(REALM_ATTR, REALM), attr(NONCE_ATTR, NONCE)], long_term_key(username, password)


def rest_password(username):
    return base64.b64encode(hmac.new(SECRET, username, hashlib.sha1).digest())


def tid(n, last=0):
    return bytes((n * 31 + i * 7 + 1) & 0xFF for i in range(11)) + bytes([last])


def channel_data(channel, data, pad=True):
    return struct.pack("!HH", channel, len(data)) + data + (b"\0" * (-len(data) % 4) if pad else b"")


# RFC 5769 §2 test vectors, as in tests/stun_test.cpp.
RFC5769 = {
    "rfc5769_request": """
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf""",
    "rfc5769_ipv4_response": """
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96""",
    "rfc5769_ipv6_response": """
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c""",
    "rfc5769_long_term_request": """
        00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
        00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
        00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
        00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
        00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66""",
}


def seeds():
    out = {name: bytes.fromhex(" ".join(text.split())) for name, text in RFC5769.items()}
    # The RFC's request is protected with the short-term password; check our HMAC against it.
    req = out["rfc5769_request"]
    assert hmac.new(b"VOkJxbRl1RmTxUk/WvJxBt", req[:2] + struct.pack("!H", 0x58 - 8) + req[4:76], hashlib.sha1).digest() == req[80:100]

    out["binding_request"] = message(BINDING, REQUEST, tid(1), [])
    out["binding_request_fingerprint"] = message(BINDING, REQUEST, tid(2), [attr(SOFTWARE, b"seed")], fingerprint=True)
    transport = attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))
    out["allocate_unauthenticated"] = message(ALLOCATE, REQUEST, tid(3), [transport])

    cred, key = credentials(STATIC_USER, STATIC_PASSWORD)
    out["allocate_static_user"] = message(ALLOCATE, REQUEST, tid(4), [transport, attr(LIFETIME, struct.pack("!I", 1200))] + cred,
                                          key=key, fingerprint=True)
    rest_user = b"4000000000:alice"
    rcred, rkey = credentials(rest_user, rest_password(rest_user))
    out["allocate_rest_sha256_ipv6_tcp"] = message(ALLOCATE, REQUEST, tid(5, last=1),
                                                   [transport, attr(REQUESTED_ADDRESS_FAMILY, bytes([2, 0, 0, 0]))] + rcred,
                                                   key=rkey, sha256=True)
    out["create_permission"] = message(CREATE_PERMISSION, REQUEST, tid(6),
                                       [attr(XOR_PEER_ADDRESS, xor_v4("127.0.0.1", 5000)),
                                        attr(XOR_PEER_ADDRESS, xor_v4("192.0.2.77", 0))] + cred, key=key)
    out["channel_bind"] = message(CHANNEL_BIND, REQUEST, tid(7),
                                  [attr(CHANNEL_NUMBER, struct.pack("!HH", 0x4001, 0)),
                                   attr(XOR_PEER_ADDRESS, xor_v4("127.0.0.1", 5000))] + cred, key=key)
    out["refresh"] = message(REFRESH, REQUEST, tid(8), [attr(LIFETIME, struct.pack("!I", 900))] + cred, key=key)
    out["send_indication"] = message(SEND, INDICATION, tid(9),
                                     [attr(XOR_PEER_ADDRESS, xor_v4("127.0.0.1", 5000)), attr(DATA, b"hello peer")])
    out["channel_data"] = channel_data(0x4001, b"hello")
    # A TCP stream: STUN and ChannelData back to back (RFC 6544 framing).
    out["stream"] = out["binding_request"] + channel_data(0x4001, b"hi there") + out["allocate_unauthenticated"]
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(outdir, name + ".bin"), "wb") as f:
            f.write(data)
        print(f"{name}.bin: {len(data)} bytes")


if __name__ == "__main__":
    main()
