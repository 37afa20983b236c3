// The STUN/TURN codec: RFC 5769 test vectors, round trips, malformed input, integrity and
// fingerprint, XOR addresses, ChannelData and the stream de-framer.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "auth.hpp"
#include "stun.hpp"
#include "test_util.hpp"

namespace palaver::turn {
namespace {

using testing::Build;
using testing::Bytes;
using testing::FromHex;
using testing::Span;
using testing::Tid;

// --- RFC 5769 §2, byte for byte ------------------------------------------------------------------

// §2.1 Sample Request (short-term credentials; padding bytes are spaces).
const char* const kSampleRequest =
    "00 01 00 58"
    "21 12 a4 42"
    "b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"  // SOFTWARE "STUN test client"
    "00 24 00 04 6e 00 01 ff"                                      // PRIORITY
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"                          // ICE-CONTROLLED
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"              // USERNAME "evtj:h6vY"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf";
// §2.2 Sample IPv4 Response.
const char* const kSampleIPv4Response =
    "01 01 00 3c"
    "21 12 a4 42"
    "b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"  // SOFTWARE "test vector"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"              // XOR-MAPPED-ADDRESS 192.0.2.1:32853
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96";
// §2.3 Sample IPv6 Response.
const char* const kSampleIPv6Response =
    "01 01 00 48"
    "21 12 a4 42"
    "b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c";
// §2.4 Sample Request with Long-Term Authentication.
const char* const kLongTermRequest =
    "00 01 00 60"
    "21 12 a4 42"
    "78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"  // USERNAME
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"  // REALM "example.org"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

constexpr std::string_view kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";
// U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9; the password "The<U+00AD>M<U+00AA>tr<U+2168>" is
// "TheMatrIX" after SASLprep, which the RFC's key uses.
constexpr std::string_view kLongTermUsername = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

// Whether `bytes` parses, passes MESSAGE-INTEGRITY under `key`, and still carries a (verified)
// FINGERPRINT if `fingerprint`. (A flip in FINGERPRINT's own type makes a message without one.)
bool Authentic(const Bytes& bytes, std::span<const uint8_t> key, bool fingerprint) {
  auto m = StunMessage::Parse(bytes);
  return m && VerifyMessageIntegrity(*m, key) && m->has_fingerprint() == fingerprint;
}

TEST(Rfc5769, SampleRequest) {
  Bytes b = FromHex(kSampleRequest);
  ASSERT_EQ(b.size(), 108u);
  auto m = StunMessage::Parse(b);
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_EQ(m->method(), Method::kBinding);
  EXPECT_EQ(m->message_class(), MessageClass::kRequest);
  EXPECT_TRUE(m->has_fingerprint());
  EXPECT_EQ(m->String(attr::kSoftware), "STUN test client");
  EXPECT_EQ(m->String(attr::kUsername), "evtj:h6vY");
  EXPECT_TRUE(m->unknown_required().empty());  // PRIORITY is known (ICE)
  EXPECT_TRUE(VerifyMessageIntegrity(*m, Span(kShortTermPassword)));
  EXPECT_FALSE(VerifyMessageIntegrity(*m, Span("VOkJxbRl1RmTxUk/WvJxBT")));
  EXPECT_FALSE(VerifyMessageIntegritySha256(*m, Span(kShortTermPassword)));  // absent
}

TEST(Rfc5769, SampleIPv4Response) {
  Bytes b = FromHex(kSampleIPv4Response);
  auto m = StunMessage::Parse(b);
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_EQ(m->message_class(), MessageClass::kSuccess);
  EXPECT_EQ(m->String(attr::kSoftware), "test vector");
  const AttributeRef* x = m->Find(attr::kXorMappedAddress);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(DecodeXorAddress(m->Value(*x), m->transaction_id()), *Address::Parse("192.0.2.1:32853"));
  EXPECT_TRUE(VerifyMessageIntegrity(*m, Span(kShortTermPassword)));
}

TEST(Rfc5769, SampleIPv6Response) {
  Bytes b = FromHex(kSampleIPv6Response);
  auto m = StunMessage::Parse(b);
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  const AttributeRef* x = m->Find(attr::kXorMappedAddress);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(DecodeXorAddress(m->Value(*x), m->transaction_id()),
            *Address::Parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_TRUE(VerifyMessageIntegrity(*m, Span(kShortTermPassword)));
}

TEST(Rfc5769, LongTermRequest) {
  Bytes b = FromHex(kLongTermRequest);
  auto m = StunMessage::Parse(b);
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_FALSE(m->has_fingerprint());
  EXPECT_EQ(m->String(attr::kUsername), kLongTermUsername);
  EXPECT_EQ(m->String(attr::kNonce), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m->String(attr::kRealm), "example.org");
  LongTermKey key = MakeLongTermKey(kLongTermUsername, "example.org", "TheMatrIX");
  EXPECT_TRUE(VerifyMessageIntegrity(*m, key));
  EXPECT_FALSE(VerifyMessageIntegrity(*m, MakeLongTermKey(kLongTermUsername, "example.org", "TheMatrix")));
}

TEST(Rfc5769, LongTermRequestReencodesByteForByte) {
  Bytes expected = FromHex(kLongTermRequest);
  auto parsed = StunMessage::Parse(expected);
  ASSERT_TRUE(parsed);
  Bytes buf(200);
  MessageBuilder b(buf, Method::kBinding, MessageClass::kRequest, parsed->transaction_id());
  b.AddString(attr::kUsername, kLongTermUsername)
      .AddString(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA")
      .AddString(attr::kRealm, "example.org")
      .AddMessageIntegrity(MakeLongTermKey(kLongTermUsername, "example.org", "TheMatrIX"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Bytes(b.bytes().begin(), b.bytes().end()), expected);
}

TEST(Rfc5769, AnyFlippedByteFailsVerification) {
  struct Vector {
    const char* hex;
    Bytes key;
  };
  LongTermKey lt = MakeLongTermKey(kLongTermUsername, "example.org", "TheMatrIX");
  std::vector<Vector> vectors = {
      {kSampleRequest, testing::ToBytes(kShortTermPassword)},
      {kSampleIPv4Response, testing::ToBytes(kShortTermPassword)},
      {kSampleIPv6Response, testing::ToBytes(kShortTermPassword)},
      {kLongTermRequest, Bytes(lt.begin(), lt.end())},
  };
  for (const auto& v : vectors) {
    Bytes original = FromHex(v.hex);
    bool fingerprint = StunMessage::Parse(original)->has_fingerprint();
    ASSERT_TRUE(Authentic(original, v.key, fingerprint));
    for (size_t i = 0; i < original.size(); ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes b = original;
        b[i] ^= flip;
        EXPECT_FALSE(Authentic(b, v.key, fingerprint)) << "byte " << i << " ^ " << int{flip} << " still verifies";
      }
    }
  }
}

TEST(Rfc5769, FlippedByteBreaksFingerprintAlone) {
  Bytes b = FromHex(kSampleIPv4Response);
  b[27] ^= 0x10;  // inside SOFTWARE
  auto m = StunMessage::Parse(b);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), ParseError::kBadFingerprint);
}

// --- message types ------------------------------------------------------------------------------

TEST(StunMessageType, EncodesMethodAndClassBits) {
  EXPECT_EQ(MessageType(Method::kBinding, MessageClass::kRequest), 0x0001);
  EXPECT_EQ(MessageType(Method::kBinding, MessageClass::kSuccess), 0x0101);
  EXPECT_EQ(MessageType(Method::kBinding, MessageClass::kError), 0x0111);
  EXPECT_EQ(MessageType(Method::kAllocate, MessageClass::kRequest), 0x0003);
  EXPECT_EQ(MessageType(Method::kAllocate, MessageClass::kSuccess), 0x0103);
  EXPECT_EQ(MessageType(Method::kAllocate, MessageClass::kError), 0x0113);
  EXPECT_EQ(MessageType(Method::kRefresh, MessageClass::kRequest), 0x0004);
  EXPECT_EQ(MessageType(Method::kSend, MessageClass::kIndication), 0x0016);
  EXPECT_EQ(MessageType(Method::kData, MessageClass::kIndication), 0x0017);
  EXPECT_EQ(MessageType(Method::kCreatePermission, MessageClass::kRequest), 0x0008);
  EXPECT_EQ(MessageType(Method::kChannelBind, MessageClass::kSuccess), 0x0109);
  for (uint16_t method = 0; method < 0x1000; method += 37) {
    for (auto cls : {MessageClass::kRequest, MessageClass::kIndication, MessageClass::kSuccess, MessageClass::kError}) {
      uint16_t t = MessageType(static_cast<Method>(method), cls);
      EXPECT_EQ(static_cast<uint16_t>(MethodOf(t)), method);
      EXPECT_EQ(ClassOf(t), cls);
      EXPECT_EQ(t & 0xC000, 0);
    }
  }
}

// --- round trips ---------------------------------------------------------------------------------

TEST(StunCodec, RoundTripsEveryTurnAttribute) {
  TransactionId tid = Tid(7);
  Address peer4 = *Address::Parse("203.0.113.9:40001");
  Address peer6 = *Address::Parse("[2001:db8::77]:40002");
  Address relayed = *Address::Parse("198.51.100.1:50000");
  Bytes data = {0xde, 0xad, 0xbe, 0xef, 0x01};
  uint16_t unknown[] = {0x7777, 0x0002};
  LongTermKey key = MakeLongTermKey("u", "r", "p");

  Bytes buf(1024);
  MessageBuilder b(buf, Method::kChannelBind, MessageClass::kRequest, tid);
  b.AddXorAddress(attr::kXorPeerAddress, peer4)
      .AddXorAddress(attr::kXorPeerAddress, peer6)
      .AddXorAddress(attr::kXorRelayedAddress, relayed)
      .AddAddress(attr::kMappedAddress, peer6)
      .AddU32(attr::kLifetime, 1234)
      .AddRequestedTransport(kProtocolUdp)
      .AddChannelNumber(0x4001)
      .AddEvenPort(true)
      .AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv6)
      .Add(attr::kData, data)
      .Add(attr::kDontFragment, {})
      .AddErrorCode(438, "Stale Nonce")
      .AddUnknownAttributes(unknown)
      .AddString(attr::kSoftware, "palaver")
      .AddMessageIntegrity(key)
      .AddMessageIntegritySha256(key)
      .AddFingerprint();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.size() % 4, 0u);

