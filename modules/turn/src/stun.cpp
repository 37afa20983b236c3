#include "stun.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <initializer_list>

namespace palaver::turn {
namespace {

uint16_t Get16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}
uint32_t Get32(std::span<const uint8_t> b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | uint32_t{b[at + 3]};
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
constexpr size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// HMAC over several byte ranges (the integrity input is a patched header plus the body, and we
// do not copy the body). EVP_MAC is OpenSSL 3's non-deprecated HMAC interface; the algorithm is
// fetched once. Returns the MAC length, or 0 on failure.
size_t Hmac(const char* digest, std::span<const uint8_t> key, std::initializer_list<std::span<const uint8_t>> parts,
            uint8_t* out, size_t out_size) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return 0;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end(),
  };
  static const uint8_t kEmpty = 0;
  size_t len = 0;
  bool ok = EVP_MAC_init(ctx, key.empty() ? &kEmpty : key.data(), key.size(), params) == 1;
  for (auto part : parts) {
    if (ok && !part.empty()) ok = EVP_MAC_update(ctx, part.data(), part.size()) == 1;
  }
  if (ok) ok = EVP_MAC_final(ctx, out, &len, out_size) == 1;
  EVP_MAC_CTX_free(ctx);
  return ok ? len : 0;
}

// Verifies the integrity attribute `a` (MESSAGE-INTEGRITY or -SHA256) of `m`.
bool VerifyMac(const StunMessage& m, const AttributeRef& a, const char* digest, std::span<const uint8_t> key) {
  std::span<const uint8_t> b = m.bytes();
  size_t attr_start = a.offset - 4;
  // The length field as if the message ended right after this attribute (RFC 8489 §14.5/§14.6).
  size_t adjusted = attr_start + 4 + Padded(a.length) - kStunHeaderSize;
  uint8_t header[kStunHeaderSize];
  std::memcpy(header, b.data(), kStunHeaderSize);
  Put16(header + 2, static_cast<uint16_t>(adjusted));
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t n = Hmac(digest, key, {std::span<const uint8_t>(header), b.subspan(kStunHeaderSize, attr_start - kStunHeaderSize)},
                  mac, sizeof(mac));
  if (n == 0 || n < a.length) return false;
  return CRYPTO_memcmp(mac, b.data() + a.offset, a.length) == 0;
}

}  // namespace

bool IsKnownRequiredAttribute(uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
    case attr::kUsername:
    case attr::kMessageIntegrity:
    case attr::kErrorCode:
    case attr::kUnknownAttributes:
    case attr::kChannelNumber:
    case attr::kLifetime:
    case attr::kXorPeerAddress:
    case attr::kData:
    case attr::kRealm:
    case attr::kNonce:
    case attr::kXorRelayedAddress:
    case attr::kRequestedAddressFamily:
    case attr::kEvenPort:
    case attr::kRequestedTransport:
    case attr::kDontFragment:
    case attr::kMessageIntegritySha256:
    case attr::kPasswordAlgorithm:
    case attr::kUserhash:
    case attr::kXorMappedAddress:
    case attr::kReservationToken:
    case attr::kPriority:
    case attr::kUseCandidate:
      return true;
    default:
      return false;
  }
}

std::string_view ParseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kTooShort: return "too_short";
    case ParseError::kNotStun: return "not_stun";
    case ParseError::kBadCookie: return "bad_cookie";
    case ParseError::kBadLength: return "bad_length";
    case ParseError::kLengthMismatch: return "length_mismatch";
    case ParseError::kTruncatedAttribute: return "truncated_attribute";
    case ParseError::kTooManyAttributes: return "too_many_attributes";
    case ParseError::kBadIntegrityLength: return "bad_integrity_length";
    case ParseError::kBadFingerprintLength: return "bad_fingerprint_length";
    case ParseError::kAttributeAfterFingerprint: return "attribute_after_fingerprint";
    case ParseError::kBadFingerprint: return "bad_fingerprint";
  }
  return "?";
}

