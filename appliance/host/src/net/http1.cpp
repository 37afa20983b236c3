#include "net/http1.hpp"

#include <algorithm>
#include <limits>

namespace palaver::host::net {
namespace {

bool IsTchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// field-vchar / SP / HTAB (RFC 9110 §5.5): VCHAR = 0x21-0x7E, obs-text = 0x80-0xFF.
bool IsFieldChar(unsigned char c) { return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7F); }

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowercase(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = AsciiLower(c);
  return r;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

Http1Parse HeadError(int status, std::string reason) {
  Http1Parse r;
  r.state = Http1Parse::State::kError;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

// Checks a field line (header or trailer) without its CRLF. Returns an error reason, or empty when valid.
std::string_view CheckFieldLine(std::string_view line, std::string_view& name, std::string_view& value) {
  if (IsOws(line.front())) return "obsolete line folding";
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return "header line without colon";
  name = line.substr(0, colon);
  if (name.empty()) return "empty header name";
  if (!IsToken(name)) return "invalid header name";
  value = TrimOws(line.substr(colon + 1));
  if (!ValidHeaderValue(value)) return "invalid header value";
  return {};
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
Http1Parse ParseRequestLine(std::string_view line, Http1Head& head) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return HeadError(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  if (!IsToken(method)) return HeadError(400, "invalid method");
  std::string_view rest = line.substr(sp1 + 1);
  size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) return HeadError(400, "malformed request line");
  std::string_view target = rest.substr(0, sp2);
  if (target.empty()) return HeadError(400, "empty request target");
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return HeadError(400, "invalid character in request target");
  }
  std::string_view version = rest.substr(sp2 + 1);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) || version[6] != '.' ||
      !digit(version[7])) {
    return HeadError(400, "malformed HTTP version");
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return HeadError(505, "HTTP version not supported");
  }
  head.method = std::string(method);
  head.target = std::string(target);
  head.minor_version = version[7] - '0';
  return {};
}

// Parses 1*DIGIT into a uint64. False when empty, not digits, or too large.
bool ParseDecimal(std::string_view s, uint64_t& value) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  value = v;
  return true;
}

BodyFraming FramingError(int status, std::string reason) {
  BodyFraming f;
  f.error_status = status;
  f.reason = std::move(reason);
  return f;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string.
bool ValidChunkExtensions(std::string_view s) {
  size_t p = 0;
  auto skip_ws = [&] {
    while (p < s.size() && IsOws(s[p])) ++p;
  };
  auto token = [&] {
    size_t start = p;
    while (p < s.size() && IsTchar(static_cast<unsigned char>(s[p]))) ++p;
    return p > start;
  };
  auto quoted_string = [&] {
    ++p;  // DQUOTE
    while (p < s.size()) {
      auto c = static_cast<unsigned char>(s[p]);
      if (c == '"') {
        ++p;
        return true;
      }
      if (c == '\\') {
        if (p + 1 >= s.size() || !IsFieldChar(static_cast<unsigned char>(s[p + 1]))) return false;
        p += 2;
      } else if (IsFieldChar(c)) {
        ++p;
      } else {
        return false;
      }
    }
    return false;  // unterminated
  };
  while (p < s.size()) {
    skip_ws();
    if (p >= s.size() || s[p] != ';') return false;
    ++p;
    skip_ws();
    if (!token()) return false;
    size_t after_name = p;
    skip_ws();
    if (p < s.size() && s[p] == '=') {
      ++p;
      skip_ws();
      if (p < s.size() && s[p] == '"') {
        if (!quoted_string()) return false;
      } else if (!token()) {
        return false;
      }
    } else {
      p = after_name;
    }
  }
  return true;
}

}  // namespace

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsTchar(static_cast<unsigned char>(c)); });
}

bool ValidHeaderValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return IsFieldChar(static_cast<unsigned char>(c)); });
}

Http1HeadParser::Http1HeadParser(size_t max_head_bytes) : max_head_bytes_(max_head_bytes) {}

void Http1HeadParser::Reset() { *this = Http1HeadParser(max_head_bytes_); }

Http1Parse Http1HeadParser::Finish(Http1Parse result) {
  result_ = std::move(result);
  head_ = Http1Head();
  return result_;
}

