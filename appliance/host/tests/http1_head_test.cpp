// Tests for the HTTP/1.1 request-head parser: every rejection path first, then the accepted forms.
#include <gtest/gtest.h>

#include <string>

#include "net/http1.hpp"

namespace palaver::host::net {
namespace {

using State = Http1Parse::State;
using namespace std::string_literals;
constexpr size_t kMax = 8192;

Http1Parse Parse(std::string_view buf, size_t max = kMax) {
  Http1Head head;
  return ParseHttp1Head(buf, max, head);
}

// Feeds every prefix of `buf`; returns the first non-kNeedMore result (or the last kNeedMore), and checks that a
// prefix never completes before the whole input would.
Http1Parse ParseBytewise(std::string_view buf, Http1Head& head, size_t max = kMax) {
  Http1Parse r;
  for (size_t n = 0; n <= buf.size(); ++n) {
    r = ParseHttp1Head(buf.substr(0, n), max, head);
    if (r.state != State::kNeedMore) return r;
  }
  return r;
}

// The resumable parser, fed one more byte per call.
Http1Parse ParseIncremental(std::string_view buf, Http1Head& head, size_t max = kMax) {
  Http1HeadParser parser(max);
  Http1Parse r;
  for (size_t n = 0; n <= buf.size(); ++n) {
    r = parser.Parse(buf.substr(0, n), head);
    if (r.state != State::kNeedMore) return r;
  }
  return r;
}

void ExpectRejected(std::string_view buf, int status, const char* what) {
  SCOPED_TRACE(what);
  Http1Parse whole = Parse(buf);
  EXPECT_EQ(whole.state, State::kError);
  EXPECT_EQ(whole.status, status);
  EXPECT_FALSE(whole.reason.empty());
  Http1Head head;
  Http1Parse bytewise = ParseBytewise(buf, head);
  EXPECT_EQ(bytewise.state, State::kError);
  EXPECT_EQ(bytewise.status, status);
  EXPECT_EQ(bytewise.reason, whole.reason);
  Http1Parse incremental = ParseIncremental(buf, head);
  EXPECT_EQ(incremental.state, State::kError);
  EXPECT_EQ(incremental.status, status);
  EXPECT_EQ(incremental.reason, whole.reason);
}

TEST(Http1Head, RejectsWhitespaceBeforeColon) {
  ExpectRejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space");
  ExpectRejected("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "tab");
}

TEST(Http1Head, RejectsObsFold) {
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, "space fold");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400, "tab fold");
  ExpectRejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "whitespace before the first field");
}

TEST(Http1Head, RejectsBareCr) {
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "in a value");
  ExpectRejected("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "as request-line end");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400, "CR CR LF");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, "in the final line");
}

TEST(Http1Head, RejectsBareLf) {
  ExpectRejected("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "after the request line");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "after a field");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "as the final line");
  ExpectRejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "leading empty line");
}

TEST(Http1Head, RejectsNulAtOnce) {
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s, 400, "in a value");
  ExpectRejected("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "in the method");
  ExpectRejected("\0"s, 400, "first byte");
  // The line holding the NUL is not complete yet: still rejected.
  Http1Parse r = Parse("GET / HTTP/1.1\r\nX-A: \0"s);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.status, 400);
}

TEST(Http1Head, RejectsFieldWithoutColon) {
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n", 400, "no colon");
}

TEST(Http1Head, RejectsEmptyOrInvalidFieldName) {
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "empty");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400, "separator");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX\x80: b\r\n\r\n", 400, "non-ASCII");
}

TEST(Http1Head, RejectsControlCharactersInValue) {
  ExpectRejected(
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01"
      "c\r\n\r\n",
      400, "SOH");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n", 400, "DEL");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: \x1b[0m\r\n\r\n", 400, "ESC");
}

