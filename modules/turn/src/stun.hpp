// STUN/TURN wire codec, sans-I/O: RFC 8489 (STUN), RFC 8656 (TURN), RFC 6544-style framing of
// STUN and ChannelData messages on TCP/TLS byte streams.
//
// Parsing produces a view over the caller's buffer (attribute offsets, no copies, no heap), so
// the buffer must outlive the StunMessage. Building writes into a caller-provided buffer.
// Malformed input is an expected failure and comes back as a ParseError value (an enum: a flood
// of bad packets must not allocate an error string each).
// Thread: any; every function here is pure except for OpenSSL's HMAC/MD5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "address.hpp"

namespace palaver::turn {

inline constexpr uint32_t kMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderSize = 20;
// The length field is 16 bits and a multiple of 4.
inline constexpr size_t kMaxStunMessageSize = kStunHeaderSize + 0xFFFC;
inline constexpr uint32_t kFingerprintXor = 0x5354554E;
inline constexpr size_t kChannelDataHeaderSize = 4;
// Channel numbers 0x4000 through 0x7FFF, as RFC 5766 §11 and coturn (whose clients pick numbers
// from the whole range). RFC 8656 §12 reserves 0x5000–0x7FFF, but refusing them breaks those
// clients, and nothing else can arrive with a first byte 0x40–0x7F.
inline constexpr uint16_t kMinChannelNumber = 0x4000;
inline constexpr uint16_t kMaxChannelNumber = 0x7FFF;
inline constexpr uint8_t kProtocolUdp = 17;  // REQUESTED-TRANSPORT value for UDP relaying

using TransactionId = std::array<uint8_t, 12>;

enum class Method : uint16_t {
  kBinding = 0x001,
  kAllocate = 0x003,
  kRefresh = 0x004,
  kSend = 0x006,
  kData = 0x007,
  kCreatePermission = 0x008,
  kChannelBind = 0x009,
};

enum class MessageClass : uint8_t { kRequest = 0, kIndication = 1, kSuccess = 2, kError = 3 };

// The 14-bit message type: method bits M0–M11 interleaved with class bits C0/C1 (RFC 8489 §5).
constexpr uint16_t MessageType(Method method, MessageClass cls) {
  auto m = static_cast<uint16_t>(method);
  auto c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) |
                               ((c & 2) << 7));
}
constexpr Method MethodOf(uint16_t type) {
  return static_cast<Method>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}
constexpr MessageClass ClassOf(uint16_t type) {
  return static_cast<MessageClass>(((type >> 4) & 1) | ((type >> 7) & 2));
}

// Attribute types used by TURN (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 for the ICE ones).
namespace attr {
// Comprehension-required (0x0000–0x7FFF).
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kChannelNumber = 0x000C;
inline constexpr uint16_t kLifetime = 0x000D;
inline constexpr uint16_t kXorPeerAddress = 0x0012;
inline constexpr uint16_t kData = 0x0013;
inline constexpr uint16_t kRealm = 0x0014;
inline constexpr uint16_t kNonce = 0x0015;
inline constexpr uint16_t kXorRelayedAddress = 0x0016;
inline constexpr uint16_t kRequestedAddressFamily = 0x0017;
inline constexpr uint16_t kEvenPort = 0x0018;
inline constexpr uint16_t kRequestedTransport = 0x0019;
inline constexpr uint16_t kDontFragment = 0x001A;
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kUserhash = 0x001E;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kReservationToken = 0x0022;
inline constexpr uint16_t kPriority = 0x0024;      // ICE; known so that it is not "unknown"
inline constexpr uint16_t kUseCandidate = 0x0025;  // ICE
// Comprehension-optional (0x8000–0xFFFF).
inline constexpr uint16_t kAdditionalAddressFamily = 0x8000;
inline constexpr uint16_t kAddressErrorCode = 0x8001;
inline constexpr uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kFingerprint = 0x8028;
inline constexpr uint16_t kIceControlled = 0x8029;
inline constexpr uint16_t kIceControlling = 0x802A;
}  // namespace attr