Http1Parse Http1HeadParser::Parse(std::string_view buf, Http1Head& out) {
  if (result_.state != Http1Parse::State::kNeedMore) return result_;
  const size_t window = std::min(buf.size(), max_head_bytes_);
  while (true) {
    // Find the end of the next line inside the window; NUL and bare CR fail at once. Bytes of the partial line
    // checked by an earlier call are not scanned again.
    size_t lf = std::string_view::npos;
    size_t i = std::max(pos_, scanned_);
    for (; i < window; ++i) {
      char c = buf[i];
      if (c == '\n') {
        lf = i;
        break;
      }
      if (c == '\0') return Finish(HeadError(400, "NUL byte in request head"));
      if (c == '\r' && i + 1 < window && buf[i + 1] != '\n') return Finish(HeadError(400, "bare CR in request head"));
    }
    if (lf == std::string_view::npos) {
      if (buf.size() >= max_head_bytes_) return Finish(HeadError(431, "request head too large"));
      // A CR at the end is judged once the next byte is there.
      scanned_ = (i > pos_ && buf[i - 1] == '\r') ? i - 1 : i;
      return {};  // kNeedMore
    }
    std::string_view line = buf.substr(pos_, lf - pos_);
    if (line.empty() || line.back() != '\r') return Finish(HeadError(400, "bare LF in request head"));
    line.remove_suffix(1);
    pos_ = lf + 1;

    if (!have_request_line_) {
      if (line.empty()) {
        if (++empty_lines_ > kMaxLeadingEmptyLines) {
          return Finish(HeadError(400, "too many empty lines before request"));
        }
        continue;
      }
      Http1Parse r = ParseRequestLine(line, head_);
      if (r.state == Http1Parse::State::kError) return Finish(std::move(r));
      have_request_line_ = true;
      continue;
    }
    if (line.empty()) break;  // end of the head

    std::string_view name;
    std::string_view value;
    std::string_view bad = CheckFieldLine(line, name, value);
    if (!bad.empty()) return Finish(HeadError(400, std::string(bad)));
    std::string lower = Lowercase(name);
    if (lower == "host" && ++host_fields_ > 1) return Finish(HeadError(400, "several Host fields"));
    head_.headers.emplace_back(std::move(lower), std::string(value));
  }
  if (head_.minor_version == 1 && host_fields_ == 0) return Finish(HeadError(400, "missing Host field"));
  out = std::move(head_);
  Http1Parse done;
  done.state = Http1Parse::State::kDone;
  done.consumed = pos_;
  return Finish(std::move(done));
}

Http1Parse ParseHttp1Head(std::string_view buf, size_t max_head_bytes, Http1Head& out) {
  Http1HeadParser parser(max_head_bytes);
  return parser.Parse(buf, out);
}

