// Tests for the WebSocket frame writer, UTF-8 validation and the handshake helpers.
#include <gtest/gtest.h>

#include <string>

#include "net/websocket.hpp"

namespace palaver::host::net {
namespace {

using namespace std::string_literals;

TEST(WsWriter, Rfc6455Examples) {
  // §5.7 "single-frame unmasked text message" and "unmasked Ping request".
  std::string out;
  AppendWsFrame(out, WsOpcode::kText, "Hello");
  EXPECT_EQ(out, "\x81\x05Hello"s);
  out.clear();
  AppendWsFrame(out, WsOpcode::kPing, "Hello");
  EXPECT_EQ(out, "\x89\x05Hello"s);
  // "256 bytes binary message in a single unmasked frame".
  out.clear();
  AppendWsFrame(out, WsOpcode::kBinary, std::string(256, 'x'));
  EXPECT_EQ(out.substr(0, 4), "\x82\x7e\x01\x00"s);
  EXPECT_EQ(out.size(), 4u + 256u);
  // "64KiB binary message in a single unmasked frame".
  out.clear();
  AppendWsFrame(out, WsOpcode::kBinary, std::string(65536, 'x'));
  EXPECT_EQ(out.substr(0, 10), "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"s);
  EXPECT_EQ(out.size(), 10u + 65536u);
}

TEST(WsWriter, LengthBoundaries) {
  for (size_t len : {0, 1, 125, 126, 127, 65535, 65536}) {
    std::string out = "p";
    AppendWsFrame(out, WsOpcode::kBinary, std::string(len, 'y'));
    size_t header = len < 126 ? 2 : len <= 65535 ? 4 : 10;
    ASSERT_EQ(out.size(), 1 + header + len) << len;
    EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x82);
    EXPECT_EQ(static_cast<uint8_t>(out[2]) & 0x80, 0) << "server frames are unmasked";
  }
}

TEST(WsWriter, ControlPayloadIsCutTo125) {
  std::string out;
  AppendWsFrame(out, WsOpcode::kPong, std::string(200, 'z'));
  EXPECT_EQ(out, "\x8a\x7d"s + std::string(125, 'z'));
}

TEST(WsWriter, CloseFrames) {
  std::string out;
  AppendWsClose(out, 1000, "bye");
  EXPECT_EQ(out,
            "\x88\x05\x03\xe8"
            "bye"s);
  out.clear();
  AppendWsClose(out, 4001, "");
  EXPECT_EQ(out, "\x88\x02\x0f\xa1"s);
  // Codes that must not be sent give an empty Close payload.
  for (int code : {1005, 1006, 1015, 999, 2000, 5000, -1}) {
    out.clear();
    AppendWsClose(out, code, "reason");
    EXPECT_EQ(out, "\x88\x00"s) << code;
  }
}

TEST(WsWriter, CloseReasonCutOnUtf8Boundary) {
  std::string out;
  AppendWsClose(out, 1001, std::string(123, 'a'));
  EXPECT_EQ(out.size(), 2u + 125u);
  out.clear();
  AppendWsClose(out, 1001, std::string(124, 'a'));
  EXPECT_EQ(out, "\x88\x7d\x03\xe9"s + std::string(123, 'a'));
  // 2-byte characters: 61 fit (122 bytes), the 62nd would straddle byte 123.
  std::string umlauts;
  for (int i = 0; i < 100; ++i) umlauts += "\xc3\xa4";
  out.clear();
  AppendWsClose(out, 1000, umlauts);
  EXPECT_EQ(out.substr(4), umlauts.substr(0, 122));
  EXPECT_TRUE(ValidUtf8(out.substr(4)));
  // 4-byte characters: 30 fit (120 bytes).
  std::string emoji;
  for (int i = 0; i < 40; ++i) emoji += "\xf0\x9f\x98\x80";
  out.clear();
  AppendWsClose(out, 1000, emoji);
  EXPECT_EQ(out.substr(4), emoji.substr(0, 120));
  // A reason that is not UTF-8 is left out.
  out.clear();
  AppendWsClose(out, 1000, "\xff");
  EXPECT_EQ(out, "\x88\x02\x03\xe8"s);
}

TEST(WsUtf8, RejectsInvalid) {
  const char* invalid[] = {
      "\x80",                      // lone continuation
      "\xbf",                      //
      "\xc0\x80",                  // overlong NUL
      "\xc1\xbf",                  // overlong
      "\xe0\x80\x80",              // overlong 3-byte
      "\xe0\x9f\xbf",              // overlong 3-byte (U+07FF)
      "\xf0\x80\x80\x80",          // overlong 4-byte
      "\xf0\x8f\xbf\xbf",          // overlong 4-byte (U+FFFF)
      "\xed\xa0\x80",              // U+D800 surrogate
      "\xed\xbf\xbf",              // U+DFFF surrogate
      "\xed\xa0\x80\xed\xb0\x80",  // surrogate pair
      "\xf4\x90\x80\x80",          // U+110000
      "\xf5\x80\x80\x80",          //
      "\xf8\x88\x80\x80\x80",      // 5-byte form
      "\xfc\x84\x80\x80\x80\x80",  // 6-byte form
      "\xfe",                      //
      "\xff",                      //
      "\xc3",                      // truncated
      "\xe2\x82",                  // truncated
      "\xf0\x9f\x98",              // truncated
      "\xc3\x28",                  // bad continuation
      "\xe2\x28\xa1",              //
      "a\xc3"
      "a",  //
  };
  for (const char* s : invalid) EXPECT_FALSE(ValidUtf8(s)) << s;
}

TEST(WsUtf8, AcceptsValid) {
  EXPECT_TRUE(ValidUtf8(""));
  EXPECT_TRUE(ValidUtf8("\0"s));
  EXPECT_TRUE(ValidUtf8("\x7f"));
  EXPECT_TRUE(ValidUtf8("\xc2\x80"));                                      // U+0080
  EXPECT_TRUE(ValidUtf8("\xdf\xbf"));                                      // U+07FF
  EXPECT_TRUE(ValidUtf8("\xe0\xa0\x80"));                                  // U+0800
  EXPECT_TRUE(ValidUtf8("\xed\x9f\xbf"));                                  // U+D7FF
  EXPECT_TRUE(ValidUtf8("\xee\x80\x80"));                                  // U+E000
  EXPECT_TRUE(ValidUtf8("\xef\xbf\xbf"));                                  // U+FFFF
  EXPECT_TRUE(ValidUtf8("\xf0\x90\x80\x80"));                              // U+10000
  EXPECT_TRUE(ValidUtf8("\xf4\x8f\xbf\xbf"));                              // U+10FFFF
  EXPECT_TRUE(ValidUtf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // κόσμε
}

TEST(WsUtf8, IncrementalEqualsWhole) {
  const std::string s = "a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80z";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    Utf8Validator v;
    EXPECT_TRUE(v.Feed(s.substr(0, cut)));
    EXPECT_TRUE(v.Feed(s.substr(cut)));
    EXPECT_TRUE(v.Complete());
  }
  Utf8Validator v;
  EXPECT_TRUE(v.Feed("\xe2"));
  EXPECT_FALSE(v.Complete());
  EXPECT_FALSE(v.Feed("\x28"));
  EXPECT_FALSE(v.Feed("a"));  // sticky
  v.Reset();
  EXPECT_TRUE(v.Complete());
}

TEST(WebSocketHandshake, AcceptValueFromRfc6455) {
  // RFC 6455 §1.3 and §4.2.2.
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ValidKeys) {
  EXPECT_TRUE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(ValidWebSocketKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(ValidWebSocketKey("/////////////////////w=="));
  EXPECT_TRUE(ValidWebSocketKey("+++++++++++++++++++++g=="));
}

TEST(WebSocketHandshake, RejectsInvalidKeys) {
  EXPECT_FALSE(ValidWebSocketKey(""));
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ="));       // 23 chars
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ==="));     // 25 chars
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQAA"));      // no padding
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZR=="));      // non-zero pad bits
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZ==="));      // 15 bytes
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25j-Q=="));      // base64url
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25j\0Q=="s));    // NUL
  EXPECT_FALSE(ValidWebSocketKey("dGhlIHNhbXBsZSBub25jZXh0cmE="));  // 20 bytes
  EXPECT_FALSE(ValidWebSocketKey(" dGhlIHNhbXBsZSBub25jZQ=="));
}

}  // namespace
}  // namespace palaver::host::net