  auto m = StunMessage::Parse(b.bytes());
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_EQ(m->method(), Method::kChannelBind);
  EXPECT_EQ(m->transaction_id(), tid);
  std::vector<Address> peers;
  for (const auto& a : m->attributes()) {
    if (a.type == attr::kXorPeerAddress) peers.push_back(*DecodeXorAddress(m->Value(a), tid));
  }
  EXPECT_EQ(peers, (std::vector<Address>{peer4, peer6}));
  EXPECT_EQ(DecodeXorAddress(m->Value(*m->Find(attr::kXorRelayedAddress)), tid), relayed);
  EXPECT_EQ(DecodeAddress(m->Value(*m->Find(attr::kMappedAddress))), peer6);
  EXPECT_EQ(DecodeU32(m->Value(*m->Find(attr::kLifetime))), 1234u);
  EXPECT_EQ(DecodeRequestedTransport(m->Value(*m->Find(attr::kRequestedTransport))), kProtocolUdp);
  EXPECT_EQ(DecodeChannelNumber(m->Value(*m->Find(attr::kChannelNumber))), 0x4001);
  EXPECT_EQ(DecodeEvenPort(m->Value(*m->Find(attr::kEvenPort))), true);
  EXPECT_EQ(DecodeAddressFamily(m->Value(*m->Find(attr::kRequestedAddressFamily))), 0x02);
  auto v = m->Value(*m->Find(attr::kData));
  EXPECT_EQ(Bytes(v.begin(), v.end()), data);
  EXPECT_TRUE(m->Has(attr::kDontFragment));
  auto err = DecodeErrorCode(m->Value(*m->Find(attr::kErrorCode)));
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, 438);
  EXPECT_EQ(err->reason, "Stale Nonce");
  uint16_t types[4] = {};
  EXPECT_EQ(DecodeUnknownAttributes(m->Value(*m->Find(attr::kUnknownAttributes)), types), 2u);
  EXPECT_EQ(types[0], 0x7777);
  EXPECT_EQ(types[1], 0x0002);
  EXPECT_EQ(m->String(attr::kSoftware), "palaver");
  EXPECT_TRUE(m->has_fingerprint());
  EXPECT_TRUE(VerifyMessageIntegrity(*m, key));
  EXPECT_TRUE(VerifyMessageIntegritySha256(*m, key));
  EXPECT_FALSE(VerifyMessageIntegritySha256(*m, MakeLongTermKey("u", "r", "q")));
}

