#include "net/websocket.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace palaver::host::net {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool IsControl(uint8_t opcode) { return (opcode & 0x08) != 0; }

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

size_t Utf8Validator::Consume(std::string_view bytes) {
  if (!ok_) return 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<uint8_t>(bytes[i]);
    if (need_ == 0) {
      if (b < 0x80) continue;
      // Lead byte: how many continuation bytes follow and the range of the first one (RFC 3629 §4), which
      // excludes overlongs (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and > U+10FFFF (F4 90+, F5+).
      lo_ = 0x80;
      hi_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b == 0xE0) {
        need_ = 2;
        lo_ = 0xA0;
      } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
        need_ = 2;
      } else if (b == 0xED) {
        need_ = 2;
        hi_ = 0x9F;
      } else if (b == 0xF0) {
        need_ = 3;
        lo_ = 0x90;
      } else if (b >= 0xF1 && b <= 0xF3) {
        need_ = 3;
      } else if (b == 0xF4) {
        need_ = 3;
        hi_ = 0x8F;
      } else {
        ok_ = false;
        return i;
      }
    } else {
      if (b < lo_ || b > hi_) {
        ok_ = false;
        return i;
      }
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
    }
  }
  return bytes.size();
}

bool ValidUtf8(std::string_view s) {
  Utf8Validator v;
  return v.Feed(s) && v.Complete();
}

