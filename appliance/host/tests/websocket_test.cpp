// Tests for the RFC 6455 server-side codec: every violation with its close code first, then RFC 6455 §5.7
// examples, fragmentation, split input, and cases ported from the Autobahn test suite (numbers in comments).
#include "net/websocket.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>

namespace palaver::host::net {
namespace {

using namespace std::string_literals;
using Kind = WsEvent::Kind;
constexpr size_t kMax = 1 << 16;
constexpr uint8_t kFin = 0x80;

uint8_t Op(WsOpcode op) { return static_cast<uint8_t>(op); }

// A client frame. `len_bytes` forces the length encoding: 0 minimal, 2 (126 + 16 bit) or 8 (127 + 64 bit).
std::string RawFrame(uint8_t first, std::string_view payload, int len_bytes = 0, bool masked = true,
                     std::array<uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d}) {
  std::string f(1, static_cast<char>(first));
  const uint8_t mask_bit = masked ? 0x80 : 0x00;
  const uint64_t len = payload.size();
  if (len_bytes == 0) len_bytes = len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;
  if (len_bytes == 0) {
    f.push_back(static_cast<char>(mask_bit | len));
  } else {
    f.push_back(static_cast<char>(mask_bit | (len_bytes == 2 ? 126 : 127)));
    for (int i = len_bytes - 1; i >= 0; --i) f.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  }
  if (masked) f.append(reinterpret_cast<const char*>(mask.data()), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(static_cast<uint8_t>(payload[i]) ^ (masked ? mask[i % 4] : 0)));
  }
  return f;
}

std::string Frame(bool fin, WsOpcode op, std::string_view payload) {
  return RawFrame(static_cast<uint8_t>((fin ? kFin : 0) | Op(op)), payload);
}

std::string ClosePayload(int code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

struct Result {
  std::vector<WsEvent> events;
  bool failed = false;
  int code = 0;
  size_t consumed = 0;
};

Result FeedWhole(std::string_view bytes, size_t max = kMax) {
  WsReader r(max);
  Result res;
  res.consumed = r.Feed(bytes, res.events);
  res.failed = r.failed();
  res.code = r.close_code();
  return res;
}

Result FeedBytewise(std::string_view bytes, size_t max = kMax) {
  WsReader r(max);
  Result res;
  for (size_t i = 0; i < bytes.size() && !r.failed(); ++i) res.consumed += r.Feed(bytes.substr(i, 1), res.events);
  res.failed = r.failed();
  res.code = r.close_code();
  return res;
}

void ExpectFails(std::string_view bytes, int code, const char* what, size_t max = kMax) {
  SCOPED_TRACE(what);
  Result whole = FeedWhole(bytes, max);
  EXPECT_TRUE(whole.failed);
  EXPECT_EQ(whole.code, code);
  Result bytewise = FeedBytewise(bytes, max);
  EXPECT_TRUE(bytewise.failed);
  EXPECT_EQ(bytewise.code, code);
  EXPECT_EQ(bytewise.consumed, whole.consumed);
  EXPECT_EQ(bytewise.events.size(), whole.events.size());
}

TEST(WsReader, RejectsUnmaskedFrame) {
  // RFC 6455 §5.7 "single-frame unmasked text message", as a client would (wrongly) send it.
  ExpectFails("\x81\x05Hello", 1002, "unmasked");
  Result r = FeedWhole("\x81\x05Hello");
  EXPECT_EQ(r.consumed, 2u);  // detected at the second byte
}

TEST(WsReader, RejectsRsvBits) {
  for (uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    ExpectFails(RawFrame(kFin | rsv | Op(WsOpcode::kText), "Hello"), 1002, "rsv");
    EXPECT_EQ(FeedWhole(RawFrame(kFin | rsv | 1, "Hello")).consumed, 1u);
  }
}

TEST(WsReader, RejectsReservedOpcodes) {  // Autobahn 4.1.x, 4.2.x
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    ExpectFails(RawFrame(kFin | op, ""), 1002, "reserved opcode");
    ExpectFails(Frame(false, WsOpcode::kText, "a") + RawFrame(kFin | op, "x"), 1002, "inside a message");
  }
}