BodyFraming DetermineBodyFraming(const Http1Head& head) {
  bool have_te = false;
  std::vector<std::string_view> codings;
  bool have_cl = false;
  uint64_t length = 0;
  for (const auto& [name, value] : head.headers) {
    if (name == "transfer-encoding") {
      have_te = true;
      std::string_view list = value;
      while (true) {
        size_t comma = list.find(',');
        std::string_view element = TrimOws(list.substr(0, comma));
        if (!element.empty()) codings.push_back(element);  // empty list elements are allowed (RFC 9110 §5.6.1)
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    } else if (name == "content-length") {
      uint64_t v = 0;
      if (!ParseDecimal(value, v)) return FramingError(400, "invalid Content-Length");
      if (have_cl && v != length) return FramingError(400, "conflicting Content-Length fields");
      have_cl = true;
      length = v;
    }
  }
  if (have_te) {
    if (head.minor_version == 0) return FramingError(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (have_cl) return FramingError(400, "both Transfer-Encoding and Content-Length");
    if (codings.empty()) return FramingError(400, "empty Transfer-Encoding");
    bool unknown = false;
    for (size_t i = 0; i < codings.size(); ++i) {
      std::string_view coding = codings[i];
      size_t semi = coding.find(';');
      std::string_view coding_name = TrimOws(coding.substr(0, semi));
      if (!IsToken(coding_name)) return FramingError(400, "invalid Transfer-Encoding");
      bool last = i + 1 == codings.size();
      if (EqualsIgnoreCase(coding_name, "chunked")) {
        if (!last) return FramingError(400, "chunked is not the final transfer coding");
        if (semi != std::string_view::npos) return FramingError(400, "parameters on chunked");
      } else if (last) {
        return FramingError(400, "chunked is not the final transfer coding");
      } else {
        unknown = true;
      }
    }
    if (unknown) return FramingError(501, "transfer coding not implemented");
    BodyFraming f;
    f.kind = BodyFraming::Kind::kChunked;
    return f;
  }
  BodyFraming f;
  if (have_cl) {
    f.kind = BodyFraming::Kind::kLength;
    f.length = length;
  }
  return f;
}

ChunkedDecoder::ChunkedDecoder(size_t max_line) : max_line_(max_line) {}

ChunkedDecoder::State ChunkedDecoder::Fail(std::string reason) {
  phase_ = Phase::kError;
  state_ = State::kError;
  error_status_ = 400;
  reason_ = std::move(reason);
  return state_;
}

bool ChunkedDecoder::LineByte(char c) {
  if (c == '\n') {
    if (line_.empty() || line_.back() != '\r') {
      Fail("bare LF in chunked body");
      return false;
    }
    line_.pop_back();
    bool ok = phase_ == Phase::kSizeLine ? EndSizeLine() : EndTrailerLine();
    line_.clear();
    return ok;
  }
  if (c == '\0') {
    Fail("NUL byte in chunked body line");
    return false;
  }
  if (!line_.empty() && line_.back() == '\r') {
    Fail("bare CR in chunked body");
    return false;
  }
  if (c != '\r' && line_.size() >= max_line_) {
    Fail(phase_ == Phase::kSizeLine ? "chunk size line too long" : "trailer line too long");
    return false;
  }
  line_.push_back(c);
  return true;
}

bool ChunkedDecoder::EndSizeLine() {
  std::string_view line = line_;
  uint64_t size = 0;
  size_t p = 0;
  for (; p < line.size(); ++p) {
    char c = line[p];
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    if (size > (std::numeric_limits<uint64_t>::max() >> 4)) {
      Fail("chunk size overflow");
      return false;
    }
    size = (size << 4) | digit;
  }
  if (p == 0) {
    Fail("missing chunk size");
    return false;
  }
  if (!ValidChunkExtensions(line.substr(p))) {
    Fail("invalid chunk extension");
    return false;
  }
  if (size == 0) {
    phase_ = Phase::kTrailer;
  } else {
    remaining_ = size;
    phase_ = Phase::kData;
  }
  return true;
}

bool ChunkedDecoder::EndTrailerLine() {
  if (line_.empty()) {
    phase_ = Phase::kDone;
    state_ = State::kDone;
    return true;
  }
  if (++trailer_lines_ > kMaxTrailerLines) {
    Fail("too many trailer fields");
    return false;
  }
  std::string_view name;
  std::string_view value;
  std::string_view bad = CheckFieldLine(line_, name, value);
  if (!bad.empty()) {
    Fail("trailer: " + std::string(bad));
    return false;
  }
  return true;
}

ChunkedDecoder::State ChunkedDecoder::Feed(std::string_view in, std::string& out, size_t& consumed) {
  consumed = 0;
  size_t i = 0;
  while (i < in.size() && state_ == State::kNeedMore) {
    switch (phase_) {
      case Phase::kSizeLine:
      case Phase::kTrailer:
        LineByte(in[i++]);
        break;
      case Phase::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
        out.append(in.data() + i, n);
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) phase_ = Phase::kDataCr;
        break;
      }
      case Phase::kDataCr:
        if (in[i++] != '\r') {
          Fail("chunk data not followed by CRLF");
        } else {
          phase_ = Phase::kDataLf;
        }
        break;
      case Phase::kDataLf:
        if (in[i++] != '\n') {
          Fail("chunk data not followed by CRLF");
        } else {
          phase_ = Phase::kSizeLine;
        }
        break;
      case Phase::kDone:
      case Phase::kError:
        break;  // unreachable: state_ is no longer kNeedMore
    }
  }
  consumed = i;
  return state_;
}

std::string_view ReasonPhrase(int status) {
  struct Entry {
    int status;
    std::string_view phrase;
  };
  static constexpr Entry kPhrases[] = {
      {100, "Continue"},
      {101, "Switching Protocols"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {203, "Non-Authoritative Information"},
      {204, "No Content"},
      {205, "Reset Content"},
      {206, "Partial Content"},
      {300, "Multiple Choices"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {305, "Use Proxy"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {402, "Payment Required"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {406, "Not Acceptable"},
      {407, "Proxy Authentication Required"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {412, "Precondition Failed"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {416, "Range Not Satisfiable"},
      {417, "Expectation Failed"},
      {421, "Misdirected Request"},
      {422, "Unprocessable Content"},
      {426, "Upgrade Required"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (const Entry& e : kPhrases) {
    if (e.status == status) return e.phrase;
  }
  return "Unknown";
}

bool AppendHttp1ResponseHead(std::string& out, int status,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\n";
  bool all = true;
  for (const auto& [name, value] : headers) {
    if (!IsToken(name) || !ValidHeaderValue(value)) {
      all = false;
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return all;
}

}  // namespace palaver::host::net