TEST(StunCodec, XorAddressRoundTripsV4AndV6) {
  for (const char* text : {"0.0.0.0:0", "192.0.2.1:32853", "255.255.255.255:65535", "[::]:1", "[::1]:3478",
                           "[2001:db8:1234:5678:11:2233:4455:6677]:32853", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:9"}) {
    Address a = *Address::Parse(text);
    for (uint8_t seed : {0, 1, 200}) {
      TransactionId tid = Tid(seed);
      Bytes buf(64);
      MessageBuilder b(buf, Method::kBinding, MessageClass::kSuccess, tid);
      b.AddXorAddress(attr::kXorMappedAddress, a);
      ASSERT_TRUE(b.ok());
      auto m = StunMessage::Parse(b.bytes());
      ASSERT_TRUE(m);
      auto value = m->Value(*m->Find(attr::kXorMappedAddress));
      EXPECT_EQ(DecodeXorAddress(value, tid), a) << text;
      // The wire form really is XORed: the plain decoding differs unless everything is zero.
      if (a.port() != 0) {
        EXPECT_NE(DecodeAddress(value), a) << text;
      }
    }
  }
}

TEST(StunCodec, DecodersRejectWrongLengths) {
  TransactionId tid = Tid(1);
  EXPECT_FALSE(DecodeXorAddress(FromHex("0001a147e112a6"), tid));        // 7 bytes
  EXPECT_FALSE(DecodeXorAddress(FromHex("0002a147e112a643"), tid));      // IPv6 with 4 bytes
  EXPECT_FALSE(DecodeXorAddress(FromHex("0003a147e112a643"), tid));      // family 3
  EXPECT_FALSE(DecodeAddress(FromHex("00010000")));
  EXPECT_FALSE(DecodeU32(FromHex("000001")));
  EXPECT_FALSE(DecodeU32(FromHex("0000000100")));
  EXPECT_FALSE(DecodeErrorCode(FromHex("000002")));
  EXPECT_FALSE(DecodeErrorCode(FromHex("00000200")));  // class 2
  EXPECT_FALSE(DecodeErrorCode(FromHex("00000464")));  // number 100
  EXPECT_EQ(DecodeErrorCode(FromHex("00000401"))->code, 401);
  EXPECT_FALSE(DecodeChannelNumber(FromHex("4000")));
  EXPECT_FALSE(DecodeRequestedTransport(FromHex("11")));
  EXPECT_FALSE(DecodeAddressFamily(FromHex("01")));
  EXPECT_FALSE(DecodeEvenPort(FromHex("8000")));
  EXPECT_EQ(DecodeEvenPort(FromHex("00")), false);
  uint16_t out[2];
  EXPECT_FALSE(DecodeUnknownAttributes(FromHex("000102"), out));
  EXPECT_EQ(DecodePasswordAlgorithm(FromHex("00010000"))->algorithm, 1);
  EXPECT_EQ(DecodePasswordAlgorithm(FromHex("0002000401020304"))->parameters.size(), 4u);
  EXPECT_FALSE(DecodePasswordAlgorithm(FromHex("00010005 01020304")));
}

TEST(StunCodec, ReportsUnknownComprehensionRequiredOnly) {
  Bytes m = Build(Method::kBinding, MessageClass::kRequest, Tid(2), [](MessageBuilder& b) {
    b.Add(0x7fff, {}).Add(0x0003, {}).Add(0x7fff, {}).Add(0xc001, {}).Add(attr::kPriority, {});
  });
  auto parsed = StunMessage::Parse(m);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->unknown_required().size(), 2u);  // duplicates once; 0xc001 is optional
  EXPECT_EQ(parsed->unknown_required()[0], 0x7fff);
  EXPECT_EQ(parsed->unknown_required()[1], 0x0003);  // CHANGE-REQUEST: not supported
}

