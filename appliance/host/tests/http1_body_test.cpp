// Tests for HTTP/1.1 body framing, the chunked decoder and the response-head serializer.
#include <gtest/gtest.h>

#include <string>

#include "net/http1.hpp"

namespace palaver::host::net {
namespace {

using namespace std::string_literals;
using Kind = BodyFraming::Kind;
using CState = ChunkedDecoder::State;

Http1Head HeadWith(std::vector<std::pair<std::string, std::string>> headers, int minor = 1) {
  Http1Head head;
  head.method = "POST";
  head.target = "/";
  head.minor_version = minor;
  head.headers = std::move(headers);
  return head;
}

void ExpectFramingError(std::vector<std::pair<std::string, std::string>> headers, int status, const char* what,
                        int minor = 1) {
  SCOPED_TRACE(what);
  BodyFraming f = DetermineBodyFraming(HeadWith(std::move(headers), minor));
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.error_status, status);
  EXPECT_FALSE(f.reason.empty());
}

TEST(Http1Framing, RejectsTransferEncodingWithContentLength) {
  ExpectFramingError({{"transfer-encoding", "chunked"}, {"content-length", "5"}}, 400, "TE first");
  ExpectFramingError({{"content-length", "5"}, {"transfer-encoding", "chunked"}}, 400, "CL first");
}

TEST(Http1Framing, RejectsTransferEncodingOnHttp10) {
  ExpectFramingError({{"transfer-encoding", "chunked"}}, 400, "1.0", 0);
}

TEST(Http1Framing, RejectsBadContentLength) {
  ExpectFramingError({{"content-length", "5"}, {"content-length", "6"}}, 400, "differing");
  ExpectFramingError({{"content-length", "5, 5"}}, 400, "list");
  ExpectFramingError({{"content-length", ""}}, 400, "empty");
  ExpectFramingError({{"content-length", "+5"}}, 400, "sign");
  ExpectFramingError({{"content-length", "-1"}}, 400, "negative");
  ExpectFramingError({{"content-length", "0x10"}}, 400, "hex");
  ExpectFramingError({{"content-length", "5a"}}, 400, "suffix");
  ExpectFramingError({{"content-length", "5 5"}}, 400, "inner space");
  ExpectFramingError({{"content-length", "18446744073709551616"}}, 400, "2^64");
  ExpectFramingError({{"content-length", "99999999999999999999999"}}, 400, "huge");
}

TEST(Http1Framing, RejectsTransferEncodingWithoutFinalChunked) {
  ExpectFramingError({{"transfer-encoding", "gzip"}}, 400, "gzip only");
  ExpectFramingError({{"transfer-encoding", "chunked, gzip"}}, 400, "chunked not last");
  ExpectFramingError({{"transfer-encoding", "chunked, chunked"}}, 400, "chunked twice");
  ExpectFramingError({{"transfer-encoding", "chunked"}, {"transfer-encoding", "chunked"}}, 400, "twice, 2 lines");
  ExpectFramingError({{"transfer-encoding", ""}}, 400, "empty");
  ExpectFramingError({{"transfer-encoding", " , ,"}}, 400, "only empty elements");
  ExpectFramingError({{"transfer-encoding", "chunked;a=b"}}, 400, "parameters on chunked");
  ExpectFramingError({{"transfer-encoding", "chu nked"}}, 400, "not a token");
  ExpectFramingError({{"transfer-encoding", "x@y, chunked"}}, 400, "bad coding before chunked");
  ExpectFramingError({{"transfer-encoding", "chunkedx"}}, 400, "lookalike");
}

TEST(Http1Framing, UnknownCodingBeforeChunkedIs501) {
  ExpectFramingError({{"transfer-encoding", "gzip, chunked"}}, 501, "gzip, chunked");
  ExpectFramingError({{"transfer-encoding", "gzip"}, {"transfer-encoding", "chunked"}}, 501, "two lines");
  ExpectFramingError({{"transfer-encoding", "x;q=1, chunked"}}, 501, "with parameter");
}

TEST(Http1Framing, NoFramingMeansNoBody) {
  BodyFraming f = DetermineBodyFraming(HeadWith({{"host", "a"}}));
  EXPECT_TRUE(f.ok());
  EXPECT_EQ(f.kind, Kind::kNone);
}

TEST(Http1Framing, ContentLength) {
  BodyFraming f = DetermineBodyFraming(HeadWith({{"content-length", "42"}}));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.kind, Kind::kLength);
  EXPECT_EQ(f.length, 42u);
  f = DetermineBodyFraming(HeadWith({{"content-length", "0"}}));
  EXPECT_EQ(f.kind, Kind::kLength);
  EXPECT_EQ(f.length, 0u);
  f = DetermineBodyFraming(HeadWith({{"content-length", "18446744073709551615"}}));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.length, 18446744073709551615u);
  // Repeated with the same decimal value is allowed (RFC 9110 §8.6).
  f = DetermineBodyFraming(HeadWith({{"content-length", "7"}, {"content-length", "007"}}, 0));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.length, 7u);
}