TEST(WsReader, RejectsFragmentedControlFrames) {  // Autobahn 5.1, 5.2
  ExpectFails(Frame(false, WsOpcode::kPing, "a"), 1002, "ping");
  ExpectFails(Frame(false, WsOpcode::kPong, "a"), 1002, "pong");
  ExpectFails(Frame(false, WsOpcode::kClose, ""), 1002, "close");
}

TEST(WsReader, RejectsControlPayloadOver125) {  // Autobahn 2.5
  ExpectFails(Frame(true, WsOpcode::kPing, std::string(126, 'x')), 1002, "ping 126");
  ExpectFails(RawFrame(kFin | Op(WsOpcode::kPing), "abc", 2), 1002, "16-bit length encoding on ping");
  ExpectFails(RawFrame(kFin | Op(WsOpcode::kPong), "abc", 8), 1002, "64-bit length encoding on pong");
  ExpectFails(Frame(true, WsOpcode::kClose, ClosePayload(1000, std::string(124, 'r'))), 1002, "close 126");
}

TEST(WsReader, RejectsContinuationWithoutMessage) {  // Autobahn 5.9-5.14
  ExpectFails(Frame(true, WsOpcode::kContinuation, "x"), 1002, "final continuation");
  ExpectFails(Frame(false, WsOpcode::kContinuation, "x"), 1002, "non-final continuation");
  ExpectFails(Frame(true, WsOpcode::kText, "a") + Frame(true, WsOpcode::kContinuation, "b"), 1002,
              "after a complete message");
}

TEST(WsReader, RejectsNewDataFrameInsideFragmentedMessage) {  // Autobahn 5.15-5.18
  ExpectFails(Frame(false, WsOpcode::kText, "a") + Frame(true, WsOpcode::kText, "b"), 1002, "text in text");
  ExpectFails(Frame(false, WsOpcode::kBinary, "a") + Frame(false, WsOpcode::kText, "b"), 1002, "text in binary");
  ExpectFails(Frame(false, WsOpcode::kText, "a") + Frame(true, WsOpcode::kBinary, "b"), 1002, "binary in text");
}

TEST(WsReader, Rejects64BitLengthWithTopBit) {
  std::string f = "\x82\xff"s + "\x80\x00\x00\x00\x00\x00\x00\x01"s + "\x01\x02\x03\x04"s;
  ExpectFails(f, 1002, "MSB set", SIZE_MAX);
  EXPECT_EQ(FeedWhole(f, SIZE_MAX).consumed, 10u);  // before the mask arrives
}

TEST(WsReader, RejectsCloseWithOneBytePayload) {  // Autobahn 7.3.2
  ExpectFails(Frame(true, WsOpcode::kClose, "\x03"), 1002, "1 byte");
}

TEST(WsReader, RejectsInvalidCloseCodes) {  // Autobahn 7.9.x
  for (int code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    ExpectFails(Frame(true, WsOpcode::kClose, ClosePayload(code)), 1002, std::to_string(code).c_str());
  }
}