TEST(StunCodec, IgnoresAttributesAfterMessageIntegrity) {
  LongTermKey key = MakeLongTermKey("u", "r", "p");
  Bytes buf(256);
  MessageBuilder b(buf, Method::kAllocate, MessageClass::kRequest, Tid(3));
  b.AddString(attr::kUsername, "u").AddMessageIntegrity(key).AddString(attr::kRealm, "sneaky").Add(0x7ffe, {});
  b.AddMessageIntegritySha256(key).AddString(attr::kNonce, "after-sha256").AddFingerprint();
  ASSERT_TRUE(b.ok());
  auto m = StunMessage::Parse(b.bytes());
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_FALSE(m->Has(attr::kRealm));
  EXPECT_FALSE(m->Has(attr::kNonce));
  EXPECT_TRUE(m->unknown_required().empty());
  EXPECT_NE(m->integrity_sha256(), nullptr);
  EXPECT_TRUE(m->has_fingerprint());
  // The MAC ignores what follows it; MESSAGE-INTEGRITY-SHA256 covers MESSAGE-INTEGRITY and the
  // ignored attributes in between.
  EXPECT_TRUE(VerifyMessageIntegrity(*m, key));
  EXPECT_TRUE(VerifyMessageIntegritySha256(*m, key));
}