TEST(Http1Framing, Chunked) {
  for (const char* te : {"chunked", "Chunked", "CHUNKED", ", chunked", "chunked ,"}) {
    SCOPED_TRACE(te);
    BodyFraming f = DetermineBodyFraming(HeadWith({{"transfer-encoding", te}}));
    ASSERT_TRUE(f.ok()) << f.reason;
    EXPECT_EQ(f.kind, Kind::kChunked);
  }
}

// Decodes `in` in one Feed call.
CState DecodeAll(std::string_view in, std::string& out, size_t& consumed, size_t max_line = 4096) {
  ChunkedDecoder d(max_line);
  return d.Feed(in, out, consumed);
}

void ExpectChunkedError(std::string_view in, const char* what, size_t max_line = 4096) {
  SCOPED_TRACE(what);
  std::string out;
  size_t consumed = 0;
  ChunkedDecoder whole(max_line);
  EXPECT_EQ(whole.Feed(in, out, consumed), CState::kError);
  EXPECT_EQ(whole.error_status(), 400);
  EXPECT_FALSE(whole.reason().empty());
  // Byte by byte: the same error.
  ChunkedDecoder bytewise(max_line);
  CState s = CState::kNeedMore;
  for (size_t i = 0; i < in.size() && s == CState::kNeedMore; ++i) s = bytewise.Feed(in.substr(i, 1), out, consumed);
  EXPECT_EQ(s, CState::kError);
  EXPECT_EQ(bytewise.reason(), whole.reason());
}

TEST(Http1Chunked, RejectsBadChunkSize) {
  ExpectChunkedError("\r\n", "empty size line");
  ExpectChunkedError("x\r\n", "not hex");
  ExpectChunkedError("-5\r\n", "sign");
  ExpectChunkedError("0x5\r\n", "0x prefix");
  ExpectChunkedError("5 \r\n", "trailing space");
  ExpectChunkedError(" 5\r\n", "leading space");
  ExpectChunkedError("10000000000000000\r\n", "2^64 overflows");
  ExpectChunkedError("fffffffffffffffff\r\n", "17 hex digits");
}

TEST(Http1Chunked, RejectsBadExtensions) {
  ExpectChunkedError("5;\r\nhello\r\n0\r\n\r\n", "empty name");
  ExpectChunkedError("5;=x\r\nhello\r\n0\r\n\r\n", "no name");
  ExpectChunkedError("5;a=\r\nhello\r\n0\r\n\r\n", "no value");
  ExpectChunkedError("5;a=\"x\r\nhello\r\n0\r\n\r\n", "unterminated quote");
  ExpectChunkedError("5;a=\"x\\\"\r\n", "escaped final quote");
  ExpectChunkedError("5;a b\r\nhello\r\n0\r\n\r\n", "space inside");
  ExpectChunkedError("5;a=\"\x01\"\r\n", "CTL in quoted");
  ExpectChunkedError("5;a=b ;\r\n", "empty second name");
  ExpectChunkedError("5;a;\r\n", "trailing semicolon");
}