TEST(WsReader, RejectsInvalidUtf8InCloseReason) {  // Autobahn 7.5.1
  ExpectFails(
      Frame(true, WsOpcode::kClose, ClosePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")),
      1007, "surrogate");
  ExpectFails(Frame(true, WsOpcode::kClose, ClosePayload(1000, "ab\xc3")), 1007, "truncated");
}

TEST(WsReader, RejectsInvalidUtf8Text) {  // Autobahn 6.3.1, 6.8.x, 6.14.x
  ExpectFails(
      Frame(true, WsOpcode::kText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"),
      1007, "6.3.1");
  ExpectFails(Frame(true, WsOpcode::kText, "\xf8\x88\x80\x80\x80"), 1007, "5-byte sequence");
  ExpectFails(Frame(true, WsOpcode::kText, "\xc0\xaf"), 1007, "overlong /");
  ExpectFails(Frame(true, WsOpcode::kText, "\xf4\x90\x80\x80"), 1007, "above U+10FFFF");
  ExpectFails(Frame(true, WsOpcode::kText, "\x80"), 1007, "lone continuation");
  ExpectFails(Frame(true, WsOpcode::kText, "ok\xe2\x82"), 1007, "ends inside a sequence");
}

TEST(WsReader, InvalidUtf8FailsFastAcrossFragments) {  // Autobahn 6.4.1-6.4.4
  // Fragment 2 is invalid: fail before the final fragment arrives.
  std::string s = Frame(false, WsOpcode::kText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5") +
                  Frame(false, WsOpcode::kContinuation, "\xf4\x90\x80\x80");
  ExpectFails(s, 1007, "6.4.1");
  // Sequence split across fragments, invalid in its second half.
  ExpectFails(Frame(false, WsOpcode::kText, "a\xed") + Frame(false, WsOpcode::kContinuation, "\xa0\x80"), 1007,
              "surrogate split across fragments");
  // Open sequence at the end of the message.
  ExpectFails(Frame(false, WsOpcode::kText, "a\xe2") + Frame(true, WsOpcode::kContinuation, "\x82"), 1007,
              "truncated at message end");
  // Within one frame: fails as soon as the bad byte arrives, without the frame's remaining payload.
  std::string big = Frame(true, WsOpcode::kText, "abc\xff" + std::string(1000, 'x'));
  Result r = FeedWhole(big);
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(r.code, 1007);
  EXPECT_EQ(r.consumed, 2u + 2u + 4u + 4u);  // up to the bad byte
}

TEST(WsReader, RejectsTooBigMessageFromTheHeader) {
  // A frame declaring more than the limit fails right after its length field, before the payload.
  std::string f = Frame(true, WsOpcode::kBinary, std::string(101, 'x'));
  ExpectFails(f, 1009, "one frame", 100);
  EXPECT_EQ(FeedWhole(f, 100).consumed, 2u);
  std::string huge = "\x82\xff"s + "\x7f\xff\xff\xff\xff\xff\xff\xff"s;
  ExpectFails(huge, 1009, "2^63-1 declared", 100);
  // Fragments add up: the second header already exceeds.
  std::string frags =
      Frame(false, WsOpcode::kText, std::string(60, 'a')) + Frame(true, WsOpcode::kContinuation, std::string(41, 'b'));
  ExpectFails(frags, 1009, "fragments", 100);
  // Control frames interleaved do not count towards the message.
  std::string ok = Frame(false, WsOpcode::kText, std::string(60, 'a')) + Frame(true, WsOpcode::kPing, "p") +
                   Frame(true, WsOpcode::kContinuation, std::string(40, 'b'));
  Result r = FeedWhole(ok, 100);
  EXPECT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[1].data.size(), 100u);
}

TEST(WsReader, FailureIsSticky) {
  WsReader r(kMax);
  std::vector<WsEvent> events;
  EXPECT_EQ(r.Feed("\x81\x05Hello", events), 2u);
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.error().empty());
  EXPECT_EQ(r.Feed(Frame(true, WsOpcode::kText, "x"), events), 0u);
  EXPECT_TRUE(events.empty());
}

TEST(WsReader, EventsBeforeAViolationAreKept) {
  Result r = FeedWhole(Frame(true, WsOpcode::kText, "ok") + Frame(true, WsOpcode::kPing, "p") + "\x81\x00"s);
  EXPECT_TRUE(r.failed);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].data, "ok");
  EXPECT_EQ(r.events[1].kind, Kind::kPing);
}