TEST(StunCodec, VerifiesTruncatedMessageIntegritySha256) {
  LongTermKey key = MakeLongTermKey("u", "r", "p");
  Bytes buf(256);
  MessageBuilder b(buf, Method::kRefresh, MessageClass::kRequest, Tid(4));
  b.AddString(attr::kUsername, "u");
  uint8_t zeros[16] = {};
  b.Add(attr::kMessageIntegritySha256, zeros);
  ASSERT_TRUE(b.ok());
  size_t mac_at = b.size() - 16;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), buf.data(), mac_at - 4, mac, &len);
  std::memcpy(buf.data() + mac_at, mac, 16);
  Bytes msg(buf.begin(), buf.begin() + static_cast<long>(b.size()));
  auto m = StunMessage::Parse(msg);
  ASSERT_TRUE(m) << ParseErrorName(m.error());
  EXPECT_TRUE(VerifyMessageIntegritySha256(*m, key));
  msg[mac_at + 15] ^= 1;
  EXPECT_FALSE(VerifyMessageIntegritySha256(*StunMessage::Parse(msg), key));
}

TEST(StunCodec, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32(Span("123456789")), 0xCBF43926u);
  EXPECT_EQ(Crc32(Span("56789"), Crc32(Span("1234"))), 0xCBF43926u);  // chains
  EXPECT_EQ(Crc32({}), 0u);
}

TEST(StunCodec, FingerprintOnlyMessageParsesAndFlipFails) {
  Bytes m = Build(Method::kBinding, MessageClass::kRequest, Tid(5), nullptr, nullptr, /*fingerprint=*/true);
  EXPECT_EQ(m.size(), 28u);
  ASSERT_TRUE(StunMessage::Parse(m));
  for (size_t i = 0; i < m.size(); ++i) {
    Bytes b = m;
    b[i] ^= 0x04;
    auto parsed = StunMessage::Parse(b);
    EXPECT_FALSE(parsed && parsed->has_fingerprint()) << i;
  }
}

TEST(StunCodec, BuilderStopsAtTheEndOfTheBuffer) {
  Bytes buf(64, 0xAA);
  std::span<uint8_t> room(buf.data(), 40);
  MessageBuilder b(room, Method::kBinding, MessageClass::kRequest, Tid(6));
  b.AddString(attr::kSoftware, "0123456789");  // 20 + 4 + 12 = 36: fits
  EXPECT_TRUE(b.ok());
  b.AddU32(attr::kLifetime, 1);  // 36 + 8 > 40
  EXPECT_FALSE(b.ok());
  b.AddFingerprint();
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.size(), 36u);
  for (size_t i = 40; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xAA) << i;

  Bytes tiny(10);
  MessageBuilder t(tiny, Method::kBinding, MessageClass::kRequest, Tid(6));
  EXPECT_FALSE(t.ok());
}

TEST(StunCodec, BuilderPadsWithZeros) {
  Bytes buf(64, 0xAA);
  MessageBuilder b(buf, Method::kBinding, MessageClass::kRequest, Tid(6));
  b.AddString(attr::kUsername, "abcde");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.size(), 32u);
  EXPECT_EQ(buf[29], 0);
  EXPECT_EQ(buf[30], 0);
  EXPECT_EQ(buf[31], 0);
  EXPECT_EQ(buf[3], 12);  // length field
}

// --- malformed input ------------------------------------------------------------------------------

Bytes Header(uint16_t type, uint16_t length) {
  Bytes b = {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), static_cast<uint8_t>(length >> 8),
             static_cast<uint8_t>(length), 0x21, 0x12, 0xA4, 0x42};
  for (int i = 0; i < 12; ++i) b.push_back(static_cast<uint8_t>(i));
  return b;
}

ParseError ErrorOf(const Bytes& b) {
  auto m = StunMessage::Parse(b);
  EXPECT_FALSE(m);
  return m ? ParseError::kTooShort : m.error();
}