constexpr bool IsComprehensionRequired(uint16_t type) { return type < 0x8000; }
// Whether this codec knows a comprehension-required attribute type. Unknown ones in a request
// make the server answer 420 (RFC 8489 §6.3.1); in an indication they make it drop the message.
bool IsKnownRequiredAttribute(uint16_t type);

enum class ParseError : uint8_t {
  kTooShort,                  // fewer than 20 bytes
  kNotStun,                   // top two bits not 0
  kBadCookie,                 // magic cookie is not 0x2112A442
  kBadLength,                 // length field not a multiple of 4
  kLengthMismatch,            // length field + 20 != bytes given
  kTruncatedAttribute,        // attribute header or value runs past the end
  kTooManyAttributes,         // more than StunMessage::kMaxAttributes
  kBadIntegrityLength,        // MESSAGE-INTEGRITY not 20 bytes / -SHA256 not 16..32 by 4
  kBadFingerprintLength,      // FINGERPRINT not 4 bytes
  kAttributeAfterFingerprint, // FINGERPRINT must be last
  kBadFingerprint,            // CRC mismatch: not a STUN message for us
};
std::string_view ParseErrorName(ParseError e);

// One attribute: its type, value length (unpadded) and the offset of the value in the message.
struct AttributeRef {
  uint16_t type = 0;
  uint16_t length = 0;
  uint32_t offset = 0;
};

// A parsed STUN message: a view over the caller's bytes. Cheap to copy (no heap).
class StunMessage {
 public:
  // Generous for TURN (CreatePermission may carry several XOR-PEER-ADDRESS); a message with
  // more attributes than this is refused rather than partly read.
  static constexpr size_t kMaxAttributes = 40;
  static constexpr size_t kMaxUnknown = 8;

  // Parses one complete message; `bytes` must be exactly the message (a UDP datagram, or one
  // frame cut by NextFrame). Checks the header, walks every attribute with bounds checks, and
  // verifies FINGERPRINT if present. Attributes after MESSAGE-INTEGRITY other than
  // MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, as RFC 8489 §14.5 says.
  static tl::expected<StunMessage, ParseError> Parse(std::span<const uint8_t> bytes);

  std::span<const uint8_t> bytes() const { return bytes_; }
  uint16_t type() const { return type_; }
  Method method() const { return MethodOf(type_); }
  MessageClass message_class() const { return ClassOf(type_); }
  const TransactionId& transaction_id() const { return tid_; }

  std::span<const AttributeRef> attributes() const { return {attrs_.data(), count_}; }
  // The first attribute of `type` (RFC 8489: later duplicates are ignored), or null.
  const AttributeRef* Find(uint16_t type) const;
  bool Has(uint16_t type) const { return Find(type) != nullptr; }
  std::span<const uint8_t> Value(const AttributeRef& a) const { return bytes_.subspan(a.offset, a.length); }
  // Value of the first attribute of `type` as text (no validation of UTF-8), or nullopt.
  std::optional<std::string_view> String(uint16_t type) const;

  // Comprehension-required attribute types this codec does not know (up to kMaxUnknown).
  std::span<const uint16_t> unknown_required() const { return {unknown_.data(), unknown_count_}; }

  const AttributeRef* integrity() const { return integrity_ < 0 ? nullptr : &attrs_[static_cast<size_t>(integrity_)]; }
  const AttributeRef* integrity_sha256() const {
    return integrity_sha256_ < 0 ? nullptr : &attrs_[static_cast<size_t>(integrity_sha256_)];
  }
  bool has_fingerprint() const { return has_fingerprint_; }

