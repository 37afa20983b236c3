// libFuzzer target for the sans-I/O net codecs (src/net/http1, src/net/websocket, src/net/forwarded). Not part of
// the gcc build.
// The first input byte picks the codec, the second a split point and a limit; the rest is the client's bytes.
// Properties checked (abort on violation): parsing a buffer whole, in two pieces, and byte by byte gives the same
// result (state, status, consumed bytes, headers / decoded data / events); accepted header names are tokens and
// values valid; decoded text messages are valid UTF-8 and within max_message_bytes; decoded chunked data is never
// larger than the input; forwarding headers yield only "unknown" or canonical addresses, and a client address
// that is the peer or such an address.
//
// Build and run (Debian: clang, libclang-rt-14-dev, libssl-dev), from the repository root:
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iappliance/host/src appliance/host/src/net/http1.cpp appliance/host/src/net/websocket.cpp \
//     appliance/host/src/net/forwarded.cpp appliance/host/src/cidr.cpp \
//     appliance/host/fuzz/net_codec_fuzz.cpp -lcrypto -o /tmp/net_codec_fuzz
//   mkdir -p /tmp/net_corpus && /tmp/net_codec_fuzz -max_total_time=120 -max_len=2048 /tmp/net_corpus
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/forwarded.hpp"
#include "net/http1.hpp"
#include "net/websocket.hpp"

using namespace palaver::host::net;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                     \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "CHECK failed %s:%d %s\n", __FILE__, __LINE__, #c); \
      abort();                                                            \
    }                                                                     \
  } while (0)
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t sel = data[0] % 4;
  const size_t cut = data[1];
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t split = in.empty() ? 0 : cut % (in.size() + 1);
  if (sel == 0) {
    // Head: whole vs every prefix until decided.
    size_t max = 64 + cut * 4;
    Http1Head whole_head;
    Http1Parse whole = ParseHttp1Head(in, max, whole_head);
    Http1Parse r;
    Http1Head h;
    size_t n = 0;
    for (; n <= in.size(); ++n) {
      r = ParseHttp1Head(in.substr(0, n), max, h);
      if (r.state != Http1Parse::State::kNeedMore) break;
    }
    FUZZ_CHECK(r.state == whole.state);
    FUZZ_CHECK(r.status == whole.status);
    FUZZ_CHECK(r.consumed == whole.consumed);
    {
      Http1HeadParser p(max);
      Http1Head ph;
      Http1Parse pr = p.Parse(in.substr(0, split), ph);
      if (pr.state == Http1Parse::State::kNeedMore) pr = p.Parse(in, ph);
      FUZZ_CHECK(pr.state == whole.state && pr.status == whole.status && pr.consumed == whole.consumed);
      FUZZ_CHECK(pr.reason == whole.reason);
      if (pr.state == Http1Parse::State::kDone)
        FUZZ_CHECK(ph.headers == whole_head.headers && ph.method == whole_head.method);
      Http1HeadParser q(max);
      Http1Parse qr;
      for (size_t k = 0; k <= in.size(); ++k) {
        qr = q.Parse(in.substr(0, k), ph);
        if (qr.state != Http1Parse::State::kNeedMore) break;
      }
      FUZZ_CHECK(qr.state == whole.state && qr.status == whole.status && qr.consumed == whole.consumed);
    }
    if (whole.state == Http1Parse::State::kDone) {
      FUZZ_CHECK(whole.consumed <= max && whole.consumed <= in.size());
      FUZZ_CHECK(h.headers == whole_head.headers && h.target == whole_head.target);
      for (auto& [k, v] : whole_head.headers) {
        FUZZ_CHECK(IsToken(k));
        FUZZ_CHECK(ValidHeaderValue(v));
      }
      BodyFraming f = DetermineBodyFraming(whole_head);
      (void)f;
      std::string out;
      AppendHttp1ResponseHead(out, 200, whole_head.headers);
    }
  } else if (sel == 1) {
    ChunkedDecoder a(16 + cut), b(16 + cut);
    std::string oa, ob;
    size_t ca = 0, cb1 = 0, cb2 = 0;
    auto sa = a.Feed(in, oa, ca);
    auto sb = b.Feed(in.substr(0, split), ob, cb1);
    if (sb == ChunkedDecoder::State::kNeedMore) sb = b.Feed(in.substr(split), ob, cb2);
    FUZZ_CHECK(sa == sb);
    FUZZ_CHECK(oa == ob);
    if (sa != ChunkedDecoder::State::kError) FUZZ_CHECK(ca == cb1 + cb2);
    FUZZ_CHECK(oa.size() <= in.size());
  } else if (sel == 2) {
    size_t max = cut * 8;
    WsReader a(max), b(max);
    std::vector<WsEvent> ea, eb;
    size_t ca = a.Feed(in, ea);
    size_t cb = b.Feed(in.substr(0, split), eb);
    if (!b.failed() && cb == split) cb += b.Feed(in.substr(split), eb);
    FUZZ_CHECK(a.failed() == b.failed());
    FUZZ_CHECK(a.close_code() == b.close_code());
    FUZZ_CHECK(ca == cb);
    FUZZ_CHECK(ea.size() == eb.size());
    for (size_t i = 0; i < ea.size(); ++i) {
      FUZZ_CHECK(ea[i].kind == eb[i].kind && ea[i].data == eb[i].data && ea[i].close_code == eb[i].close_code);
      if (ea[i].kind == WsEvent::Kind::kMessage) {
        FUZZ_CHECK(ea[i].data.size() <= max);
        if (!ea[i].binary) FUZZ_CHECK(ValidUtf8(ea[i].data));
      }
    }
    std::string out;
    AppendWsClose(out, static_cast<int>(cut) + 990, in);
    AppendWsFrame(out, WsOpcode::kText, in);
    ValidWebSocketKey(in);
  } else {
    // Forwarding headers, one header line per input line.
    std::vector<std::string_view> lines;
    for (size_t start = 0; start <= in.size();) {
      size_t nl = in.find('\n', start);
      if (nl == std::string_view::npos) nl = in.size();
      lines.push_back(in.substr(start, nl - start));
      start = nl + 1;
    }
    std::vector<std::string> hops;
    for (bool rfc7239 : {false, true}) {
      bool ok = rfc7239 ? ParseForwarded(lines, hops) : ParseXForwardedFor(lines, hops);
      if (ok) {
        for (const auto& h : hops) FUZZ_CHECK(h == "unknown" || CanonicalAddress(h) == h);
      }
    }
    const bool rfc7239 = (cut & 1) != 0;
    std::vector<std::pair<std::string, std::string>> headers;
    for (auto l : lines) headers.emplace_back(rfc7239 ? "forwarded" : "x-forwarded-for", std::string(l));
    std::vector<palaver::host::Cidr> trusted{*palaver::host::Cidr::Parse("127.0.0.0/8"),
                                             *palaver::host::Cidr::Parse("2001:db8::/32")};
    ClientAddress c = ResolveClientAddress("127.0.0.1", trusted,
                                           rfc7239 ? ProxyHeader::kForwarded : ProxyHeader::kXForwardedFor, headers);
    FUZZ_CHECK(c.address == "127.0.0.1" || (c.forwarded && CanonicalAddress(c.address) == c.address));
    FUZZ_CHECK(c.ignored_reason.empty() || !c.forwarded);
  }
  return 0;
}