TEST(StunCodec, RejectsMalformedHeaders) {
  Bytes ok = Header(0x0001, 0);
  ASSERT_TRUE(StunMessage::Parse(ok));
  EXPECT_EQ(ErrorOf(Bytes(ok.begin(), ok.end() - 1)), ParseError::kTooShort);
  EXPECT_EQ(ErrorOf(Bytes{}), ParseError::kTooShort);
  Bytes top = ok;
  top[0] = 0x40;
  EXPECT_EQ(ErrorOf(top), ParseError::kNotStun);
  top[0] = 0x80;
  EXPECT_EQ(ErrorOf(top), ParseError::kNotStun);
  Bytes cookie = ok;
  cookie[7] = 0x43;
  EXPECT_EQ(ErrorOf(cookie), ParseError::kBadCookie);
  Bytes extra = ok;
  extra.push_back(0);
  EXPECT_EQ(ErrorOf(extra), ParseError::kLengthMismatch);
  EXPECT_EQ(ErrorOf(Header(0x0001, 2)), ParseError::kBadLength);
  EXPECT_EQ(ErrorOf(Header(0x0001, 4)), ParseError::kLengthMismatch);    // claims 4, has 0
  EXPECT_EQ(ErrorOf(Header(0x0001, 0xFFFC)), ParseError::kLengthMismatch);  // huge
}

TEST(StunCodec, RejectsMalformedAttributes) {
  // A value running past the end of the message.
  Bytes past = Header(0x0001, 8);
  past.insert(past.end(), {0x80, 0x22, 0x00, 0x08, 'a', 'b', 'c', 'd'});  // claims 8, has 4
  EXPECT_EQ(ErrorOf(past), ParseError::kTruncatedAttribute);

  Bytes huge = Header(0x0001, 4);
  for (uint8_t x : {0x00, 0x06, 0xFF, 0xFF}) huge.push_back(x);
  EXPECT_EQ(ErrorOf(huge), ParseError::kTruncatedAttribute);

  // An unpadded last attribute makes the length field a non-multiple of 4.
  Bytes unpadded = Header(0x0001, 9);
  unpadded.insert(unpadded.end(), {0x00, 0x06, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'});
  EXPECT_EQ(ErrorOf(unpadded), ParseError::kBadLength);

  // The padding missing from the datagram while the length field counts it.
  Bytes short_pad = Header(0x0001, 12);
  short_pad.insert(short_pad.end(), {0x00, 0x06, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'});
  EXPECT_EQ(ErrorOf(short_pad), ParseError::kLengthMismatch);

  // Non-zero padding is fine (RFC 5769 pads with spaces).
  Bytes space_pad = short_pad;
  for (int i = 0; i < 3; ++i) space_pad.push_back(' ');
  EXPECT_TRUE(StunMessage::Parse(space_pad));

  Bytes bad_mi = Build(Method::kBinding, MessageClass::kRequest, Tid(1),
                       [](MessageBuilder& b) { b.Add(attr::kMessageIntegrity, Bytes(16)); });
  EXPECT_EQ(ErrorOf(bad_mi), ParseError::kBadIntegrityLength);
  Bytes bad_mi256 = Build(Method::kBinding, MessageClass::kRequest, Tid(1),
                          [](MessageBuilder& b) { b.Add(attr::kMessageIntegritySha256, Bytes(12)); });
  EXPECT_EQ(ErrorOf(bad_mi256), ParseError::kBadIntegrityLength);
  Bytes bad_fp = Build(Method::kBinding, MessageClass::kRequest, Tid(1),
                       [](MessageBuilder& b) { b.Add(attr::kFingerprint, Bytes(8)); });
  EXPECT_EQ(ErrorOf(bad_fp), ParseError::kBadFingerprintLength);

  Bytes after_fp = Build(Method::kBinding, MessageClass::kRequest, Tid(1), nullptr, nullptr, true);
  for (uint8_t x : {0x80, 0x22, 0x00, 0x00}) after_fp.push_back(x);
  after_fp[3] += 4;
  EXPECT_EQ(ErrorOf(after_fp), ParseError::kAttributeAfterFingerprint);
  Bytes buf(128);
  MessageBuilder b(buf, Method::kBinding, MessageClass::kRequest, Tid(1));
  b.AddFingerprint().AddString(attr::kSoftware, "x");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ErrorOf(Bytes(b.bytes().begin(), b.bytes().end())), ParseError::kAttributeAfterFingerprint);

  Bytes many = Build(Method::kBinding, MessageClass::kRequest, Tid(1), [](MessageBuilder& b) {
    for (size_t i = 0; i <= StunMessage::kMaxAttributes; ++i) b.Add(0x8100, {});
  });
  EXPECT_EQ(ErrorOf(many), ParseError::kTooManyAttributes);
}

TEST(StunCodec, SurvivesEveryTruncationAndGarbage) {
  Bytes m = FromHex(kSampleRequest);
  for (size_t n = 0; n < m.size(); ++n) EXPECT_FALSE(StunMessage::Parse(std::span(m.data(), n))) << n;
  // Pseudo-random garbage behind a valid header: never crashes, never reads out of bounds
  // (run under ASan/valgrind for the latter).
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    Bytes b = Header(0x0003, 0);
    size_t body = (round % 40) * 4;
    for (size_t i = 0; i < body; ++i) {
      x = x * 1103515245 + 12345;
      b.push_back(static_cast<uint8_t>(x >> 16));
    }
    b[2] = static_cast<uint8_t>(body >> 8);
    b[3] = static_cast<uint8_t>(body);
    auto parsed = StunMessage::Parse(b);
    if (parsed) {
      for (const auto& a : parsed->attributes()) EXPECT_LE(a.offset + a.length, b.size());
    }
  }
}

// --- Data indications, ChannelData, framing --------------------------------------------------------

TEST(DataIndication, CarriesPeerAndData) {
  Bytes out(128);
  Bytes data = {1, 2, 3};
  Address peer = *Address::Parse("[2001:db8::9]:1234");
  size_t n = WriteDataIndication(out, Tid(9), peer, data);
  ASSERT_GT(n, 0u);
  auto m = StunMessage::Parse(std::span(out.data(), n));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method(), Method::kData);
  EXPECT_EQ(m->message_class(), MessageClass::kIndication);
  EXPECT_EQ(DecodeXorAddress(m->Value(*m->Find(attr::kXorPeerAddress)), Tid(9)), peer);
  auto v = m->Value(*m->Find(attr::kData));
  EXPECT_EQ(Bytes(v.begin(), v.end()), data);
  EXPECT_EQ(WriteDataIndication(std::span(out.data(), 40), Tid(9), peer, data), 0u);
}

TEST(ChannelDataCodec, ParsesAndWrites) {
  Bytes payload = {'h', 'e', 'l', 'l', 'o'};
  Bytes out(32, 0xAA);
  size_t n = WriteChannelData(out, 0x4001, payload, /*pad=*/false);
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 4), FromHex("4001 0005"));
  auto cd = ParseChannelData(std::span(out.data(), n));
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4001);
  EXPECT_EQ(Bytes(cd->data.begin(), cd->data.end()), payload);

  n = WriteChannelData(out, 0x4FFF, payload, /*pad=*/true);
  EXPECT_EQ(n, 12u);
  EXPECT_EQ(out[9], 0);
  EXPECT_EQ(out[11], 0);
  cd = ParseChannelData(std::span(out.data(), n));
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->data.size(), 5u);
  EXPECT_EQ(ChannelDataSize(5, true), 12u);
  EXPECT_EQ(ChannelDataSize(8, true), 12u);
  EXPECT_EQ(ChannelDataSize(5, false), 9u);

  EXPECT_EQ(WriteChannelData(std::span(out.data(), 8), 0x4001, payload, false), 0u);
  Bytes empty_out(4);
  EXPECT_EQ(WriteChannelData(empty_out, 0x4000, {}, true), 4u);
  EXPECT_TRUE(ParseChannelData(empty_out));
}