tl::expected<StunMessage, ParseError> StunMessage::Parse(std::span<const uint8_t> b) {
  using U = tl::unexpected<ParseError>;
  if (b.size() < kStunHeaderSize) return U(ParseError::kTooShort);
  if ((b[0] & 0xC0) != 0) return U(ParseError::kNotStun);
  if (Get32(b, 4) != kMagicCookie) return U(ParseError::kBadCookie);
  uint16_t length = Get16(b, 2);
  if (length % 4 != 0) return U(ParseError::kBadLength);
  if (size_t{length} + kStunHeaderSize != b.size()) return U(ParseError::kLengthMismatch);

  StunMessage m;
  m.bytes_ = b;
  m.type_ = Get16(b, 0);
  std::memcpy(m.tid_.data(), b.data() + 8, m.tid_.size());

  // 0: before MESSAGE-INTEGRITY; 1: after it (only -SHA256 and FINGERPRINT count);
  // 2: after MESSAGE-INTEGRITY-SHA256 (only FINGERPRINT counts).
  int stage = 0;
  size_t pos = kStunHeaderSize;
  while (pos < b.size()) {
    if (m.has_fingerprint_) return U(ParseError::kAttributeAfterFingerprint);
    if (b.size() - pos < 4) return U(ParseError::kTruncatedAttribute);
    uint16_t type = Get16(b, pos);
    uint16_t len = Get16(b, pos + 2);
    size_t value = pos + 4;
    // The body is a multiple of 4 and every attribute starts 4-aligned, so a value that fits
    // always has room for its padding; the padding bytes themselves are ignored (RFC 5769 pads
    // with spaces).
    if (len > b.size() - value) return U(ParseError::kTruncatedAttribute);
    pos = value + Padded(len);

    if (type == attr::kFingerprint) {
      if (len != 4) return U(ParseError::kBadFingerprintLength);
      // CRC over everything before the attribute, the length field ending just after it.
      uint8_t fixed_length[2];
      Put16(fixed_length, static_cast<uint16_t>(pos - kStunHeaderSize));
      uint32_t crc = Crc32(b.first(2));
      crc = Crc32(fixed_length, crc);
      crc = Crc32(b.subspan(4, value - 4 - 4), crc);
      if ((crc ^ kFingerprintXor) != Get32(b, value)) return U(ParseError::kBadFingerprint);
      m.has_fingerprint_ = true;
    } else if (stage == 2 || (stage == 1 && type != attr::kMessageIntegritySha256)) {
      continue;  // after the integrity attributes: ignored (RFC 8489 §14.5, §14.6)
    } else if (type == attr::kMessageIntegrity) {
      if (len != 20) return U(ParseError::kBadIntegrityLength);
      stage = 1;
    } else if (type == attr::kMessageIntegritySha256) {
      if (len < 16 || len > 32 || len % 4 != 0) return U(ParseError::kBadIntegrityLength);
      stage = 2;
    }

    if (m.count_ == kMaxAttributes) return U(ParseError::kTooManyAttributes);
    if (type == attr::kMessageIntegrity) m.integrity_ = static_cast<int>(m.count_);
    if (type == attr::kMessageIntegritySha256) m.integrity_sha256_ = static_cast<int>(m.count_);
    m.attrs_[m.count_++] = AttributeRef{type, len, static_cast<uint32_t>(value)};

    if (IsComprehensionRequired(type) && !IsKnownRequiredAttribute(type) && m.unknown_count_ < kMaxUnknown) {
      bool seen = false;
      for (size_t i = 0; i < m.unknown_count_; ++i) seen = seen || m.unknown_[i] == type;
      if (!seen) m.unknown_[m.unknown_count_++] = type;
    }
  }
  return m;
}

const AttributeRef* StunMessage::Find(uint16_t type) const {
  for (size_t i = 0; i < count_; ++i) {
    if (attrs_[i].type == type) return &attrs_[i];
  }
  return nullptr;
}

std::optional<std::string_view> StunMessage::String(uint16_t type) const {
  const AttributeRef* a = Find(type);
  if (a == nullptr) return std::nullopt;
  auto v = Value(*a);
  return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
}

// --- decoders -------------------------------------------------------------------------------------

std::optional<Address> DecodeXorAddress(std::span<const uint8_t> v, const TransactionId& tid) {
  if (v.size() < 4) return std::nullopt;
  uint16_t port = static_cast<uint16_t>(Get16(v, 2) ^ (kMagicCookie >> 16));
  if (v[1] == static_cast<uint8_t>(Family::kIPv4) && v.size() == 8) {
    return Address::V4(Get32(v, 4) ^ kMagicCookie, port);
  }
  if (v[1] == static_cast<uint8_t>(Family::kIPv6) && v.size() == 20) {
    std::array<uint8_t, 16> mask{};
    Put32(mask.data(), kMagicCookie);
    std::memcpy(mask.data() + 4, tid.data(), tid.size());
    std::array<uint8_t, 16> ip{};
    for (size_t i = 0; i < 16; ++i) ip[i] = static_cast<uint8_t>(v[4 + i] ^ mask[i]);
    return Address::V6(ip, port);
  }
  return std::nullopt;
}