 private:
  std::span<const uint8_t> bytes_;
  uint16_t type_ = 0;
  TransactionId tid_{};
  std::array<AttributeRef, kMaxAttributes> attrs_{};
  size_t count_ = 0;
  std::array<uint16_t, kMaxUnknown> unknown_{};
  size_t unknown_count_ = 0;
  int integrity_ = -1;
  int integrity_sha256_ = -1;
  bool has_fingerprint_ = false;
};

// --- attribute value decoders: nullopt when the value is malformed (→ 400 for requests) ----------

// XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2).
std::optional<Address> DecodeXorAddress(std::span<const uint8_t> value, const TransactionId& tid);
// MAPPED-ADDRESS (RFC 8489 §14.1).
std::optional<Address> DecodeAddress(std::span<const uint8_t> value);
// A 32-bit value (LIFETIME): exactly 4 bytes.
std::optional<uint32_t> DecodeU32(std::span<const uint8_t> value);

struct ErrorCodeValue {
  int code = 0;  // 300..699
  std::string_view reason;
};
std::optional<ErrorCodeValue> DecodeErrorCode(std::span<const uint8_t> value);
// CHANNEL-NUMBER: the 16-bit number (range is checked by the caller: IsValidChannelNumber).
std::optional<uint16_t> DecodeChannelNumber(std::span<const uint8_t> value);
// REQUESTED-TRANSPORT: the protocol number.
std::optional<uint8_t> DecodeRequestedTransport(std::span<const uint8_t> value);
// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY: the family byte (0x01, 0x02, or other).
std::optional<uint8_t> DecodeAddressFamily(std::span<const uint8_t> value);
// EVEN-PORT: the R ("reserve next port") bit.
std::optional<bool> DecodeEvenPort(std::span<const uint8_t> value);
// UNKNOWN-ATTRIBUTES: up to `out.size()` types; returns how many were written.
std::optional<size_t> DecodeUnknownAttributes(std::span<const uint8_t> value, std::span<uint16_t> out);

struct PasswordAlgorithmValue {
  uint16_t algorithm = 0;  // 0x0001 MD5, 0x0002 SHA-256
  std::span<const uint8_t> parameters;
};
// PASSWORD-ALGORITHM (RFC 8489 §14.12).
std::optional<PasswordAlgorithmValue> DecodePasswordAlgorithm(std::span<const uint8_t> value);

constexpr bool IsValidChannelNumber(uint16_t n) { return n >= kMinChannelNumber && n <= kMaxChannelNumber; }

// --- integrity and fingerprint --------------------------------------------------------------------

// CRC-32 (ISO-HDLC, the one FINGERPRINT uses), table-driven and written here: zlib would do the
// same, but nothing in the build links it and one table is not worth a dependency.
uint32_t Crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

// HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, the length field set to end just after it
// (RFC 8489 §14.5); compared in constant time (CRYPTO_memcmp). False when the attribute is absent.
bool VerifyMessageIntegrity(const StunMessage& m, std::span<const uint8_t> key);
// The same with HMAC-SHA256 and MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), which may be
// truncated to 16..32 bytes.
bool VerifyMessageIntegritySha256(const StunMessage& m, std::span<const uint8_t> key);

// --- building -------------------------------------------------------------------------------------

// Writes a STUN message into a caller-provided buffer. Every Add* appends one attribute with zero
// padding and keeps the header's length field current; running out of room sets a sticky
// failure (ok() false) instead of writing past the buffer.
class MessageBuilder {
 public:
  // REQUIRES: `buffer` outlives the builder.
  MessageBuilder(std::span<uint8_t> buffer, uint16_t type, const TransactionId& tid);
  MessageBuilder(std::span<uint8_t> buffer, Method method, MessageClass cls, const TransactionId& tid)
      : MessageBuilder(buffer, MessageType(method, cls), tid) {}