TEST(WsReader, Rfc6455MaskedExamples) {
  // §5.7 "single-frame masked text message" and "masked Pong response".
  Result r =
      FeedWhole("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s + "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s);
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].kind, Kind::kMessage);
  EXPECT_FALSE(r.events[0].binary);
  EXPECT_EQ(r.events[0].data, "Hello");
  EXPECT_EQ(r.events[1].kind, Kind::kPong);
  EXPECT_EQ(r.events[1].data, "Hello");
  EXPECT_EQ(r.consumed, 22u);
}

TEST(WsReader, Rfc6455FragmentedExample) {
  // §5.7 "fragmented unmasked text message", masked as a client sends it.
  Result r = FeedWhole(RawFrame(0x01, "Hel") + RawFrame(0x80, "lo", 0, true, {1, 2, 3, 4}));
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "Hello");
}

TEST(WsReader, LengthEncodings) {
  const std::string p256(256, 'b');
  const std::string p64k(65536, 'c');
  Result r = FeedWhole(Frame(true, WsOpcode::kBinary, p256) + Frame(true, WsOpcode::kBinary, p64k) +
                       RawFrame(kFin | 2, "short", 2) + RawFrame(kFin | 2, "tiny", 8) + RawFrame(kFin | 2, ""));
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 5u);
  EXPECT_TRUE(r.events[0].binary);
  EXPECT_EQ(r.events[0].data, p256);
  EXPECT_EQ(r.events[1].data, p64k);
  EXPECT_EQ(r.events[2].data, "short");  // non-minimal encodings are accepted
  EXPECT_EQ(r.events[3].data, "tiny");
  EXPECT_EQ(r.events[4].data, "");
}

TEST(WsReader, MessageOfExactlyTheLimit) {
  Result r = FeedWhole(Frame(false, WsOpcode::kBinary, std::string(50, 'a')) +
                           Frame(true, WsOpcode::kContinuation, std::string(50, 'b')),
                       100);
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, std::string(50, 'a') + std::string(50, 'b'));
}

TEST(WsReader, ControlFramesInterleavedInFragmentedMessage) {  // Autobahn 5.6-5.8, 5.19, 5.20
  std::string s = Frame(false, WsOpcode::kText, "frag1") + Frame(true, WsOpcode::kPing, "ping1") +
                  Frame(false, WsOpcode::kContinuation, "") + Frame(true, WsOpcode::kPong, "") +
                  Frame(false, WsOpcode::kContinuation, "frag2") + Frame(true, WsOpcode::kPing, std::string(125, 'p')) +
                  Frame(true, WsOpcode::kContinuation, "frag3") + Frame(true, WsOpcode::kBinary, "\xff\x00"s);
  for (Result r : {FeedWhole(s), FeedBytewise(s)}) {
    ASSERT_FALSE(r.failed);
    EXPECT_EQ(r.consumed, s.size());
    ASSERT_EQ(r.events.size(), 5u);
    EXPECT_EQ(r.events[0].kind, Kind::kPing);
    EXPECT_EQ(r.events[0].data, "ping1");
    EXPECT_EQ(r.events[1].kind, Kind::kPong);
    EXPECT_EQ(r.events[2].data, std::string(125, 'p'));
    EXPECT_EQ(r.events[3].kind, Kind::kMessage);
    EXPECT_EQ(r.events[3].data, "frag1frag2frag3");
    EXPECT_TRUE(r.events[4].binary);
    EXPECT_EQ(r.events[4].data, "\xff\x00"s);
  }
}

TEST(WsReader, ValidUtf8SplitAtEveryByteAcrossFragments) {  // Autobahn 6.2.3, 6.2.4
  const std::string text = "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!! \xf0\x9f\x98\x80";
  std::string s = Frame(false, WsOpcode::kText, text.substr(0, 1));
  for (size_t i = 1; i + 1 < text.size(); ++i) s += Frame(false, WsOpcode::kContinuation, text.substr(i, 1));
  s += Frame(true, WsOpcode::kContinuation, text.substr(text.size() - 1));
  Result r = FeedBytewise(s);
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, text);
}