bool ValidWsCloseCode(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

WsReader::WsReader(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

bool WsReader::Fail(int code, std::string error) {
  failed_ = true;
  close_code_ = code;
  error_ = std::move(error);
  message_ = std::string();
  control_ = std::string();
  return false;
}

size_t WsReader::Feed(std::string_view in, std::vector<WsEvent>& events) {
  if (failed_) return 0;
  size_t i = 0;
  while (i < in.size()) {
    if (closed_) return in.size();
    if (!in_payload_) {
      if (!HeaderByte(static_cast<uint8_t>(in[i++]), events)) return i;
      continue;
    }
    const bool control = IsControl(opcode_);
    std::string& dst = control ? control_ : message_;
    const auto n = static_cast<size_t>(std::min<uint64_t>(payload_len_ - payload_got_, in.size() - i));
    const size_t start = dst.size();
    dst.append(in.data() + i, n);
    for (size_t k = 0; k < n; ++k) {
      dst[start + k] = static_cast<char>(static_cast<uint8_t>(dst[start + k]) ^ mask_[(payload_got_ + k) & 3]);
    }
    if (!control && !binary_) {
      const size_t good = utf8_.Consume(std::string_view(dst).substr(start));
      if (good < n) {
        Fail(kWsCloseInvalidPayload, "text message not valid UTF-8");
        return i + good + 1;  // up to and including the bad byte
      }
    }
    i += n;
    payload_got_ += n;
    if (payload_got_ == payload_len_) {
      in_payload_ = false;
      if (!FinishFrame(events)) return i;
    }
  }
  return closed_ ? in.size() : i;
}

bool WsReader::HeaderByte(uint8_t b, std::vector<WsEvent>& events) {
  header_[header_len_++] = b;
  if (header_len_ == 1) return CheckFirstByte(b);
  if (header_len_ == 2) {
    if ((b & 0x80) == 0) return Fail(kWsCloseProtocolError, "client frame not masked");
    const uint8_t len7 = b & 0x7F;
    if (IsControl(opcode_) && len7 > kWsMaxControlPayload) {
      return Fail(kWsCloseProtocolError, "control frame payload over 125 bytes");
    }
    length_end_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
  }
  if (header_len_ == length_end_ && !CheckLength()) return false;
  if (header_len_ < length_end_ + 4) return true;

  // Header complete.
  std::memcpy(mask_, header_ + length_end_, 4);
  header_len_ = 0;
  length_end_ = 2;
  payload_got_ = 0;
  if (IsControl(opcode_)) {
    control_.clear();
  } else if (opcode_ != static_cast<uint8_t>(WsOpcode::kContinuation)) {
    in_message_ = true;
    binary_ = opcode_ == static_cast<uint8_t>(WsOpcode::kBinary);
    message_.clear();
    utf8_.Reset();
  }
  if (payload_len_ == 0) return FinishFrame(events);
  in_payload_ = true;
  return true;
}

bool WsReader::CheckFirstByte(uint8_t b) {
  fin_ = (b & 0x80) != 0;
  if ((b & 0x70) != 0) return Fail(kWsCloseProtocolError, "RSV bits set without a negotiated extension");
  opcode_ = b & 0x0F;
  switch (static_cast<WsOpcode>(opcode_)) {
    case WsOpcode::kContinuation:
    case WsOpcode::kText:
    case WsOpcode::kBinary:
    case WsOpcode::kClose:
    case WsOpcode::kPing:
    case WsOpcode::kPong:
      break;
    default:
      return Fail(kWsCloseProtocolError, "reserved opcode");
  }
  if (IsControl(opcode_)) {
    if (!fin_) return Fail(kWsCloseProtocolError, "fragmented control frame");
  } else if (opcode_ == static_cast<uint8_t>(WsOpcode::kContinuation)) {
    if (!in_message_) return Fail(kWsCloseProtocolError, "continuation frame without a started message");
  } else if (in_message_) {
    return Fail(kWsCloseProtocolError, "new data frame while a fragmented message is open");
  }
  return true;
}

bool WsReader::CheckLength() {
  const uint8_t len7 = header_[1] & 0x7F;
  if (len7 < 126) {
    payload_len_ = len7;
  } else if (len7 == 126) {
    payload_len_ = (static_cast<uint64_t>(header_[2]) << 8) | header_[3];
  } else {
    uint64_t v = 0;
    for (size_t k = 2; k < 10; ++k) v = (v << 8) | header_[k];
    if ((v >> 63) != 0) return Fail(kWsCloseProtocolError, "64-bit payload length with the top bit set");
    payload_len_ = v;
  }
  // message_.size() <= max_message_bytes_ always holds, so the subtraction cannot wrap.
  if (!IsControl(opcode_) && payload_len_ > max_message_bytes_ - message_.size()) {
    return Fail(kWsCloseMessageTooBig, "message too big");
  }
  return true;
}

bool WsReader::FinishFrame(std::vector<WsEvent>& events) {
  if (IsControl(opcode_)) {
    if (opcode_ == static_cast<uint8_t>(WsOpcode::kClose)) return FinishClose(events);
    WsEvent e;
    e.kind = opcode_ == static_cast<uint8_t>(WsOpcode::kPing) ? WsEvent::Kind::kPing : WsEvent::Kind::kPong;
    e.data = std::move(control_);
    control_.clear();
    events.push_back(std::move(e));
    return true;
  }
  if (!fin_) return true;
  if (!binary_ && !utf8_.Complete()) {
    return Fail(kWsCloseInvalidPayload, "text message ends inside a UTF-8 sequence");
  }
  WsEvent e;
  e.kind = WsEvent::Kind::kMessage;
  e.binary = binary_;
  e.data = std::move(message_);
  message_.clear();
  in_message_ = false;
  events.push_back(std::move(e));
  return true;
}

bool WsReader::FinishClose(std::vector<WsEvent>& events) {
  WsEvent e;
  e.kind = WsEvent::Kind::kClose;
  if (control_.size() == 1) return Fail(kWsCloseProtocolError, "close payload of 1 byte");
  if (control_.size() >= 2) {
    const int code = (static_cast<uint8_t>(control_[0]) << 8) | static_cast<uint8_t>(control_[1]);
    if (!ValidWsCloseCode(code)) return Fail(kWsCloseProtocolError, "invalid close code");
    std::string_view reason = std::string_view(control_).substr(2);
    if (!ValidUtf8(reason)) return Fail(kWsCloseInvalidPayload, "close reason not valid UTF-8");
    e.close_code = code;
    e.data = std::string(reason);
  }
  control_.clear();
  events.push_back(std::move(e));
  closed_ = true;
  return true;
}

void AppendWsFrame(std::string& out, WsOpcode op, std::string_view payload) {
  const auto opcode = static_cast<uint8_t>(op);
  if (IsControl(opcode) && payload.size() > kWsMaxControlPayload) payload = payload.substr(0, kWsMaxControlPayload);
  const uint64_t len = payload.size();
  out.push_back(static_cast<char>(0x80 | opcode));
  if (len < 126) {
    out.push_back(static_cast<char>(len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((len >> 8) & 0xFF));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((len >> shift) & 0xFF));
  }
  out.append(payload);
}

void AppendWsClose(std::string& out, int code, std::string_view reason) {
  if (!ValidWsCloseCode(code)) {
    AppendWsFrame(out, WsOpcode::kClose, {});
    return;
  }
  constexpr size_t kMaxReason = kWsMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    size_t cut = kMaxReason;
    // Back off over continuation bytes so a multi-byte character is not split.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  if (!ValidUtf8(reason)) reason = {};
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xFF));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  AppendWsFrame(out, WsOpcode::kClose, payload);
}

std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input.append(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1) return {};
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  if (n < 0) return {};
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

bool ValidWebSocketKey(std::string_view key) {
  // 16 bytes = 21 full base64 characters + one carrying 2 bits (its low 4 bits zero: A, Q, g or w) + "==".
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  if (!std::all_of(key.begin(), key.begin() + 22, IsBase64Char)) return false;
  const char last = key[21];
  return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

}  // namespace palaver::host::net