std::optional<Address> DecodeAddress(std::span<const uint8_t> v) {
  if (v.size() < 4) return std::nullopt;
  uint16_t port = Get16(v, 2);
  if (v[1] == static_cast<uint8_t>(Family::kIPv4) && v.size() == 8) return Address::FromBytes(v.subspan(4), port);
  if (v[1] == static_cast<uint8_t>(Family::kIPv6) && v.size() == 20) return Address::FromBytes(v.subspan(4), port);
  return std::nullopt;
}

std::optional<uint32_t> DecodeU32(std::span<const uint8_t> v) {
  if (v.size() != 4) return std::nullopt;
  return Get32(v, 0);
}

std::optional<ErrorCodeValue> DecodeErrorCode(std::span<const uint8_t> v) {
  if (v.size() < 4) return std::nullopt;
  int cls = v[2] & 0x07;
  int number = v[3];
  if (cls < 3 || cls > 6 || number > 99) return std::nullopt;
  auto reason = v.subspan(4);
  return ErrorCodeValue{cls * 100 + number,
                        std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size())};
}

std::optional<uint16_t> DecodeChannelNumber(std::span<const uint8_t> v) {
  if (v.size() != 4) return std::nullopt;
  return Get16(v, 0);
}

std::optional<uint8_t> DecodeRequestedTransport(std::span<const uint8_t> v) {
  if (v.size() != 4) return std::nullopt;
  return v[0];
}

std::optional<uint8_t> DecodeAddressFamily(std::span<const uint8_t> v) {
  if (v.size() != 4) return std::nullopt;
  return v[0];
}

std::optional<bool> DecodeEvenPort(std::span<const uint8_t> v) {
  if (v.size() != 1) return std::nullopt;
  return (v[0] & 0x80) != 0;
}

std::optional<size_t> DecodeUnknownAttributes(std::span<const uint8_t> v, std::span<uint16_t> out) {
  if (v.size() % 2 != 0) return std::nullopt;
  size_t n = 0;
  for (size_t i = 0; i + 1 < v.size() && n < out.size(); i += 2) out[n++] = Get16(v, i);
  return n;
}

std::optional<PasswordAlgorithmValue> DecodePasswordAlgorithm(std::span<const uint8_t> v) {
  if (v.size() < 4) return std::nullopt;
  uint16_t plen = Get16(v, 2);
  if (size_t{plen} > v.size() - 4) return std::nullopt;
  return PasswordAlgorithmValue{Get16(v, 0), v.subspan(4, plen)};
}

// --- integrity and fingerprint --------------------------------------------------------------------

