// HTTP/1.1 request codec (RFC 9110, RFC 9112): request-head parser, body framing, chunked decoder and the
// response-head serializer. Sans-I/O: no sockets, no clocks; every function works on bytes the caller hands in.
//
// Faces hostile clients and is a fuzzing target: defined behaviour on every input, and memory is only ever
// allocated for bytes that arrived (never from a length the client declared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace palaver::host::net {

// A parsed request head. Value type.
struct Http1Head {
  std::string method;     // token, case-sensitive as sent
  std::string target;     // request-target as sent (origin-form "/p?q", "*", absolute-form, authority-form)
  int minor_version = 1;  // HTTP/1.0 -> 0, HTTP/1.1 -> 1
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, values with OWS trimmed
};

// The outcome of ParseHttp1Head.
struct Http1Parse {
  enum class State { kNeedMore, kDone, kError } state = State::kNeedMore;
  size_t consumed = 0;  // kDone: bytes of the head incl. the final CRLF CRLF
  int status = 0;       // kError: 400, 431 or 505
  std::string reason;   // kError: short English reason for logs and the response body
};

// Parses one request head at the start of `buf`. Bytes beyond the head are left alone (body or pipelined
// requests). Stateless: call again with the grown buffer on kNeedMore. `out` is written only on kDone.
//
// Strictness (each is a 400 unless noted):
// - up to kMaxLeadingEmptyLines CRLFs before the request line are skipped (RFC 9112 §2.2); more are an error;
// - request line `method SP target SP HTTP/1.x CRLF`, exactly single SPs; method a token; target non-empty
//   visible ASCII (no CTL, SP, DEL or bytes >= 0x80); version HTTP/1.0 or HTTP/1.1, another well-formed
//   `HTTP/d.d` -> 505;
// - field lines `name ":" OWS value OWS CRLF`: name a token (so whitespace before the colon is rejected,
//   RFC 9112 §5.1), no obs-fold (a line starting with SP/HTAB), value without CTLs other than HTAB;
// - every line ends in CRLF: a bare LF or a bare CR is an error; a NUL byte anywhere in the head is an error as
//   soon as it is seen;
// - HTTP/1.1 without exactly one Host field, or any request with several Host fields (RFC 9112 §3.2);
// - no complete head within `max_head_bytes` bytes (counting the final CRLF CRLF) -> 431, decided as soon as
//   `buf` holds max_head_bytes bytes without one.
// A bad line is reported as soon as it is complete, before the rest of the head arrives. An unknown method is
// not an error here (the router answers 405/501).
//
// Cost: linear in min(buf.size(), max_head_bytes) per call. A connection reading a head in many small pieces
// should use Http1HeadParser, which does not rescan (this function would be quadratic there).
Http1Parse ParseHttp1Head(std::string_view buf, size_t max_head_bytes, Http1Head& out);

inline constexpr int kMaxLeadingEmptyLines = 4;

// The same parser, resumable: each call only looks at bytes not judged before, so reading a head byte by byte
// costs linear time. Same rules and results as ParseHttp1Head.
// Thread: whoever owns the connection (no shared state).
class Http1HeadParser {
 public:
  explicit Http1HeadParser(size_t max_head_bytes);

  // REQUIRES: `buf` starts with the bytes passed to the previous call since construction or Reset() (the
  // caller appends to its buffer and passes all of it).
  // After kDone or kError, returns that same result (and leaves `out` alone) until Reset().
  Http1Parse Parse(std::string_view buf, Http1Head& out);
  // Ready for the next request (e.g. a pipelined one, after dropping the consumed bytes from the buffer).
  void Reset();

 private:
  Http1Parse Finish(Http1Parse result);

  size_t max_head_bytes_;
  size_t pos_ = 0;      // bytes of complete, accepted lines
  size_t scanned_ = 0;  // bytes of the partial line after pos_ that were checked already
  bool have_request_line_ = false;
  int empty_lines_ = 0;
  int host_fields_ = 0;
  Http1Head head_;     // filled line by line
  Http1Parse result_;  // kDone / kError once decided
};

// How the request body is delimited (RFC 9112 §6). Value type.
struct BodyFraming {
  enum class Kind { kNone, kLength, kChunked } kind = Kind::kNone;
  uint64_t length = 0;   // kLength: the Content-Length (may be 0)
  int error_status = 0;  // non-zero: the request must be answered with this status and the connection closed
  std::string reason;    // with error_status: short English reason

  bool ok() const { return error_status == 0; }
};

// Body framing from the head's headers (RFC 9112 §6.1-6.3):
// - Transfer-Encoding (all field lines joined as one list): chunked must be the last coding and appear once,
//   else 400; another coding before chunked ("gzip, chunked") -> 501; on HTTP/1.0 -> 400; with Content-Length
//   too -> 400;
// - Content-Length: each value exactly 1*DIGIT that fits in uint64 (no lists), several fields must carry the
//   same value, else 400;
// - neither -> kNone (a request without framing has no body).
BodyFraming DetermineBodyFraming(const Http1Head& head);

// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
// Chunk extensions are checked against the grammar and ignored; so are trailer fields. Each chunk-size line and
// each trailer line may hold at most `max_line` bytes (without CRLF), the trailer section at most
// kMaxTrailerLines lines. Violations -> 400. The caller bounds the total body size by watching `out`.
// Thread: whoever owns it (no shared state).
class ChunkedDecoder {
 public:
  static constexpr size_t kMaxTrailerLines = 32;

  explicit ChunkedDecoder(size_t max_line = 4096);

  enum class State { kNeedMore, kDone, kError };

  // Consumes from `in` and appends decoded data to `out` (at most in.size() bytes per call). `consumed` is set
  // to the bytes of `in` used; on kDone the bytes after the body (a pipelined request) are not consumed. After
  // kDone or kError further calls consume nothing and return the same state.
  State Feed(std::string_view in, std::string& out, size_t& consumed);

  State state() const { return state_; }
  int error_status() const { return error_status_; }
  const std::string& reason() const { return reason_; }

 private:
  enum class Phase { kSizeLine, kData, kDataCr, kDataLf, kTrailer, kDone, kError };

  // Appends one byte of a line (size line or trailer line); returns false on error.
  bool LineByte(char c);
  bool EndSizeLine();
  bool EndTrailerLine();
  State Fail(std::string reason);

  size_t max_line_;
  Phase phase_ = Phase::kSizeLine;
  State state_ = State::kNeedMore;
  std::string line_;  // the line being read, without LF; bounded by max_line_ + 1
  uint64_t remaining_ = 0;
  size_t trailer_lines_ = 0;
  int error_status_ = 0;
  std::string reason_;
};

// tchar per RFC 9110 §5.6.2; non-empty.
bool IsToken(std::string_view s);
// A field value per RFC 9110 §5.5: HTAB, SP, VCHAR and obs-text only (no CR, LF, NUL, other CTLs or DEL).
bool ValidHeaderValue(std::string_view s);

// The RFC 9110 reason phrase (plus 429/431 from RFC 6585), "Unknown" for other codes.
std::string_view ReasonPhrase(int status);

// Appends "HTTP/1.1 <status> <reason>\r\n" + "name: value\r\n"... + "\r\n".
// A header whose name is not a token or whose value fails ValidHeaderValue is left out, so a reflected value can
// never split the response; returns false if any was left out.
// REQUIRES: 100 <= status <= 999.
bool AppendHttp1ResponseHead(std::string& out, int status,
                             const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace palaver::host::net