TEST(WsReader, EverySplitEqualsWhole) {
  const std::string s = Frame(true, WsOpcode::kText, "first") + Frame(false, WsOpcode::kBinary, "a\x81") +
                        Frame(true, WsOpcode::kPing, "") + Frame(true, WsOpcode::kContinuation, std::string(300, 'z')) +
                        Frame(true, WsOpcode::kClose, ClosePayload(1000, "bye"));
  Result whole = FeedWhole(s);
  ASSERT_FALSE(whole.failed);
  ASSERT_EQ(whole.events.size(), 4u);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    WsReader r(kMax);
    std::vector<WsEvent> events;
    size_t consumed = r.Feed(std::string_view(s).substr(0, cut), events);
    consumed += r.Feed(std::string_view(s).substr(cut), events);
    ASSERT_FALSE(r.failed()) << cut;
    EXPECT_EQ(consumed, s.size()) << cut;
    ASSERT_EQ(events.size(), whole.events.size()) << cut;
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].kind, whole.events[i].kind);
      EXPECT_EQ(events[i].data, whole.events[i].data);
    }
  }
}

TEST(WsReader, CloseFrames) {  // Autobahn 7.3.1, 7.3.3-7.3.5, 7.7.x
  Result r = FeedWhole(Frame(true, WsOpcode::kClose, ""));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, Kind::kClose);
  EXPECT_EQ(r.events[0].close_code, 1005);
  EXPECT_EQ(r.events[0].data, "");
  const std::string reason123(123, 'r');
  r = FeedWhole(Frame(true, WsOpcode::kClose, ClosePayload(1000, reason123)));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].close_code, 1000);
  EXPECT_EQ(r.events[0].data, reason123);
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    r = FeedWhole(Frame(true, WsOpcode::kClose, ClosePayload(code, "caf\xc3\xa9")));
    ASSERT_FALSE(r.failed) << code;
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].close_code, code);
    EXPECT_EQ(r.events[0].data, "caf\xc3\xa9");
  }
}

TEST(WsReader, IgnoresEverythingAfterClose) {
  WsReader r(kMax);
  std::vector<WsEvent> events;
  std::string s = Frame(true, WsOpcode::kClose, ClosePayload(1001)) + Frame(true, WsOpcode::kText, "late") + "\xff";
  EXPECT_EQ(r.Feed(s, events), s.size());
  EXPECT_TRUE(r.closed());
  EXPECT_FALSE(r.failed());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].close_code, 1001);
  EXPECT_EQ(r.Feed("more", events), 4u);
  EXPECT_EQ(events.size(), 1u);
}

TEST(WsReader, EmptyMessages) {  // Autobahn 1.1.1, 1.2.1, 5.x empty fragments
  Result r = FeedWhole(Frame(true, WsOpcode::kText, "") + Frame(true, WsOpcode::kBinary, "") +
                       Frame(false, WsOpcode::kText, "") + Frame(true, WsOpcode::kContinuation, ""));
  ASSERT_FALSE(r.failed);
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_FALSE(r.events[0].binary);
  EXPECT_TRUE(r.events[1].binary);
  EXPECT_EQ(r.events[2].data, "");
}

TEST(WsReader, BinaryIsNotUtf8Checked) {
  Result r = FeedWhole(Frame(true, WsOpcode::kBinary, "\xff\xfe\xc0\x80"));
  ASSERT_FALSE(r.failed);
  EXPECT_EQ(r.events[0].data, "\xff\xfe\xc0\x80");
}

TEST(WsReader, PingPayloadNeedNotBeUtf8) {
  Result r = FeedWhole(Frame(true, WsOpcode::kPing, "\xff\x00\xfe"s));
  ASSERT_FALSE(r.failed);
  EXPECT_EQ(r.events[0].data, "\xff\x00\xfe"s);
}

