"""WebSocket conformance (RFC 6455): a port of the Autobahn test suite's key cases (sections 1-7:
framing, pings and pongs, reserved bits, opcodes, fragmentation, UTF-8 handling including fail-fast
and sequences split across fragments, close handling), run against the testbed's echo endpoint
(`/testbed/ws`: text comes back as "echo:<text>", binary as it was, 4096-byte message limit) of the
real palaverd. The Autobahn suite itself needs Python 2 and Twisted, which Debian 12 lacks."""
import os
import socket
import struct
import time
import unittest

from harness import PALAVERD_TESTBED, Palaverd, WsClient

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


class Ws(WsClient):
    def raw_frame(self, payload, opcode=TEXT, fin=True, rsv=0, mask=True, length_override=None):
        """Any frame, valid or not."""
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length_override is None else length_override
        mbit = 0x80 if mask else 0
        if n < 126:
            head = bytes([b0, mbit | n])
        elif n < 65536:
            head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
        else:
            head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        return head + payload

    def next_frame(self, timeout=5):
        """(fin, opcode, payload) of the next frame as sent, pings not answered."""
        self.sock.settimeout(timeout)
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._read(n)

    def close_frame(self, timeout=5):
        """The close frame's (code, reason) the server sends next, skipping data frames; None
        when the connection ends without one."""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                _, opcode, payload = self.next_frame(timeout=max(0.1, deadline - time.time()))
                if opcode == CLOSE:
                    if len(payload) < 2:
                        return 1005, b""
                    return struct.unpack(">H", payload[:2])[0], payload[2:]
        except (ConnectionError, OSError):
            return None
        return None

    def closed_by_server(self, timeout=5):
        """True when the server ends the TCP connection after its close frame."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except (ConnectionError, OSError) as e:
            return not isinstance(e, (socket.timeout, TimeoutError))


class WebSocketConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Palaverd({"palaver": {"max_connections_per_ip": "200"}}, binary=PALAVERD_TESTBED)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def ws(self):
        c = Ws(self.s.tls_socket(), "/testbed/ws")
        self.addCleanup(c.sock.close)
        self.assertEqual(c.status, 101)
        opcode, hello = c.recv()
        self.assertTrue(hello.startswith(b"hello "))
        return c

    def assert_echo(self, c, text):
        c.send(text)
        self.assertEqual(c.recv(), (TEXT, b"echo:" + (text.encode() if isinstance(text, str) else text)))

    def assert_fails(self, c, code):
        got = c.close_frame()
        self.assertIsNotNone(got, "no close frame")
        self.assertEqual(got[0], code, got)
        self.assertTrue(c.closed_by_server(), "the server kept the connection after failing it")

    # --- 1.1 / 1.2: framing of text and binary messages ----------------------------------

    def test_1_text_payload_lengths(self):
        c = self.ws()
        for n in (0, 1, 125, 126, 127, 128, 4000 - 5):
            self.assert_echo(c, "*" * n)

    def test_1_binary_payload_lengths_and_every_byte_value(self):
        c = self.ws()
        for payload in (b"", bytes(range(256)), os.urandom(125), os.urandom(126), os.urandom(4096)):
            c.send_frame(payload, opcode=BINARY)
            self.assertEqual(c.recv(), (BINARY, payload))

    def test_1_frame_in_many_small_writes(self):
        c = self.ws()
        frame = c.raw_frame(b"chopped up")
        for i in range(len(frame)):
            c.sock.sendall(frame[i:i + 1])
            time.sleep(0.005)
        self.assertEqual(c.recv(), (TEXT, b"echo:chopped up"))

    def test_1_several_frames_in_one_write(self):
        c = self.ws()
        c.sock.sendall(b"".join(c.raw_frame(f"m{i}".encode()) for i in range(20)))
        for i in range(20):
            self.assertEqual(c.recv(), (TEXT, f"echo:m{i}".encode()))

    # --- 2: pings and pongs -------------------------------------------------------------------

    def test_2_ping_is_answered_with_its_payload(self):
        c = self.ws()
        for payload in (b"", b"ping", bytes(range(125))):
            c.sock.sendall(c.raw_frame(payload, opcode=PING))
            fin, opcode, got = c.next_frame()
            self.assertEqual((fin, opcode, got), (True, PONG, payload))

    def test_2_ping_over_125_bytes_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"x" * 126, opcode=PING))
        self.assert_fails(c, 1002)

    def test_2_unsolicited_pong_is_ignored(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"unasked", opcode=PONG))
        self.assert_echo(c, "still here")

    def test_2_ten_pings_ten_pongs(self):
        c = self.ws()
        c.sock.sendall(b"".join(c.raw_frame(f"p{i}".encode(), opcode=PING) for i in range(10)))
        pongs = [c.next_frame() for _ in range(10)]
        self.assertEqual([p[2] for p in pongs], [f"p{i}".encode() for i in range(10)])

    # --- 3: reserved bits ---------------------------------------------------------------------

    def test_3_reserved_bits_fail_1002(self):
        for rsv in (1, 2, 3, 4, 5, 6, 7):
            with self.subTest(rsv=rsv):
                c = self.ws()
                c.sock.sendall(c.raw_frame(b"hello", rsv=rsv))
                self.assert_fails(c, 1002)

    def test_3_reserved_bits_on_a_ping_fail_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"hello", opcode=PING, rsv=4))
        self.assert_fails(c, 1002)

    # --- 4: opcodes -----------------------------------------------------------------------------

    def test_4_reserved_opcodes_fail_1002(self):
        for opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
            with self.subTest(opcode=opcode):
                c = self.ws()
                c.sock.sendall(c.raw_frame(b"", opcode=opcode))
                self.assert_fails(c, 1002)

    def test_4_reserved_opcode_after_a_valid_message(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"first") + c.raw_frame(b"x", opcode=5) + c.raw_frame(b"never"))
        self.assertEqual(c.recv(), (TEXT, b"echo:first"))
        self.assert_fails(c, 1002)

    # --- 5: fragmentation ---------------------------------------------------------------------

    def test_5_text_in_fragments(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"fra", fin=False) + c.raw_frame(b"gme", opcode=CONT, fin=False) +
                       c.raw_frame(b"nts", opcode=CONT))
        self.assertEqual(c.recv(), (TEXT, b"echo:fragments"))

    def test_5_empty_fragments(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"", fin=False) + c.raw_frame(b"", opcode=CONT, fin=False) +
                       c.raw_frame(b"", opcode=CONT))
        self.assertEqual(c.recv(), (TEXT, b"echo:"))

    def test_5_ping_between_fragments(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"one ", fin=False) + c.raw_frame(b"inbetween", opcode=PING) +
                       c.raw_frame(b"two", opcode=CONT))
        self.assertEqual(c.next_frame(), (True, PONG, b"inbetween"))
        self.assertEqual(c.recv(), (TEXT, b"echo:one two"))

    def test_5_fragments_written_slowly_with_pings(self):
        c = self.ws()
        for part, last in ((b"a", False), (b"b", False), (b"c", True)):
            c.sock.sendall(c.raw_frame(part, opcode=PING))
            self.assertEqual(c.next_frame(), (True, PONG, part))
            c.sock.sendall(c.raw_frame(part, opcode=TEXT if part == b"a" else CONT, fin=last))
            time.sleep(0.1)
        self.assertEqual(c.recv(), (TEXT, b"echo:abc"))

    def test_5_fragmented_ping_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"pi", opcode=PING, fin=False) + c.raw_frame(b"ng", opcode=CONT))
        self.assert_fails(c, 1002)

    def test_5_fragmented_close_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(struct.pack(">H", 1000), opcode=CLOSE, fin=False))
        self.assert_fails(c, 1002)

    def test_5_continuation_without_a_start_fails_1002(self):
        for fin in (True, False):
            with self.subTest(fin=fin):
                c = self.ws()
                c.sock.sendall(c.raw_frame(b"orphan", opcode=CONT, fin=fin))
                self.assert_fails(c, 1002)

    def test_5_new_message_inside_a_fragmented_one_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"start", fin=False) + c.raw_frame(b"another", opcode=TEXT))
        self.assert_fails(c, 1002)

    def test_5_fragmented_message_over_the_limit_fails_1009(self):
        c = self.ws()
        for _ in range(4):
            c.sock.sendall(c.raw_frame(b"x" * 1200, opcode=TEXT if _ == 0 else CONT, fin=False))
        self.assert_fails(c, 1009)

    # --- 6: UTF-8 -----------------------------------------------------------------------------

    def test_6_valid_utf8_is_echoed(self):
        c = self.ws()
        for text in ("κόσμε", "\u0000", "\u007f\u0080\u07ff\u0800\uffff", "\U00010000\U0010ffff", "\ufeff"):
            self.assert_echo(c, text)

    def test_6_valid_utf8_split_across_fragments_at_every_byte(self):
        data = "κόσμε𝄞".encode()
        for cut in range(1, len(data)):
            with self.subTest(cut=cut):
                c = self.ws()
                c.sock.sendall(c.raw_frame(data[:cut], fin=False) + c.raw_frame(data[cut:], opcode=CONT))
                self.assertEqual(c.recv(), (TEXT, b"echo:" + data))

    def test_6_invalid_utf8_fails_1007(self):
        cases = {
            "lone continuation": b"\x80",
            "overlong slash": b"\xc0\xaf",
            "overlong 3-byte": b"\xe0\x80\xaf",
            "surrogate": b"\xed\xa0\x80",
            "over U+10FFFF": b"\xf4\x90\x80\x80",
            "F5 lead": b"\xf5\x80\x80\x80",
            "FE": b"\xfe",
            "truncated at end": "κόσμε".encode() + b"\xce",
        }
        for name, payload in cases.items():
            with self.subTest(name):
                c = self.ws()
                c.sock.sendall(c.raw_frame(payload))
                self.assert_fails(c, 1007)

    def test_6_invalid_utf8_split_across_fragments_fails_1007(self):
        c = self.ws()
        # A valid lead byte in one fragment, an invalid continuation in the next.
        c.sock.sendall(c.raw_frame(b"abc\xe2", fin=False) + c.raw_frame(b"\x28\xa1", opcode=CONT))
        self.assert_fails(c, 1007)

    def test_6_incomplete_sequence_at_the_end_of_fragments_fails_1007(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"abc", fin=False) + c.raw_frame(b"\xe2\x82", opcode=CONT))
        self.assert_fails(c, 1007)

    def test_6_fail_fast_on_invalid_utf8_before_the_message_ends(self):
        # Autobahn 6.4: the server fails as soon as a fragment is invalid, without waiting for
        # the rest of the message (which never comes here).
        c = self.ws()
        c.sock.sendall(c.raw_frame("κόσμε".encode() + b"\xf4\x90\x80\x80", fin=False))
        self.assert_fails(c, 1007)

    def test_6_binary_is_not_checked_for_utf8(self):
        c = self.ws()
        c.send_frame(b"\xff\xfe\xed\xa0\x80", opcode=BINARY)
        self.assertEqual(c.recv(), (BINARY, b"\xff\xfe\xed\xa0\x80"))

    # --- 7: close handling --------------------------------------------------------------------

    def test_7_close_without_payload_is_answered_and_closed(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"", opcode=CLOSE))
        got = c.close_frame()
        self.assertIn(got[0], (1000, 1005))
        self.assertTrue(c.closed_by_server())

    def test_7_close_with_a_1_byte_payload_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"\x03", opcode=CLOSE))
        self.assert_fails(c, 1002)

    def test_7_valid_close_codes_are_echoed(self):
        for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
            with self.subTest(code=code):
                c = self.ws()
                c.sock.sendall(c.raw_frame(struct.pack(">H", code) + b"bye", opcode=CLOSE))
                got = c.close_frame()
                self.assertIsNotNone(got)
                self.assertEqual(got[0], code)
                self.assertTrue(c.closed_by_server())

    def test_7_invalid_close_codes_fail_1002(self):
        for code in (0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535):
            with self.subTest(code=code):
                c = self.ws()
                c.sock.sendall(c.raw_frame(struct.pack(">H", code), opcode=CLOSE))
                self.assert_fails(c, 1002)

    def test_7_close_reason_with_invalid_utf8_fails_1007(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(struct.pack(">H", 1000) + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
                                   opcode=CLOSE))
        self.assert_fails(c, 1007)

    def test_7_close_over_125_bytes_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(struct.pack(">H", 1000) + b"r" * 124, opcode=CLOSE))
        self.assert_fails(c, 1002)

    def test_7_nothing_after_close_is_answered(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(struct.pack(">H", 1000), opcode=CLOSE) + c.raw_frame(b"after") +
                       c.raw_frame(b"p", opcode=PING))
        frames = []
        try:
            while True:
                frames.append(c.next_frame(timeout=3))
        except (ConnectionError, OSError):
            pass
        self.assertEqual([f[1] for f in frames], [CLOSE], frames)

    def test_7_close_in_the_middle_of_a_fragmented_message(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"half", fin=False) + c.raw_frame(struct.pack(">H", 1000), opcode=CLOSE))
        got = c.close_frame()
        self.assertEqual(got[0], 1000)
        self.assertTrue(c.closed_by_server())

    # --- 9-ish: masking and lengths -----------------------------------------------------------

    def test_unmasked_frame_fails_1002(self):
        c = self.ws()
        c.sock.sendall(c.raw_frame(b"plain", mask=False))
        self.assert_fails(c, 1002)

    def test_declared_length_over_the_limit_fails_1009_before_the_payload(self):
        c = self.ws()
        # Only the header of a 2^40-byte frame: refused from the header alone.
        c.sock.sendall(c.raw_frame(b"", length_override=2 ** 40)[:10] + os.urandom(4))
        self.assert_fails(c, 1009)

    def test_64_bit_length_with_the_top_bit_set_fails(self):
        c = self.ws()
        c.sock.sendall(bytes([0x81, 0xFF]) + struct.pack(">Q", 2 ** 63 + 5) + os.urandom(4))
        got = c.close_frame()
        self.assertIsNotNone(got)
        self.assertIn(got[0], (1002, 1009))


if __name__ == "__main__":
    unittest.main()
