// WebSocket codec, server side (RFC 6455): frame reader for client frames, frame writer for server frames, the
// handshake helpers and strict UTF-8 validation. Sans-I/O: no sockets; the caller moves the bytes.
//
// Faces hostile clients and is a fuzzing target: defined behaviour on every input, and the reader only ever
// buffers bytes that arrived (never reserves memory from a length the client declared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace palaver::host::net {

enum class WsOpcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Close codes the reader reports on a protocol violation (RFC 6455 §7.4.1).
inline constexpr int kWsCloseProtocolError = 1002;
inline constexpr int kWsCloseInvalidPayload = 1007;
inline constexpr int kWsCloseMessageTooBig = 1009;
inline constexpr size_t kWsMaxControlPayload = 125;

// One complete thing a client sent. Value type.
struct WsEvent {
  enum class Kind { kMessage, kPing, kPong, kClose } kind = Kind::kMessage;
  bool binary = false;    // kMessage
  std::string data;       // message / ping / pong payload; close reason
  int close_code = 1005;  // kClose: the code sent (1005 if none)
};

// Incremental strict UTF-8 validator (no overlongs, no surrogates, nothing above U+10FFFF), for input that
// arrives in pieces. Value type.
class Utf8Validator {
 public:
  // Feeds bytes; false as soon as they cannot be the start of valid UTF-8 (sticky).
  bool Feed(std::string_view bytes) { return Consume(bytes) == bytes.size() && ok_; }
  // Like Feed, but returns how many bytes were accepted: bytes.size() if all, else the index of the bad byte.
  size_t Consume(std::string_view bytes);
  // True when everything fed so far is valid and no sequence is left open.
  bool Complete() const { return ok_ && need_ == 0; }
  void Reset() { *this = Utf8Validator(); }

 private:
  bool ok_ = true;
  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80;  // allowed range of the next continuation byte
  uint8_t hi_ = 0xBF;
};

// Strict UTF-8 check of a complete string.
bool ValidUtf8(std::string_view s);

// Reads the frames a client sends on one connection and turns them into events.
// Checks (the close code the caller should send is close_code()):
// - 1002: frame not masked; RSV bits set (no extension is negotiated); reserved opcode; control frame with
//   FIN clear or payload > 125; continuation without a started message; a new text/binary frame while a
//   fragmented message is open; 64-bit length with the most significant bit set; Close payload of 1 byte or
//   with a code that must not be sent (RFC 6455 §7.4: < 1000, 1004-1006, 1015-2999, >= 5000);
// - 1007: text message or close reason not valid UTF-8 (checked as the bytes arrive, so a bad sequence fails
//   before the message ends; an open sequence fails at the message end);
// - 1009: message (all fragments) larger than max_message_bytes, detected from the frame header before any of
//   that frame's payload is buffered.
// Non-minimal length encodings are accepted. Each violation is detected at the first byte that proves it.
// Thread: whoever owns the connection (no shared state).
class WsReader {
 public:
  explicit WsReader(size_t max_message_bytes);

  // Parses frames from `in`, appending complete events to `events` (events completed before a violation are
  // appended too). Partial frames are kept internally, so normally all of `in` is consumed. Returns the bytes
  // consumed: on a violation, up to and including the byte that proved it (or the byte that completed the frame
  // or message found invalid); afterwards 0. After a Close frame the
  // reader is closed(): the rest of `in` and later input are consumed and ignored (RFC 6455 §5.5.1).
  size_t Feed(std::string_view in, std::vector<WsEvent>& events);

  bool failed() const { return failed_; }
  bool closed() const { return closed_; }
  // Between frames and messages (nothing half read, not failed or closed): a fresh reader would
  // go on exactly as this one, so an idle socket may drop its reader (WsSession::Sweep).
  bool Idle() const { return !in_message_ && !in_payload_ && header_len_ == 0 && !failed_ && !closed_; }
  // With failed(): 1002, 1007 or 1009; 0 otherwise.
  int close_code() const { return close_code_; }
  // With failed(): short English description for logs.
  const std::string& error() const { return error_; }

 private:
  bool HeaderByte(uint8_t b, std::vector<WsEvent>& events);
  bool CheckFirstByte(uint8_t b);
  bool CheckLength();
  bool FinishFrame(std::vector<WsEvent>& events);
  bool FinishClose(std::vector<WsEvent>& events);
  bool Fail(int code, std::string error);

  size_t max_message_bytes_;

  // The frame being read.
  bool in_payload_ = false;
  uint8_t header_[14] = {};
  size_t header_len_ = 0;
  size_t length_end_ = 2;  // header bytes up to the end of the length field
  bool fin_ = false;
  uint8_t opcode_ = 0;
  uint64_t payload_len_ = 0;
  uint64_t payload_got_ = 0;
  uint8_t mask_[4] = {};
  std::string control_;  // control-frame payload, <= 125 bytes

  // The data message being assembled (possibly over several fragments).
  bool in_message_ = false;
  bool binary_ = false;
  std::string message_;
  Utf8Validator utf8_;

  bool failed_ = false;
  bool closed_ = false;
  int close_code_ = 0;
  std::string error_;
};

// Appends one unfragmented, unmasked server frame. A control payload longer than 125 bytes is cut to 125.
void AppendWsFrame(std::string& out, WsOpcode op, std::string_view payload);
// Appends a Close frame with `code` and `reason`; the reason is cut to 123 bytes on a UTF-8 boundary (and left
// out if not valid UTF-8). A code that must not be sent (1005, 1006, 1015, outside 1000-4999's valid ranges)
// gives an empty Close payload.
void AppendWsClose(std::string& out, int code, std::string_view reason);
// True for a close code that may appear in a Close frame (RFC 6455 §7.4).
bool ValidWsCloseCode(int code);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string WebSocketAccept(std::string_view key);
// A valid Sec-WebSocket-Key is the canonical base64 of exactly 16 bytes (24 characters, "==" padding).
bool ValidWebSocketKey(std::string_view key);

}  // namespace palaver::host::net