TEST(ChannelDataCodec, RejectsBadChannelsAndLengths) {
  EXPECT_FALSE(ParseChannelData(FromHex("3fff 0000")));
  EXPECT_TRUE(ParseChannelData(FromHex("5000 0000")));  // RFC 5766's range, used by coturn's clients
  EXPECT_FALSE(ParseChannelData(FromHex("8000 0000")));
  EXPECT_FALSE(ParseChannelData(FromHex("c000 0000")));
  EXPECT_FALSE(ParseChannelData(FromHex("4000 00")));
  EXPECT_FALSE(ParseChannelData(FromHex("4000 0005 01020304")));           // claims 5, has 4
  EXPECT_TRUE(ParseChannelData(FromHex("4000 0001 01 000000")));           // 3 bytes padding
  EXPECT_FALSE(ParseChannelData(FromHex("4000 0001 01 00000000")));        // 4: not padding
  EXPECT_FALSE(ParseChannelData(FromHex("4000 0000 00000000")));
  EXPECT_TRUE(IsValidChannelNumber(0x4000));
  EXPECT_TRUE(IsValidChannelNumber(0x4FFF));
  EXPECT_FALSE(IsValidChannelNumber(0x3FFF));
  EXPECT_TRUE(IsValidChannelNumber(0x5000));  // RFC 5766 range (coturn's clients use it)
  EXPECT_TRUE(IsValidChannelNumber(0x7FFF));
  EXPECT_FALSE(IsValidChannelNumber(0x8000));
}