  MessageBuilder& Add(uint16_t type, std::span<const uint8_t> value);
  MessageBuilder& AddString(uint16_t type, std::string_view value);
  MessageBuilder& AddU32(uint16_t type, uint32_t value);
  MessageBuilder& AddXorAddress(uint16_t type, const Address& address);
  MessageBuilder& AddAddress(uint16_t type, const Address& address);  // MAPPED-ADDRESS form
  MessageBuilder& AddErrorCode(int code, std::string_view reason);
  // ADDRESS-ERROR-CODE (RFC 8656 §18.11): which family failed, and why.
  MessageBuilder& AddAddressErrorCode(Family family, int code, std::string_view reason);
  MessageBuilder& AddUnknownAttributes(std::span<const uint16_t> types);
  MessageBuilder& AddChannelNumber(uint16_t channel);
  MessageBuilder& AddRequestedTransport(uint8_t protocol);
  MessageBuilder& AddAddressFamily(uint16_t type, Family family);
  MessageBuilder& AddEvenPort(bool reserve_next);
  // The integrity attributes and FINGERPRINT come last, in this order.
  MessageBuilder& AddMessageIntegrity(std::span<const uint8_t> key);
  MessageBuilder& AddMessageIntegritySha256(std::span<const uint8_t> key);
  MessageBuilder& AddFingerprint();

  bool ok() const { return ok_; }
  size_t size() const { return size_; }
  // The message so far (REQUIRES: ok()).
  std::span<const uint8_t> bytes() const { return buffer_.first(size_); }

 private:
  uint8_t* Reserve(uint16_t type, size_t length);
  void SetLength(size_t body_length);

  std::span<uint8_t> buffer_;
  TransactionId tid_;
  size_t size_ = 0;
  bool ok_ = true;
};

// A Data indication (RFC 8656 §11.4): XOR-PEER-ADDRESS and DATA. Returns its size, or 0 when it
// does not fit into `out`.
size_t WriteDataIndication(std::span<uint8_t> out, const TransactionId& tid, const Address& peer,
                           std::span<const uint8_t> data);

// --- ChannelData (RFC 8656 §12.4) -----------------------------------------------------------------

struct ChannelData {
  uint16_t channel = 0;
  std::span<const uint8_t> data;
};

// One ChannelData message: a UDP datagram or one stream frame. The channel must be in
// 0x4000–0x7FFF; the data must fit; up to 3 bytes of padding may follow (required on streams,
// optional on UDP); more is malformed.
std::optional<ChannelData> ParseChannelData(std::span<const uint8_t> bytes);

// Size of a ChannelData message carrying `n` bytes; `pad` rounds up to 4 (TCP/TLS).
constexpr size_t ChannelDataSize(size_t n, bool pad) {
  return kChannelDataHeaderSize + (pad ? (n + 3) & ~size_t{3} : n);
}
// Writes the 4-byte header (REQUIRES: out.size() >= 4, data_length <= 0xFFFF). Lets the engine
// put the header in front of a payload already in place.
void WriteChannelDataHeader(std::span<uint8_t> out, uint16_t channel, uint16_t data_length);
// Writes header, data and (if `pad`) zero padding. Returns the size, or 0 if it does not fit or
// the data is longer than 65535 bytes.
size_t WriteChannelData(std::span<uint8_t> out, uint16_t channel, std::span<const uint8_t> data, bool pad);

// --- framing on TCP/TLS (RFC 6544 §3 style: messages back to back) --------------------------------

enum class FrameStatus : uint8_t {
  kNeedMore,  // not enough bytes yet to know or to hold the next message
  kComplete,  // the first `size` bytes are one message of `kind`
  kGarbage,   // not STUN, not ChannelData: the stream cannot be resynchronized; close it
};
enum class FrameKind : uint8_t { kStun, kChannelData };
struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  FrameKind kind = FrameKind::kStun;
  size_t size = 0;
};
// Looks at the start of the unconsumed stream bytes. STUN: top bits 00, cookie, length a multiple
// of 4 → 20 + length. ChannelData: top bits 01, channel in range → 4 + length padded to 4.
Frame NextFrame(std::span<const uint8_t> buffered);

}  // namespace palaver::turn