TEST(Http1Head, RejectsMalformedRequestLine) {
  ExpectRejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double SP after method");
  ExpectRejected("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double SP after target");
  ExpectRejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "leading SP");
  ExpectRejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "trailing SP");
  ExpectRejected("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "HTAB separator");
  ExpectRejected("GET /\r\nHost: a\r\n\r\n", 400, "no version");
  ExpectRejected("GET\r\n\r\n", 400, "method only");
  ExpectRejected("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method not a token");
  ExpectRejected("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "DEL in target");
  ExpectRejected("GET /\xc3\xa4 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "raw UTF-8 in target");
  ExpectRejected("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CTL in target");
}

TEST(Http1Head, RejectsGarbageVersionWith400) {
  ExpectRejected("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lowercase");
  ExpectRejected("GET / HTTP/11\r\nHost: a\r\n\r\n", 400, "no dot");
  ExpectRejected("GET / HTTP/1.\r\nHost: a\r\n\r\n", 400, "no minor");
  ExpectRejected("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, "suffix");
  ExpectRejected("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400, "HTTPS");
  ExpectRejected("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "two-digit minor");
}

TEST(Http1Head, RejectsOtherVersionsWith505) {
  ExpectRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "2.0");
  ExpectRejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "0.9");
  ExpectRejected("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "1.2");
  ExpectRejected("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, "3.0");
}

TEST(Http1Head, RejectsMissingOrRepeatedHost) {
  ExpectRejected("GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400, "missing on 1.1");
  ExpectRejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "twice");
  ExpectRejected("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", 400, "twice on 1.0");
}

TEST(Http1Head, RejectsTooManyLeadingEmptyLines) {
  std::string buf;
  for (int i = 0; i <= kMaxLeadingEmptyLines; ++i) buf += "\r\n";
  ExpectRejected(buf + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "too many");
}

TEST(Http1Head, ReportsBadLineBeforeTheHeadEnds) {
  // No final CRLF yet: the complete bad line is enough.
  Http1Parse r = Parse("GET / HTTP/1.1\r\nHost : a\r\n");
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.status, 400);
  r = Parse("GET / HTTP/2.0\r\n");
  EXPECT_EQ(r.status, 505);
  // An incomplete line is not judged yet (except NUL / bare CR).
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost : a").state, State::kNeedMore);
}

TEST(Http1Head, OversizeIs431AtExactlyTheLimit) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n";
  const size_t n = head.size();
  Http1Head out;
  // The whole head fits in exactly n bytes.
  Http1Parse r = ParseHttp1Head(head, n, out);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, n);
  // Fits even with more bytes (a body) behind it.
  EXPECT_EQ(ParseHttp1Head(head + "body", n, out).state, State::kDone);
  // One byte less: 431, whether or not more bytes are buffered.
  r = ParseHttp1Head(head, n - 1, out);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(ParseHttp1Head(std::string_view(head).substr(0, n - 1), n - 1, out).status, 431);
  // Fewer bytes than the limit and no end yet: wait.
  EXPECT_EQ(ParseHttp1Head(std::string_view(head).substr(0, n - 2), n - 1, out).state, State::kNeedMore);
  // A stream of header lines without end: 431 as soon as the limit is reached.
  std::string endless = "GET / HTTP/1.1\r\nHost: a\r\n";
  while (endless.size() < 100) endless += "X-A: b\r\n";
  EXPECT_EQ(ParseHttp1Head(endless, 100, out).status, 431);
  EXPECT_EQ(ParseHttp1Head(std::string_view(endless).substr(0, 99), 100, out).state, State::kNeedMore);
  // Degenerate limit.
  EXPECT_EQ(ParseHttp1Head("", 0, out).status, 431);
}

TEST(Http1Head, ParsesRequest) {
  Http1Head head;
  const std::string buf =
      "POST /api/v1/x?y=1&z=%20 HTTP/1.1\r\n"
      "Host: example.org\r\n"
      "Content-Type:application/json  \r\n"
      "X-Empty:\r\n"
      "X-Inner: a  b\t c\r\n"
      "X-Obs-Text: caf\xc3\xa9\r\n"
      "\r\n";
  Http1Parse r = ParseHttp1Head(buf, kMax, head);
  ASSERT_EQ(r.state, State::kDone) << r.reason;
  EXPECT_EQ(r.consumed, buf.size());
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.target, "/api/v1/x?y=1&z=%20");
  EXPECT_EQ(head.minor_version, 1);
  ASSERT_EQ(head.headers.size(), 5u);
  EXPECT_EQ(head.headers[0], (std::pair<std::string, std::string>{"host", "example.org"}));
  EXPECT_EQ(head.headers[1], (std::pair<std::string, std::string>{"content-type", "application/json"}));
  EXPECT_EQ(head.headers[2], (std::pair<std::string, std::string>{"x-empty", ""}));
  EXPECT_EQ(head.headers[3], (std::pair<std::string, std::string>{"x-inner", "a  b\t c"}));
  EXPECT_EQ(head.headers[4], (std::pair<std::string, std::string>{"x-obs-text", "caf\xc3\xa9"}));
}

TEST(Http1Head, KeepsMethodCaseAndAcceptsUnknownMethods) {
  Http1Head head;
  ASSERT_EQ(ParseHttp1Head("get / HTTP/1.1\r\nHost: a\r\n\r\n", kMax, head).state, State::kDone);
  EXPECT_EQ(head.method, "get");
  ASSERT_EQ(ParseHttp1Head("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", kMax, head).state, State::kDone);
  EXPECT_EQ(head.method, "BREW");
}

TEST(Http1Head, AcceptsOtherTargetForms) {
  Http1Head head;
  ASSERT_EQ(ParseHttp1Head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", kMax, head).state, State::kDone);
  EXPECT_EQ(head.target, "*");
  ASSERT_EQ(ParseHttp1Head("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", kMax, head).state, State::kDone);
  EXPECT_EQ(head.target, "http://a/b");
  ASSERT_EQ(ParseHttp1Head("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", kMax, head).state, State::kDone);
  EXPECT_EQ(head.target, "a:443");
}

TEST(Http1Head, Http10WithoutHost) {
  Http1Head head;
  Http1Parse r = ParseHttp1Head("GET / HTTP/1.0\r\n\r\n", kMax, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(head.minor_version, 0);
  EXPECT_TRUE(head.headers.empty());
}

TEST(Http1Head, SkipsAFewLeadingEmptyLines) {
  std::string buf;
  for (int i = 0; i < kMaxLeadingEmptyLines; ++i) buf += "\r\n";
  buf += "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  Http1Head head;
  Http1Parse r = ParseHttp1Head(buf, kMax, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, buf.size());
  EXPECT_EQ(head.target, "/");
}

TEST(Http1Head, PipelinedRequestsLeaveTheRest) {
  const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string buf = first + second + "GET /3";
  Http1Head head;
  Http1Parse r = ParseHttp1Head(buf, kMax, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(head.target, "/1");
  std::string_view rest = std::string_view(buf).substr(r.consumed);
  r = ParseHttp1Head(rest, kMax, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, second.size());
  EXPECT_EQ(head.target, "/2");
  rest.remove_prefix(r.consumed);
  EXPECT_EQ(ParseHttp1Head(rest, kMax, head).state, State::kNeedMore);
}

TEST(Http1Head, BodyBytesAreNotConsumedNorChecked) {
  const std::string head_bytes = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n";
  Http1Head head;
  Http1Parse r = ParseHttp1Head(head_bytes + "\0\r\n\n"s, kMax, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, head_bytes.size());
}

TEST(Http1Head, OutputUntouchedUnlessDone) {
  Http1Head head;
  head.method = "KEEP";
  EXPECT_EQ(ParseHttp1Head("GET / HTTP/1.1\r\nHost: a\r\n", kMax, head).state, State::kNeedMore);
  EXPECT_EQ(ParseHttp1Head("GET / HTTP/1.1\r\nHost : a\r\n", kMax, head).state, State::kError);
  EXPECT_EQ(head.method, "KEEP");
}

TEST(Http1Head, BytewiseEqualsWhole) {
  const char* inputs[] = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "\r\n\r\nPUT /x HTTP/1.0\r\nA: 1\r\nB:2\r\nC: \t3 \t\r\n\r\nrest",
      "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  };
  for (const char* input : inputs) {
    SCOPED_TRACE(input);
    std::string_view buf(input);
    Http1Head whole_head;
    Http1Parse whole = ParseHttp1Head(buf, kMax, whole_head);
    ASSERT_EQ(whole.state, State::kDone);
    Http1Head byte_head;
    Http1Parse bytewise = ParseBytewise(buf, byte_head);
    ASSERT_EQ(bytewise.state, State::kDone);
    EXPECT_EQ(bytewise.consumed, whole.consumed);
    EXPECT_EQ(byte_head.method, whole_head.method);
    EXPECT_EQ(byte_head.target, whole_head.target);
    EXPECT_EQ(byte_head.minor_version, whole_head.minor_version);
    EXPECT_EQ(byte_head.headers, whole_head.headers);
    Http1Head inc_head;
    Http1Parse incremental = ParseIncremental(buf, inc_head);
    ASSERT_EQ(incremental.state, State::kDone);
    EXPECT_EQ(incremental.consumed, whole.consumed);
    EXPECT_EQ(inc_head.method, whole_head.method);
    EXPECT_EQ(inc_head.target, whole_head.target);
    EXPECT_EQ(inc_head.minor_version, whole_head.minor_version);
    EXPECT_EQ(inc_head.headers, whole_head.headers);
  }
}

TEST(Http1HeadParser, CrAtTheEndOfAPieceIsJudgedWithTheNextByte) {
  Http1Head head;
  Http1HeadParser bad(kMax);
  EXPECT_EQ(bad.Parse("GET / HTTP/1.1\r", head).state, State::kNeedMore);
  Http1Parse r = bad.Parse("GET / HTTP/1.1\rX", head);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.status, 400);
  Http1HeadParser good(kMax);
  EXPECT_EQ(good.Parse("GET / HTTP/1.1\r", head).state, State::kNeedMore);
  EXPECT_EQ(good.Parse("GET / HTTP/1.1\r\nHost: a\r", head).state, State::kNeedMore);
  EXPECT_EQ(good.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r", head).state, State::kNeedMore);
  EXPECT_EQ(good.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", head).state, State::kDone);
}

TEST(Http1HeadParser, ResultIsStickyUntilReset) {
  const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string buf = first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  Http1HeadParser parser(kMax);
  Http1Head head;
  Http1Parse r = parser.Parse(buf, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(head.target, "/1");
  head.target = "kept";
  r = parser.Parse(buf + "more", head);
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(head.target, "kept");
  // The next pipelined request after dropping the consumed bytes.
  buf.erase(0, r.consumed);
  parser.Reset();
  r = parser.Parse(buf, head);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(head.target, "/2");
  // Errors stay too.
  Http1HeadParser failing(kMax);
  EXPECT_EQ(failing.Parse("GET / HTTP/9.9\r\n", head).status, 505);
  EXPECT_EQ(failing.Parse("GET / HTTP/9.9\r\nHost: a\r\n\r\n", head).status, 505);
}

TEST(Http1HeadParser, Oversize431WhenFedInPieces) {
  std::string endless = "GET / HTTP/1.1\r\nHost: a\r\n";
  while (endless.size() < 100) endless += "X-A: b\r\n";
  Http1Head head;
  Http1Parse r = ParseIncremental(endless, head, 100);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.status, 431);
}

TEST(Http1Head, NoInputByteCrashes) {
  // Every single byte value after a valid prefix, in the request line and in a value.
  for (int b = 0; b < 256; ++b) {
    std::string line = "GET /" + std::string(1, static_cast<char>(b)) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string value = "GET / HTTP/1.1\r\nHost: a" + std::string(1, static_cast<char>(b)) + "\r\n\r\n";
    Http1Parse r1 = Parse(line);
    Http1Parse r2 = Parse(value);
    bool visible = b > 0x20 && b < 0x7F;
    EXPECT_EQ(r1.state == State::kDone, visible) << b;
    bool field_char = b == '\t' || b == ' ' || (b > 0x20 && b != 0x7F);
    EXPECT_EQ(r2.state == State::kDone, field_char) << b;
  }
}

}  // namespace
}  // namespace palaver::host::net