TEST(WsReader, NoByteValueCrashesAsFirstOrSecondByte) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      WsReader r(64);
      std::vector<WsEvent> events;
      std::string s = {static_cast<char>(a), static_cast<char>(b), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
      size_t consumed = r.Feed(s, events);
      EXPECT_LE(consumed, s.size());
      if (r.failed()) {
        EXPECT_TRUE(r.close_code() == 1002 || r.close_code() == 1007 || r.close_code() == 1009);
      }
    }
  }
}

// An idle WebSocket drops its reader (WsSession::Sweep) whenever Idle() says so and makes a new one
// when data comes: that must change nothing. Idle exactly between frames and whole messages.
TEST(WsReader, IdleOnlyBetweenFramesAndAFreshReaderGoesOnTheSame) {
  const std::string stream = Frame(true, WsOpcode::kText, "one") +
                             Frame(false, WsOpcode::kText, "fra") +       // a message in fragments,
                             Frame(true, WsOpcode::kPing, "p") +          // a ping between them,
                             Frame(true, WsOpcode::kContinuation, "g\xc3\xa4") +  // UTF-8 checked over both
                             RawFrame(kFin | Op(WsOpcode::kBinary), std::string(300, 'b')) +
                             Frame(true, WsOpcode::kClose, ClosePayload(1000, "bye"));
  Result whole = FeedWhole(stream);
  ASSERT_FALSE(whole.failed);
  ASSERT_EQ(whole.events.size(), 5U);

  auto reader = std::make_unique<WsReader>(kMax);
  std::vector<WsEvent> events;
  std::vector<size_t> idle_at;
  int fresh = 0;
  for (size_t i = 0; i < stream.size(); ++i) {
    reader->Feed(std::string_view(stream).substr(i, 1), events);
    if (reader->Idle()) {
      idle_at.push_back(i + 1);
      reader = std::make_unique<WsReader>(kMax);
      ++fresh;
    }
  }
  // Idle after the first message, after the whole fragmented message (not after its first
  // fragment or the ping inside it), after the binary message; not after the close.
  const size_t one = Frame(true, WsOpcode::kText, "one").size();
  const size_t frag = Frame(false, WsOpcode::kText, "fra").size() + Frame(true, WsOpcode::kPing, "p").size() +
                      Frame(true, WsOpcode::kContinuation, "g\xc3\xa4").size();
  const size_t bin = RawFrame(kFin | Op(WsOpcode::kBinary), std::string(300, 'b')).size();
  EXPECT_EQ(idle_at, (std::vector<size_t>{one, one + frag, one + frag + bin}));
  EXPECT_EQ(fresh, 3);
  EXPECT_TRUE(reader->closed());
  EXPECT_FALSE(reader->Idle());
  ASSERT_EQ(events.size(), whole.events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kind, whole.events[i].kind) << i;
    EXPECT_EQ(events[i].data, whole.events[i].data) << i;
    EXPECT_EQ(events[i].binary, whole.events[i].binary) << i;
  }
  EXPECT_EQ(events[1].kind, Kind::kPing);       // the ping, answered mid-message
  EXPECT_EQ(events[2].data, "frag\xc3\xa4");  // one message from both fragments

  // A half-read header is not idle, nor a failed reader.
  WsReader half(kMax);
  std::vector<WsEvent> none;
  half.Feed(std::string_view(stream).substr(0, 1), none);
  EXPECT_FALSE(half.Idle());
  WsReader failed(kMax);
  failed.Feed(RawFrame(kFin | Op(WsOpcode::kText), "x", 0, /*masked=*/false), none);
  EXPECT_TRUE(failed.failed());
  EXPECT_FALSE(failed.Idle());
}

}  // namespace
}  // namespace palaver::host::net