TEST(Http1Chunked, RejectsBadLineEndings) {
  ExpectChunkedError("5\nhello\r\n0\r\n\r\n", "bare LF after size");
  ExpectChunkedError("5\rxhello", "bare CR in size line");
  ExpectChunkedError("5\r\nhelloX\r\n", "data not followed by CRLF");
  ExpectChunkedError("5\r\nhello\rX", "data followed by CR only");
  ExpectChunkedError("5\r\nhello\n0\r\n\r\n", "data followed by LF");
  ExpectChunkedError("5\r\nhello world\r\n", "more data than declared");
  ExpectChunkedError("0\r\n\n", "bare LF ends trailers");
  ExpectChunkedError("5\0\r\n"s, "NUL in size line");
}

TEST(Http1Chunked, RejectsBadTrailers) {
  ExpectChunkedError("0\r\nX-A\r\n\r\n", "no colon");
  ExpectChunkedError("0\r\nX-A: b\r\n c\r\n\r\n", "obs-fold");
  ExpectChunkedError("0\r\n c: d\r\n\r\n", "leading space");
  ExpectChunkedError("0\r\nX A: b\r\n\r\n", "bad name");
  ExpectChunkedError("0\r\nX-A: \x01\r\n\r\n", "CTL in value");
  std::string many = "0\r\n";
  for (size_t i = 0; i <= ChunkedDecoder::kMaxTrailerLines; ++i) many += "X-T: v\r\n";
  ExpectChunkedError(many + "\r\n", "too many trailer lines");
}

TEST(Http1Chunked, RejectsOverlongLines) {
  // max_line 8: "5;abc=de" is 8 bytes (accepted), one more is not.
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(DecodeAll("5;abc=de\r\nhello\r\n0\r\n\r\n", out, consumed, 8), CState::kDone);
  ExpectChunkedError("5;abc=def\r\nhello\r\n0\r\n\r\n", "size line", 8);
  EXPECT_EQ(DecodeAll("0\r\nX-A: 123\r\n\r\n", out, consumed, 8), CState::kDone);
  ExpectChunkedError("0\r\nX-A: 1234\r\n\r\n", "trailer line", 8);
  ExpectChunkedError("000000005\r\n", "leading zeros count too", 8);
}

TEST(Http1Chunked, DecodesChunks) {
  const std::string body = "5\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n";
  std::string out;
  size_t consumed = 0;
  ChunkedDecoder d;
  EXPECT_EQ(d.Feed(body + "GET / HTTP/1.1\r\n", out, consumed), CState::kDone);
  EXPECT_EQ(consumed, body.size());
  EXPECT_EQ(out, "hello world0123456789");
  EXPECT_EQ(d.state(), CState::kDone);
  // Done stays done and consumes nothing.
  EXPECT_EQ(d.Feed("5\r\nhello\r\n", out, consumed), CState::kDone);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(out, "hello world0123456789");
}

TEST(Http1Chunked, ErrorIsSticky) {
  ChunkedDecoder d;
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(d.Feed("z\r\n", out, consumed), CState::kError);
  EXPECT_EQ(d.Feed("5\r\nhello\r\n0\r\n\r\n", out, consumed), CState::kError);
  EXPECT_EQ(consumed, 0u);
  EXPECT_TRUE(out.empty());
}

TEST(Http1Chunked, EmptyBody) {
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(DecodeAll("0\r\n\r\n", out, consumed), CState::kDone);
  EXPECT_EQ(consumed, 5u);
  EXPECT_TRUE(out.empty());
}

TEST(Http1Chunked, ExtensionsAndTrailersAreIgnored) {
  const std::string body =
      "5;name=value\r\nhello\r\n"
      "1 ; a ; b = c ;q=\"x\\\"y;z\"\r\n!\r\n"
      "3;n=\"caf\xc3\xa9\"\r\nabc\r\n"
      "0;last\r\nX-Trailer: v\r\nX-Other:\r\n\r\n";
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(DecodeAll(body, out, consumed), CState::kDone);
  EXPECT_EQ(consumed, body.size());
  EXPECT_EQ(out, "hello!abc");
}

TEST(Http1Chunked, HexCaseAndLeadingZeros) {
  std::string data(0x1aF, 'x');
  const std::string body = "00001Af\r\n" + data + "\r\n0000\r\n\r\n";
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(DecodeAll(body, out, consumed), CState::kDone);
  EXPECT_EQ(out, data);
}

