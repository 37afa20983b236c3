#include "server.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "palaver/sdk/check.hpp"

namespace palaver::turn {
namespace {

// Largest message we ever write: a Data indication with an IPv6 peer around 65535 bytes of data
// does not fit a STUN length field and is refused; ChannelData tops out at 4 + 65535 + 3.
constexpr size_t kOutputBufferSize = kMaxStunMessageSize + 64;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view ReasonPhrase(int code) {
  switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "Error";
  }
}

Server::Server(ServerOptions options, const Authenticator& auth, const PeerPolicy& policy, RelayAllocator& relays)
    : options_(std::move(options)),
      auth_(auth),
      policy_(policy),
      relays_(relays),
      table_(options_.limits, [this](const Allocation& a, RemovalReason reason) { OnRemoved(a, reason); }),
      out_(kOutputBufferSize),
      unauth_overflow_(options_.unauthenticated.per_second, options_.unauthenticated.burst, 0) {
  uint8_t seed[8];
  if (options_.random) {
    options_.random(seed);
  } else {
    PALAVER_CHECK(RAND_bytes(seed, sizeof(seed)) == 1);
  }
  std::memcpy(&tid_state_, seed, sizeof(seed));
}

TransactionId Server::NextTransactionId() {
  TransactionId tid{};
  uint64_t a = SplitMix64(tid_state_);
  uint64_t b = SplitMix64(tid_state_);
  std::memcpy(tid.data(), &a, 8);
  std::memcpy(tid.data() + 8, &b, 4);
  return tid;
}

// --- entry points ---------------------------------------------------------------------------------

Output Server::HandleClient(std::span<const uint8_t> bytes, const FiveTuple& t, int64_t now_ms) {
  now_ms_ = now_ms;
  unauth_verdict_ = -1;
  if (bytes.empty()) {
    ++counters_.dropped_malformed;
    return {};
  }
  switch (bytes[0] >> 6) {
    case 0: break;  // STUN
    case 1: return ClientChannelData(bytes, t, now_ms);
    default:
      ++counters_.dropped_malformed;
      return {};
  }
  auto parsed = StunMessage::Parse(bytes);
  if (!parsed) {
    ++counters_.dropped_malformed;
    return {};
  }
  const StunMessage& m = *parsed;
  switch (m.message_class()) {
    case MessageClass::kRequest:
      break;
    case MessageClass::kIndication:
      if (m.method() == Method::kSend) return SendIndication(m, t, now_ms);
      return {};  // Binding indications are keepalives; nothing else is for us
    default:
      ++counters_.dropped_malformed;  // responses: a server asked nothing
      return {};
  }
  switch (m.method()) {
    case Method::kBinding:
      return Binding(m, t);
    case Method::kAllocate:
    case Method::kRefresh:
    case Method::kCreatePermission:
    case Method::kChannelBind:
      return Authenticated(m, t, now_ms);
    default:
      return Fail(m, t, 400, nullptr);  // unknown method (RFC 8489 §6.3.1)
  }
}

Output Server::HandlePeer(const Address& relayed, const Address& peer, std::span<const uint8_t> data, int64_t now_ms) {
  now_ms_ = now_ms;
  ++counters_.peer_data_in;
  Allocation* al = table_.FindByRelay(relayed, now_ms);
  if (al == nullptr) {
    ++counters_.dropped_no_allocation;
    return {};
  }
  if (!al->HasPermission(peer, now_ms)) {
    ++counters_.dropped_no_permission;
    ++al->counters.dropped;
    return {};
  }
  if (!al->bucket.Take(data.size(), now_ms)) {
    ++counters_.dropped_rate_limited;
    ++al->counters.dropped;
    return {};
  }
  size_t n = 0;
  if (const ChannelBinding* ch = al->ChannelByPeer(peer, now_ms)) {
    n = WriteChannelData(out_, ch->number, data, IsStream(al->tuple.transport));
  } else {
    n = WriteDataIndication(out_, NextTransactionId(), peer, data);
  }
  if (n == 0) {
    ++counters_.dropped_too_big;
    ++al->counters.dropped;
    return {};
  }
  ++counters_.packets_to_client;
  counters_.bytes_to_client += data.size();
  ++al->counters.packets_to_client;
  al->counters.bytes_to_client += data.size();
  Output out;
  out.kind = OutputKind::kToClient;
  out.bytes = std::span<const uint8_t>(out_.data(), n);
  out.tuple = al->tuple;
  return out;
}

// --- response helpers -----------------------------------------------------------------------------

MessageBuilder Server::Begin(const StunMessage& m, MessageClass cls) {
  return MessageBuilder(out_, m.method(), cls, m.transaction_id());
}

bool Server::AllowUnauthenticated(const Address& client) {
  if (unauth_verdict_ < 0) unauth_verdict_ = TakeUnauthenticatedToken(client) ? 1 : 0;
  return unauth_verdict_ == 1;
}

bool Server::TakeUnauthenticatedToken(const Address& client) {
  const UnauthenticatedLimit& lim = options_.unauthenticated;
  if (lim.per_second == 0) return true;
  // One bucket per IPv4 address and per IPv6 /64 (what one host or site usually holds).
  Address ip = client.Canonical().WithPort(0);
  if (!ip.is_v4()) {
    std::array<uint8_t, 16> bytes{};
    std::copy_n(ip.ip().begin(), 8, bytes.begin());
    ip = Address::V6(bytes, 0);
  }
  auto it = unauth_.find(ip);
  if (it == unauth_.end()) {
    if (unauth_.size() >= lim.max_sources) return unauth_overflow_.Take(1, now_ms_);
    it = unauth_.emplace(ip, TokenBucket(lim.per_second, lim.burst, now_ms_)).first;
  }
  return it->second.Take(1, now_ms_);
}

void Server::ConnectionClosed(const FiveTuple& t, int64_t now_ms) {
  now_ms_ = now_ms;
  if (Allocation* a = table_.Find(t, now_ms)) table_.Remove(*a, RemovalReason::kClosed);
}

size_t Server::Sweep(int64_t now_ms) {
  now_ms_ = now_ms;
  std::erase_if(unauth_, [&](const auto& entry) { return entry.second.Full(now_ms); });
  return table_.Sweep(now_ms);
}

Output Server::Finish(MessageBuilder& b, const StunMessage& m, const FiveTuple& t, const AuthResult* auth) {
  if (auth == nullptr && !AllowUnauthenticated(t.client)) {
    ++counters_.dropped_unauthenticated_limit;
    return {};
  }
  if (auth != nullptr) {
    if (!options_.software.empty()) b.AddString(attr::kSoftware, options_.software);
    if (auth->sha256) {
      b.AddMessageIntegritySha256(auth->key);
    } else {
      b.AddMessageIntegrity(auth->key);
    }
  }
  if (m.has_fingerprint()) b.AddFingerprint();
  PALAVER_CHECK(b.ok());  // responses are small and the buffer holds the largest message
  auto type = static_cast<uint16_t>((b.bytes()[0] << 8) | b.bytes()[1]);
  if (ClassOf(type) == MessageClass::kError) ++counters_.error_responses;
  Output out;
  out.kind = OutputKind::kToClient;
  out.bytes = b.bytes();
  out.tuple = t;
  return out;
}

Output Server::Fail(const StunMessage& m, const FiveTuple& t, int code, const AuthResult* auth) {
  MessageBuilder b = Begin(m, MessageClass::kError);
  b.AddErrorCode(code, ReasonPhrase(code));
  return Finish(b, m, t, auth);
}

Output Server::Refuse(const StunMessage& m, const FiveTuple& t, int code, std::string_view reason, const AuthResult& auth,
                      const Address* peer) {
  EmitRefused(m, t, code, reason, auth, peer);
  return Fail(m, t, code, &auth);
}

void Server::EmitRefused(const StunMessage& m, const FiveTuple& t, int code, std::string_view reason,
                         const AuthResult& auth, const Address* peer) {
  if (!options_.events) return;
  Event e;
  e.kind = EventKind::kRefused;
  e.tuple = t;
  e.username = auth.username;
  e.method = m.method();
  e.code = code;
  e.reason = reason;
  if (peer != nullptr) e.peer = *peer;
  Emit(e);
}

void Server::EmitCredentialsRefused(const StunMessage& m, const FiveTuple& t, int code, const AuthResult& auth) {
  // The answer (401/400) goes out only within the unauthenticated budget, and so does the event:
  // a password guesser cannot flood the log either. The verdict is the one the answer uses.
  if (!options_.events || !AllowUnauthenticated(t.client)) return;
  Event e;
  e.kind = EventKind::kRefused;
  e.tuple = t;
  e.username = m.String(attr::kUsername).value_or(std::string_view());  // as sent: names who tried
  e.method = m.method();
  e.code = code;
  e.reason = "credentials";
  e.auth = auth.failure;
  Emit(e);
}

void Server::OnRemoved(const Allocation& a, RemovalReason reason) {
  if (options_.events) {
    Event e;
    e.kind = EventKind::kAllocationRemoved;
    e.tuple = a.tuple;
    e.username = a.username;
    e.relayed = a.relayed;
    e.age_ms = now_ms_ - a.created_ms;
    e.removal = reason;
    Emit(e);
  }
  relays_.Close(a.relayed);
}

Output Server::Challenge(const StunMessage& m, const FiveTuple& t, int code, const AuthResult* auth) {
  if (auth == nullptr && !AllowUnauthenticated(t.client)) {  // before the nonce's HMAC
    ++counters_.dropped_unauthenticated_limit;
    return {};
  }
  MessageBuilder b = Begin(m, MessageClass::kError);
  b.AddErrorCode(code, ReasonPhrase(code))
      .AddString(attr::kRealm, auth_.realm())
      .AddString(attr::kNonce, auth_.MakeNonce(t.client, t.transport));
  return Finish(b, m, t, auth);
}

// --- Binding --------------------------------------------------------------------------------------

Output Server::Binding(const StunMessage& m, const FiveTuple& t) {
  ++counters_.binding_requests;
  if (!m.unknown_required().empty()) {
    MessageBuilder b = Begin(m, MessageClass::kError);
    b.AddErrorCode(420, ReasonPhrase(420)).AddUnknownAttributes(m.unknown_required());
    return Finish(b, m, t, nullptr);
  }
  MessageBuilder b = Begin(m, MessageClass::kSuccess);
  b.AddXorAddress(attr::kXorMappedAddress, t.client);
  return Finish(b, m, t, nullptr);
}

// --- authenticated requests -----------------------------------------------------------------------

Output Server::Authenticated(const StunMessage& m, const FiveTuple& t, int64_t now_ms) {
  switch (m.method()) {
    case Method::kAllocate: ++counters_.allocate_requests; break;
    case Method::kRefresh: ++counters_.refresh_requests; break;
    case Method::kCreatePermission: ++counters_.create_permission_requests; break;
    case Method::kChannelBind: ++counters_.channel_bind_requests; break;
    default: break;
  }
  AuthResult a = auth_.Check(m, t.client, t.transport);
  switch (a.status) {
    case AuthStatus::kChallenge:
      ++counters_.challenges;
      return Challenge(m, t, 401, nullptr);
    case AuthStatus::kBadRequest:
      ++counters_.auth_failures;
      EmitCredentialsRefused(m, t, 400, a);
      return Fail(m, t, 400, nullptr);
    case AuthStatus::kUnauthorized:
      ++counters_.auth_failures;
      EmitCredentialsRefused(m, t, 401, a);
      return Challenge(m, t, 401, nullptr);
    case AuthStatus::kStaleNonce:
      ++counters_.stale_nonces;
      return Challenge(m, t, 438, &a);
    case AuthStatus::kOk:
      break;
  }
  // Unknown attributes are checked once the credentials hold (RFC 8489 §6.3.1 follows §9).
  if (!m.unknown_required().empty()) {
    EmitRefused(m, t, 420, "unknown_attribute", a, nullptr);
    MessageBuilder b = Begin(m, MessageClass::kError);
    b.AddErrorCode(420, ReasonPhrase(420)).AddUnknownAttributes(m.unknown_required());
    return Finish(b, m, t, &a);
  }
  switch (m.method()) {
    case Method::kAllocate: return Allocate(m, t, a, now_ms);
    case Method::kRefresh: return Refresh(m, t, a, now_ms);
    case Method::kCreatePermission: return CreatePermission(m, t, a, now_ms);
    case Method::kChannelBind: return ChannelBind(m, t, a, now_ms);
    default: return Refuse(m, t, 400, "bad_request", a);
  }
}

Allocation* Server::OwnAllocation(const FiveTuple& t, const AuthResult& a, int64_t now_ms, int* error) {
  Allocation* al = table_.Find(t, now_ms);
  if (al == nullptr) {
    *error = 437;
    return nullptr;
  }
  if (al->username != a.username) {
    *error = 441;
    return nullptr;
  }
  return al;
}

Output Server::Allocate(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms) {
  if (Allocation* existing = table_.Find(t, now_ms)) {
    // A retransmission (same transaction, same credentials) gets the same answer again; anything
    // else on a 5-tuple in use is a mismatch (RFC 8656 §7.2).
    if (existing->allocate_tid == m.transaction_id() && existing->username == a.username) {
      return AllocateSuccess(m, t, a, *existing);
    }
    return Refuse(m, t, 437, "mismatch", a);
  }

  const AttributeRef* transport = m.Find(attr::kRequestedTransport);
  if (transport == nullptr) return Refuse(m, t, 400, "bad_request", a);
  auto protocol = DecodeRequestedTransport(m.Value(*transport));
  if (!protocol) return Refuse(m, t, 400, "bad_request", a);
  if (*protocol != kProtocolUdp) return Refuse(m, t, 442, "transport", a);  // no TCP relaying (RFC 6062)

  if (m.Has(attr::kDontFragment)) {
    // We cannot promise DF on relayed datagrams, so DONT-FRAGMENT is "unknown" (RFC 8656 §7.2).
    static constexpr uint16_t kDf[] = {attr::kDontFragment};
    EmitRefused(m, t, 420, "unknown_attribute", a, nullptr);
    MessageBuilder b = Begin(m, MessageClass::kError);
    b.AddErrorCode(420, ReasonPhrase(420)).AddUnknownAttributes(kDf);
    return Finish(b, m, t, &a);
  }

  const AttributeRef* reservation = m.Find(attr::kReservationToken);
  const AttributeRef* even = m.Find(attr::kEvenPort);
  const AttributeRef* requested_family = m.Find(attr::kRequestedAddressFamily);
  const AttributeRef* additional_family = m.Find(attr::kAdditionalAddressFamily);
  if (reservation != nullptr && (even != nullptr || requested_family != nullptr)) return Refuse(m, t, 400, "bad_request", a);
  if (requested_family != nullptr && additional_family != nullptr) return Refuse(m, t, 400, "bad_request", a);

  bool even_port = false;
  if (even != nullptr) {
    auto reserve_next = DecodeEvenPort(m.Value(*even));
    if (!reserve_next) return Refuse(m, t, 400, "bad_request", a);
    // No port reservations (RTP/RTCP pairs; browsers never ask for them).
    if (*reserve_next) return Refuse(m, t, 508, "unsupported_even_port_reservation", a);
    even_port = true;
  }
  if (reservation != nullptr) return Refuse(m, t, 508, "unsupported_reservation_token", a);  // we hand out none

  Family family = Family::kIPv4;
  if (requested_family != nullptr) {
    auto f = DecodeAddressFamily(m.Value(*requested_family));
    if (!f) return Refuse(m, t, 400, "bad_request", a);
    if (*f == static_cast<uint8_t>(Family::kIPv6)) {
      family = Family::kIPv6;
    } else if (*f != static_cast<uint8_t>(Family::kIPv4)) {
      return Refuse(m, t, 440, "family", a);
    }
  }
  if (additional_family != nullptr) {
    auto f = DecodeAddressFamily(m.Value(*additional_family));
    if (!f || *f != static_cast<uint8_t>(Family::kIPv6)) return Refuse(m, t, 400, "bad_request", a);
  }

  std::optional<uint32_t> requested_lifetime;
  if (const AttributeRef* l = m.Find(attr::kLifetime)) {
    requested_lifetime = DecodeU32(m.Value(*l));
    if (!requested_lifetime) return Refuse(m, t, 400, "bad_request", a);
  }
  uint32_t lifetime = table_.DesiredLifetime(requested_lifetime);
  if (lifetime == 0) lifetime = table_.DesiredLifetime(std::nullopt);

  if (auto quota = table_.CheckQuota(a.user)) {
    ++counters_.quota_rejections;
    return *quota == CreateError::kUserQuota ? Refuse(m, t, 486, "quota", a) : Refuse(m, t, 508, "capacity", a);
  }
  RelayResult relay = relays_.Open(t, family, even_port);
  if (relay.status != RelayStatus::kOk) {
    ++counters_.relay_failures;
    return relay.status == RelayStatus::kFamilyUnsupported ? Refuse(m, t, 440, "family", a)
                                                           : Refuse(m, t, 508, "no_relay", a);
  }
  auto created = table_.Create(
      NewAllocation{t, relay.relayed, a.username, a.user, a.key, m.transaction_id(), lifetime, relay.socket,
                    a.guest ? PeerScope::kGuest : PeerScope::kMember}, now_ms);
  if (!created) {
    if (created.error() != CreateError::kExists) ++counters_.quota_rejections;
    relays_.Close(relay.relayed);
    switch (created.error()) {
      case CreateError::kUserQuota: return Refuse(m, t, 486, "quota", a);
      case CreateError::kExists: return Refuse(m, t, 437, "mismatch", a);
      case CreateError::kCapacity: break;
    }
    return Refuse(m, t, 508, "capacity", a);
  }
  Event e;
  e.kind = EventKind::kAllocationCreated;
  e.tuple = t;
  e.username = a.username;
  e.relayed = relay.relayed;
  e.lifetime_s = lifetime;
  Emit(e);
  return AllocateSuccess(m, t, a, **created);
}

Output Server::AllocateSuccess(const StunMessage& m, const FiveTuple& t, const AuthResult& a, const Allocation& al) {
  MessageBuilder b = Begin(m, MessageClass::kSuccess);
  b.AddXorAddress(attr::kXorRelayedAddress, al.relayed)
      .AddU32(attr::kLifetime, al.lifetime_s)
      .AddXorAddress(attr::kXorMappedAddress, t.client);
  if (m.Has(attr::kAdditionalAddressFamily)) {
    b.AddAddressErrorCode(Family::kIPv6, 440, ReasonPhrase(440));  // one relay per allocation
  }
  return Finish(b, m, t, &a);
}

Output Server::Refresh(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms) {
  int error = 0;
  Allocation* al = OwnAllocation(t, a, now_ms, &error);
  if (al == nullptr) return Refuse(m, t, error, error == 437 ? "no_allocation" : "wrong_user", a);
  if (const AttributeRef* rf = m.Find(attr::kRequestedAddressFamily)) {
    auto f = DecodeAddressFamily(m.Value(*rf));
    if (!f) return Refuse(m, t, 400, "bad_request", a);
    if (*f != static_cast<uint8_t>(al->relayed.family())) return Refuse(m, t, 443, "family", a);
  }
  std::optional<uint32_t> requested;
  if (const AttributeRef* l = m.Find(attr::kLifetime)) {
    requested = DecodeU32(m.Value(*l));
    if (!requested) return Refuse(m, t, 400, "bad_request", a);
  }
  uint32_t lifetime = table_.DesiredLifetime(requested);
  if (lifetime == 0) {
    table_.Remove(*al);
  } else {
    table_.Refresh(*al, lifetime, now_ms);
  }
  MessageBuilder b = Begin(m, MessageClass::kSuccess);
  b.AddU32(attr::kLifetime, lifetime);
  return Finish(b, m, t, &a);
}

Output Server::CreatePermission(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms) {
  int error = 0;
  Allocation* al = OwnAllocation(t, a, now_ms, &error);
  if (al == nullptr) return Refuse(m, t, error, error == 437 ? "no_allocation" : "wrong_user", a);

  // All or nothing (RFC 8656 §9.2): check every peer before installing any.
  std::array<Address, StunMessage::kMaxAttributes> peers;
  size_t count = 0;
  for (const AttributeRef& ref : m.attributes()) {
    if (ref.type != attr::kXorPeerAddress) continue;
    auto peer = DecodeXorAddress(m.Value(ref), m.transaction_id());
    if (!peer) return Refuse(m, t, 400, "bad_request", a);
    if (peer->family() != al->relayed.family()) return Refuse(m, t, 443, "family", a);
    if (policy_.CheckIp(*peer, al->scope) != PeerVerdict::kAllowed) {
      ++counters_.forbidden_peers;
      return Refuse(m, t, 403, "forbidden_peer", a, &*peer);
    }
    peers[count++] = *peer;
  }
  if (count == 0) return Refuse(m, t, 400, "bad_request", a);

  size_t live = 0;
  for (const auto& p : al->permissions) live += p.expires_ms > now_ms ? 1 : 0;
  size_t needed = 0;
  for (size_t i = 0; i < count; ++i) {
    bool earlier = false;
    for (size_t j = 0; j < i; ++j) earlier = earlier || peers[j].SameIp(peers[i]);
    if (!earlier && !al->HasPermission(peers[i], now_ms)) ++needed;
  }
  if (live + needed > table_.limits().max_permissions) return Refuse(m, t, 508, "full", a);
  for (size_t i = 0; i < count; ++i) PALAVER_CHECK(table_.InstallPermission(*al, peers[i], now_ms));

  MessageBuilder b = Begin(m, MessageClass::kSuccess);
  return Finish(b, m, t, &a);
}

Output Server::ChannelBind(const StunMessage& m, const FiveTuple& t, const AuthResult& a, int64_t now_ms) {
  int error = 0;
  Allocation* al = OwnAllocation(t, a, now_ms, &error);
  if (al == nullptr) return Refuse(m, t, error, error == 437 ? "no_allocation" : "wrong_user", a);
  const AttributeRef* number_attr = m.Find(attr::kChannelNumber);
  const AttributeRef* peer_attr = m.Find(attr::kXorPeerAddress);
  if (number_attr == nullptr || peer_attr == nullptr) return Refuse(m, t, 400, "bad_request", a);
  auto number = DecodeChannelNumber(m.Value(*number_attr));
  if (!number || !IsValidChannelNumber(*number)) return Refuse(m, t, 400, "bad_request", a);
  auto peer = DecodeXorAddress(m.Value(*peer_attr), m.transaction_id());
  if (!peer) return Refuse(m, t, 400, "bad_request", a);
  if (peer->family() != al->relayed.family()) return Refuse(m, t, 443, "family", a);
  if (policy_.Check(*peer, al->scope) != PeerVerdict::kAllowed) {
    ++counters_.forbidden_peers;
    return Refuse(m, t, 403, "forbidden_peer", a, &*peer);
  }
  switch (table_.Bind(*al, *number, *peer, now_ms)) {
    case BindResult::kOk: break;
    case BindResult::kChannelTaken:
    case BindResult::kPeerTaken: return Refuse(m, t, 400, "bad_request", a);
    case BindResult::kFull: return Refuse(m, t, 508, "full", a);
  }
  MessageBuilder b = Begin(m, MessageClass::kSuccess);
  return Finish(b, m, t, &a);
}

// --- data from the client -------------------------------------------------------------------------

Output Server::ToPeer(Allocation& al, const Address& peer, std::span<const uint8_t> data, int64_t now_ms) {
  if (!al.HasPermission(peer, now_ms)) {
    ++counters_.dropped_no_permission;
    ++al.counters.dropped;
    return {};
  }
  if (!al.bucket.Take(data.size(), now_ms)) {
    ++counters_.dropped_rate_limited;
    ++al.counters.dropped;
    return {};
  }
  ++counters_.packets_to_peer;
  counters_.bytes_to_peer += data.size();
  ++al.counters.packets_to_peer;
  al.counters.bytes_to_peer += data.size();
  Output out;
  out.kind = OutputKind::kToPeer;
  out.bytes = data;
  out.tuple = al.tuple;
  out.relayed = al.relayed;
  out.relay_socket = al.relay_socket;
  out.peer = peer;
  return out;
}

Output Server::SendIndication(const StunMessage& m, const FiveTuple& t, int64_t now_ms) {
  ++counters_.send_indications;
  // Unknown comprehension-required attributes drop an indication (RFC 8489 §6.3.2); so does
  // DONT-FRAGMENT, which we cannot honour (RFC 8656 §11.2).
  const AttributeRef* peer_attr = m.Find(attr::kXorPeerAddress);
  const AttributeRef* data_attr = m.Find(attr::kData);
  if (!m.unknown_required().empty() || m.Has(attr::kDontFragment) || peer_attr == nullptr || data_attr == nullptr) {
    ++counters_.dropped_malformed;
    return {};
  }
  auto peer = DecodeXorAddress(m.Value(*peer_attr), m.transaction_id());
  if (!peer) {
    ++counters_.dropped_malformed;
    return {};
  }
  Allocation* al = table_.Find(t, now_ms);
  if (al == nullptr) {
    ++counters_.dropped_no_allocation;
    return {};
  }
  // The permission vetted the IP; the port may still be one of the appliance's own services.
  if (peer->family() != al->relayed.family() || policy_.Check(*peer, al->scope) != PeerVerdict::kAllowed) {
    ++counters_.dropped_forbidden;
    ++al->counters.dropped;
    return {};
  }
  return ToPeer(*al, *peer, m.Value(*data_attr), now_ms);
}

Output Server::ClientChannelData(std::span<const uint8_t> bytes, const FiveTuple& t, int64_t now_ms) {
  ++counters_.channel_data_in;
  auto cd = ParseChannelData(bytes);
  if (!cd) {
    ++counters_.dropped_malformed;
    return {};
  }
  Allocation* al = table_.Find(t, now_ms);
  if (al == nullptr) {
    ++counters_.dropped_no_allocation;
    return {};
  }
  const ChannelBinding* ch = al->ChannelByNumber(cd->channel, now_ms);
  if (ch == nullptr) {
    ++counters_.dropped_no_channel;
    ++al->counters.dropped;
    return {};
  }
  // The peer passed the policy (with its port) when the channel was bound.
  Address peer = ch->peer;
  return ToPeer(*al, peer, cd->data, now_ms);
}

}  // namespace palaver::turn