// Cuts a byte stream into messages the way the engine will: append what arrives, take frames.
std::vector<Bytes> Deframe(const std::vector<Bytes>& chunks, bool* garbage) {
  std::vector<Bytes> frames;
  Bytes pending;
  *garbage = false;
  for (const auto& c : chunks) {
    pending.insert(pending.end(), c.begin(), c.end());
    for (;;) {
      Frame f = NextFrame(pending);
      if (f.status == FrameStatus::kGarbage) {
        *garbage = true;
        return frames;
      }
      if (f.status == FrameStatus::kNeedMore) break;
      frames.emplace_back(pending.begin(), pending.begin() + static_cast<long>(f.size));
      pending.erase(pending.begin(), pending.begin() + static_cast<long>(f.size));
    }
  }
  EXPECT_TRUE(pending.empty()) << pending.size() << " bytes left over";
  return frames;
}

TEST(StreamFraming, SplitsCoalescedAndFragmentedInput) {
  Bytes stun1 = FromHex(kSampleRequest);
  Bytes cd(16);
  cd.resize(WriteChannelData(cd, 0x4002, Bytes{9, 8, 7, 6, 5}, /*pad=*/true));  // 12 bytes
  Bytes cd_empty(4);
  WriteChannelData(cd_empty, 0x4003, {}, true);
  Bytes stun2 = FromHex(kLongTermRequest);
  std::vector<Bytes> messages = {stun1, cd, cd_empty, stun2, cd};
  Bytes stream;
  for (const auto& m : messages) stream.insert(stream.end(), m.begin(), m.end());

  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    std::vector<Bytes> chunks;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      chunks.emplace_back(stream.begin() + static_cast<long>(at),
                          stream.begin() + static_cast<long>(std::min(stream.size(), at + chunk)));
    }
    bool garbage = false;
    auto frames = Deframe(chunks, &garbage);
    ASSERT_FALSE(garbage) << "chunk " << chunk;
    ASSERT_EQ(frames, messages) << "chunk " << chunk;
  }
  Frame f = NextFrame(stream);
  EXPECT_EQ(f.status, FrameStatus::kComplete);
  EXPECT_EQ(f.kind, FrameKind::kStun);
  EXPECT_EQ(f.size, stun1.size());
  f = NextFrame(cd);
  EXPECT_EQ(f.kind, FrameKind::kChannelData);
  EXPECT_EQ(f.size, 12u);
}

TEST(StreamFraming, TellsNeedMoreAndGarbage) {
  EXPECT_EQ(NextFrame({}).status, FrameStatus::kNeedMore);
  EXPECT_EQ(NextFrame(FromHex("00")).status, FrameStatus::kNeedMore);
  EXPECT_EQ(NextFrame(FromHex("0001 0008 2112a4")).status, FrameStatus::kNeedMore);
  Frame partial = NextFrame(FromHex("0001 0008 2112a442 0000"));
  EXPECT_EQ(partial.status, FrameStatus::kNeedMore);
  EXPECT_EQ(partial.size, 28u);  // known once the header is in
  EXPECT_EQ(NextFrame(FromHex("40")).status, FrameStatus::kNeedMore);
  EXPECT_EQ(NextFrame(FromHex("4000 00")).status, FrameStatus::kNeedMore);
  EXPECT_EQ(NextFrame(FromHex("4000 0003 0102")).status, FrameStatus::kNeedMore);

  EXPECT_EQ(NextFrame(FromHex("80")).status, FrameStatus::kGarbage);                // neither
  EXPECT_EQ(NextFrame(FromHex("16030102 00010001")).status, FrameStatus::kGarbage);  // a TLS ClientHello
  EXPECT_EQ(NextFrame(FromHex("504f5354")).status, FrameStatus::kNeedMore);         // "POST": like "GET " below
  // "GET " reads as ChannelData on channel 0x4745 with 0x5420 bytes: framing alone cannot tell;
  // the handler drops it (no such channel).
  EXPECT_EQ(NextFrame(FromHex("474554 20")).status, FrameStatus::kNeedMore);
  EXPECT_EQ(NextFrame(FromHex("0001 0002")).status, FrameStatus::kGarbage);         // length % 4
  EXPECT_EQ(NextFrame(FromHex("0001 0000 2112a443")).status, FrameStatus::kGarbage);  // cookie
  EXPECT_EQ(NextFrame(FromHex("5000")).status, FrameStatus::kNeedMore);             // RFC 5766 range
  EXPECT_EQ(NextFrame(FromHex("c000 0000")).status, FrameStatus::kGarbage);
  EXPECT_EQ(NextFrame(FromHex("8000 0000")).status, FrameStatus::kGarbage);
}

}  // namespace
}  // namespace palaver::turn