uint32_t Crc32(std::span<const uint8_t> bytes, uint32_t crc) {
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (uint8_t byte : bytes) c = kCrcTable[(c ^ byte) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

bool VerifyMessageIntegrity(const StunMessage& m, std::span<const uint8_t> key) {
  const AttributeRef* a = m.integrity();
  return a != nullptr && VerifyMac(m, *a, "SHA1", key);
}

bool VerifyMessageIntegritySha256(const StunMessage& m, std::span<const uint8_t> key) {
  const AttributeRef* a = m.integrity_sha256();
  return a != nullptr && VerifyMac(m, *a, "SHA256", key);
}

// --- builder --------------------------------------------------------------------------------------

MessageBuilder::MessageBuilder(std::span<uint8_t> buffer, uint16_t type, const TransactionId& tid)
    : buffer_(buffer), tid_(tid) {
  if (buffer_.size() < kStunHeaderSize) {
    ok_ = false;
    return;
  }
  uint8_t* p = buffer_.data();
  Put16(p, type & 0x3FFF);
  Put16(p + 2, 0);
  Put32(p + 4, kMagicCookie);
  std::memcpy(p + 8, tid.data(), tid.size());
  size_ = kStunHeaderSize;
}

void MessageBuilder::SetLength(size_t body_length) { Put16(buffer_.data() + 2, static_cast<uint16_t>(body_length)); }

uint8_t* MessageBuilder::Reserve(uint16_t type, size_t length) {
  if (!ok_) return nullptr;
  size_t padded = Padded(length);
  if (length > 0xFFFF || buffer_.size() - size_ < 4 + padded ||
      size_ - kStunHeaderSize + 4 + padded > kMaxStunMessageSize - kStunHeaderSize) {
    ok_ = false;
    return nullptr;
  }
  uint8_t* p = buffer_.data() + size_;
  Put16(p, type);
  Put16(p + 2, static_cast<uint16_t>(length));
  std::memset(p + 4 + length, 0, padded - length);
  size_ += 4 + padded;
  SetLength(size_ - kStunHeaderSize);
  return p + 4;
}

MessageBuilder& MessageBuilder::Add(uint16_t type, std::span<const uint8_t> value) {
  uint8_t* v = Reserve(type, value.size());
  if (v != nullptr && !value.empty()) std::memcpy(v, value.data(), value.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddString(uint16_t type, std::string_view value) {
  return Add(type, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
}

MessageBuilder& MessageBuilder::AddU32(uint16_t type, uint32_t value) {
  if (uint8_t* v = Reserve(type, 4)) Put32(v, value);
  return *this;
}

MessageBuilder& MessageBuilder::AddXorAddress(uint16_t type, const Address& a) {
  uint8_t* v = Reserve(type, a.is_v4() ? 8 : 20);
  if (v == nullptr) return *this;
  v[0] = 0;
  v[1] = static_cast<uint8_t>(a.family());
  Put16(v + 2, static_cast<uint16_t>(a.port() ^ (kMagicCookie >> 16)));
  uint8_t mask[16];
  Put32(mask, kMagicCookie);
  std::memcpy(mask + 4, tid_.data(), tid_.size());
  auto ip = a.ip();
  for (size_t i = 0; i < ip.size(); ++i) v[4 + i] = static_cast<uint8_t>(ip[i] ^ mask[i]);
  return *this;
}

MessageBuilder& MessageBuilder::AddAddress(uint16_t type, const Address& a) {
  uint8_t* v = Reserve(type, a.is_v4() ? 8 : 20);
  if (v == nullptr) return *this;
  v[0] = 0;
  v[1] = static_cast<uint8_t>(a.family());
  Put16(v + 2, a.port());
  auto ip = a.ip();
  std::memcpy(v + 4, ip.data(), ip.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddErrorCode(int code, std::string_view reason) {
  uint8_t* v = Reserve(attr::kErrorCode, 4 + reason.size());
  if (v == nullptr) return *this;
  v[0] = 0;
  v[1] = 0;
  v[2] = static_cast<uint8_t>((code / 100) & 0x07);
  v[3] = static_cast<uint8_t>(code % 100);
  if (!reason.empty()) std::memcpy(v + 4, reason.data(), reason.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddAddressErrorCode(Family family, int code, std::string_view reason) {
  uint8_t* v = Reserve(attr::kAddressErrorCode, 4 + reason.size());
  if (v == nullptr) return *this;
  v[0] = static_cast<uint8_t>(family);
  v[1] = 0;
  v[2] = static_cast<uint8_t>((code / 100) & 0x07);
  v[3] = static_cast<uint8_t>(code % 100);
  if (!reason.empty()) std::memcpy(v + 4, reason.data(), reason.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddUnknownAttributes(std::span<const uint16_t> types) {
  uint8_t* v = Reserve(attr::kUnknownAttributes, types.size() * 2);
  if (v == nullptr) return *this;
  for (size_t i = 0; i < types.size(); ++i) Put16(v + 2 * i, types[i]);
  return *this;
}

MessageBuilder& MessageBuilder::AddChannelNumber(uint16_t channel) {
  if (uint8_t* v = Reserve(attr::kChannelNumber, 4)) {
    Put16(v, channel);
    Put16(v + 2, 0);
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddRequestedTransport(uint8_t protocol) {
  if (uint8_t* v = Reserve(attr::kRequestedTransport, 4)) {
    v[0] = protocol;
    v[1] = v[2] = v[3] = 0;
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddAddressFamily(uint16_t type, Family family) {
  if (uint8_t* v = Reserve(type, 4)) {
    v[0] = static_cast<uint8_t>(family);
    v[1] = v[2] = v[3] = 0;
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddEvenPort(bool reserve_next) {
  if (uint8_t* v = Reserve(attr::kEvenPort, 1)) v[0] = reserve_next ? 0x80 : 0x00;
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegrity(std::span<const uint8_t> key) {
  uint8_t* v = Reserve(attr::kMessageIntegrity, 20);
  if (v == nullptr) return *this;
  // Reserve already set the length field to end after this attribute, as the MAC requires.
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t covered = static_cast<size_t>(v - 4 - buffer_.data());
  if (Hmac("SHA1", key, {buffer_.first(covered)}, mac, sizeof(mac)) != 20) {
    ok_ = false;
    return *this;
  }
  std::memcpy(v, mac, 20);
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegritySha256(std::span<const uint8_t> key) {
  uint8_t* v = Reserve(attr::kMessageIntegritySha256, 32);
  if (v == nullptr) return *this;
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t covered = static_cast<size_t>(v - 4 - buffer_.data());
  if (Hmac("SHA256", key, {buffer_.first(covered)}, mac, sizeof(mac)) != 32) {
    ok_ = false;
    return *this;
  }
  std::memcpy(v, mac, 32);
  return *this;
}

MessageBuilder& MessageBuilder::AddFingerprint() {
  uint8_t* v = Reserve(attr::kFingerprint, 4);
  if (v == nullptr) return *this;
  size_t covered = static_cast<size_t>(v - 4 - buffer_.data());
  Put32(v, Crc32(buffer_.first(covered)) ^ kFingerprintXor);
  return *this;
}

size_t WriteDataIndication(std::span<uint8_t> out, const TransactionId& tid, const Address& peer,
                           std::span<const uint8_t> data) {
  MessageBuilder b(out, Method::kData, MessageClass::kIndication, tid);
  b.AddXorAddress(attr::kXorPeerAddress, peer).Add(attr::kData, data);
  return b.ok() ? b.size() : 0;
}

// --- ChannelData ----------------------------------------------------------------------------------

std::optional<ChannelData> ParseChannelData(std::span<const uint8_t> b) {
  if (b.size() < kChannelDataHeaderSize) return std::nullopt;
  uint16_t channel = Get16(b, 0);
  if (!IsValidChannelNumber(channel)) return std::nullopt;
  size_t len = Get16(b, 2);
  size_t room = b.size() - kChannelDataHeaderSize;
  if (len > room || room - len > 3) return std::nullopt;
  return ChannelData{channel, b.subspan(kChannelDataHeaderSize, len)};
}

void WriteChannelDataHeader(std::span<uint8_t> out, uint16_t channel, uint16_t data_length) {
  Put16(out.data(), channel);
  Put16(out.data() + 2, data_length);
}

size_t WriteChannelData(std::span<uint8_t> out, uint16_t channel, std::span<const uint8_t> data, bool pad) {
  size_t total = ChannelDataSize(data.size(), pad);
  if (data.size() > 0xFFFF || out.size() < total) return 0;
  WriteChannelDataHeader(out, channel, static_cast<uint16_t>(data.size()));
  if (!data.empty()) std::memcpy(out.data() + kChannelDataHeaderSize, data.data(), data.size());
  std::memset(out.data() + kChannelDataHeaderSize + data.size(), 0, total - kChannelDataHeaderSize - data.size());
  return total;
}

// --- framing --------------------------------------------------------------------------------------

Frame NextFrame(std::span<const uint8_t> b) {
  Frame f;
  if (b.empty()) return f;
  switch (b[0] >> 6) {
    case 0: {  // STUN
      f.kind = FrameKind::kStun;
      if (b.size() < 4) return f;
      uint16_t length = Get16(b, 2);
      if (length % 4 != 0) return Frame{FrameStatus::kGarbage, FrameKind::kStun, 0};
      f.size = kStunHeaderSize + length;
      if (b.size() < 8) return f;
      if (Get32(b, 4) != kMagicCookie) return Frame{FrameStatus::kGarbage, FrameKind::kStun, 0};
      if (b.size() >= f.size) f.status = FrameStatus::kComplete;
      return f;
    }
    case 1: {  // ChannelData
      f.kind = FrameKind::kChannelData;
      if (b.size() < 2) return f;
      if (!IsValidChannelNumber(Get16(b, 0))) return Frame{FrameStatus::kGarbage, FrameKind::kChannelData, 0};
      if (b.size() < 4) return f;
      f.size = ChannelDataSize(Get16(b, 2), /*pad=*/true);
      if (b.size() >= f.size) f.status = FrameStatus::kComplete;
      return f;
    }
    default:
      return Frame{FrameStatus::kGarbage, FrameKind::kStun, 0};
  }
}

}  // namespace palaver::turn