TEST(Http1Chunked, HugeDeclaredSizeBuffersOnlyArrivedBytes) {
  ChunkedDecoder d;
  std::string out;
  size_t consumed = 0;
  EXPECT_EQ(d.Feed("ffffffffffffffff\r\nabc", out, consumed), CState::kNeedMore);
  EXPECT_EQ(consumed, 21u);
  EXPECT_EQ(out, "abc");
  EXPECT_LT(out.capacity(), 1024u);
}

TEST(Http1Chunked, EverySplitEqualsWhole) {
  const std::string body = "5;e=\"q\"\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: x\r\n\r\n";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    SCOPED_TRACE(cut);
    ChunkedDecoder d;
    std::string out;
    size_t consumed = 0;
    CState s = d.Feed(std::string_view(body).substr(0, cut), out, consumed);
    EXPECT_EQ(consumed, cut);
    if (cut < body.size()) {
      EXPECT_EQ(s, CState::kNeedMore);
      s = d.Feed(std::string_view(body).substr(cut), out, consumed);
      EXPECT_EQ(consumed, body.size() - cut);
    }
    EXPECT_EQ(s, CState::kDone);
    EXPECT_EQ(out, "hello world");
  }
  // Byte by byte.
  ChunkedDecoder d;
  std::string out;
  size_t consumed = 0;
  CState s = CState::kNeedMore;
  for (char c : body) {
    ASSERT_EQ(s, CState::kNeedMore);
    s = d.Feed(std::string_view(&c, 1), out, consumed);
    EXPECT_EQ(consumed, 1u);
  }
  EXPECT_EQ(s, CState::kDone);
  EXPECT_EQ(out, "hello world");
}

TEST(Http1Tokens, IsTokenAndValidHeaderValue) {
  EXPECT_TRUE(IsToken("GET"));
  EXPECT_TRUE(IsToken("x-a!#$%&'*+.^_`|~09"));
  EXPECT_FALSE(IsToken(""));
  for (char c : std::string("()<>@,;:\\\"/[]?={} \t\x7f\x80")) EXPECT_FALSE(IsToken(std::string("a") + c)) << c;
  EXPECT_TRUE(ValidHeaderValue(""));
  EXPECT_TRUE(ValidHeaderValue("a b\tc \xff"));
  EXPECT_FALSE(ValidHeaderValue("a\r\nb"));
  EXPECT_FALSE(ValidHeaderValue("a\nb"));
  EXPECT_FALSE(ValidHeaderValue("a\0b"s));
  EXPECT_FALSE(ValidHeaderValue("a\x7f"));
}

TEST(Http1Response, RefusesHeaderInjection) {
  std::string out;
  EXPECT_FALSE(
      AppendHttp1ResponseHead(out, 302, {{"Location", "/x\r\nSet-Cookie: a=b"}, {"Bad Name", "v"}, {"X-Ok", "1"}}));
  EXPECT_EQ(out, "HTTP/1.1 302 Found\r\nX-Ok: 1\r\n\r\n");
}

TEST(Http1Response, SerializesHead) {
  std::string out = "prefix|";
  EXPECT_TRUE(AppendHttp1ResponseHead(out, 200, {{"Content-Length", "5"}, {"Content-Type", "text/plain"}}));
  EXPECT_EQ(out, "prefix|HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n");
  out.clear();
  EXPECT_TRUE(AppendHttp1ResponseHead(out, 599, {}));
  EXPECT_EQ(out, "HTTP/1.1 599 Unknown\r\n\r\n");
}

TEST(Http1Response, ReasonPhrases) {
  EXPECT_EQ(ReasonPhrase(101), "Switching Protocols");
  EXPECT_EQ(ReasonPhrase(204), "No Content");
  EXPECT_EQ(ReasonPhrase(404), "Not Found");
  EXPECT_EQ(ReasonPhrase(413), "Content Too Large");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(ReasonPhrase(0), "Unknown");
  EXPECT_EQ(ReasonPhrase(-1), "Unknown");
  EXPECT_EQ(ReasonPhrase(299), "Unknown");
}

}  // namespace
}  // namespace palaver::host::net
