// libFuzzer target for the sans-I/O TURN core (modules/turn/src): the STUN codec, the stream
// de-framer, ChannelData, and a Server with a fake relay allocator, a fixed clock and fixed
// credentials. Built and run by fuzz/run.sh (clang++ -fsanitize=fuzzer,address,undefined); see
// fuzz/README.md.
//
// Every input goes through:
//   1. StunMessage::Parse; on success every attribute through every Decode* helper, Find/Has/
//      String, unknown_required(), both integrity checks against a fixed key, and the auth
//      helpers on USERNAME/NONCE;
//   2. NextFrame over the input as a TCP byte stream, each complete frame parsed and handed to
//      the server on a TCP 5-tuple, as the engine's stream reader will;
//   3. ParseChannelData, with a write/re-parse round trip;
//   4. Server::HandleClient on a UDP and a TCP 5-tuple, and Server::HandlePeer on the relayed
//      address of any live allocation;
//   5. when the input is a STUN request with MESSAGE-INTEGRITY(-SHA256): a re-signed copy (fresh
//      NONCE, recomputed MACs and FINGERPRINT, the key derived from its USERNAME as the server
//      would), so that the fuzzer gets past authentication to Allocate, Refresh,
//      CreatePermission and ChannelBind, which it could never reach by forging HMACs.
// The Server is built once and keeps its state across inputs (that is the point: allocations,
// permissions and channels made by one input are used by the next). The clock advances a little
// per input and Sweep runs every 256 inputs; only a handful of 5-tuples exist, so the table
// stays small. Properties that must hold (frames the de-framer calls complete parse, every
// answer to a client is a well-formed STUN or ChannelData message, ...) abort via FUZZ_CHECK.
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "address.hpp"
#include "allocations.hpp"
#include "auth.hpp"
#include "peer_policy.hpp"
#include "server.hpp"
#include "stun.hpp"

namespace palaver::turn {
namespace {

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "turn_fuzz: property violated: %s at %s:%d\n", #cond, __FILE__, \
                   __LINE__);                                                              \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

constexpr std::string_view kRealm = "palaver";
constexpr std::string_view kSecret = "fuzz-secret";
constexpr std::string_view kStaticUser = "fuzz";
constexpr std::string_view kStaticPassword = "fuzzpw";
constexpr int64_t kUnixBase = 1'700'000'000;  // the auth clock: kUnixBase + now_ms / 1000
constexpr int64_t kStepMs = 250;              // clock advance per input
constexpr uint64_t kSweepEvery = 256;         // inputs

int64_t g_now_ms = 1'000'000;

Address Addr(std::string_view text) {
  auto a = Address::Parse(text);
  FUZZ_CHECK(a.has_value());
  return *a;
}

// Relayed addresses like the engine's: 127.0.0.2 (IPv4) or fd00::2 (IPv6), increasing ports,
// never one that is still open (the table CHECKs that). Every 32nd Open fails (508/440 paths).
class FakeRelays : public RelayAllocator {
 public:
  RelayResult Open(const FiveTuple&, Family family, bool even_port) override {
    if (++opens_ % 32 == 0) {
      return RelayResult{family == Family::kIPv6 ? RelayStatus::kFamilyUnsupported : RelayStatus::kNoCapacity, {}};
    }
    for (int tries = 0; tries < 70000; ++tries) {
      next_port_ = next_port_ >= 65000 ? 10000 : next_port_ + 1;
      if (even_port && next_port_ % 2 != 0) continue;
      Address a = family == Family::kIPv4 ? Address::V4(0x7F000002, next_port_) : v6_.WithPort(next_port_);
      if (open_.insert(a).second) return RelayResult{RelayStatus::kOk, a};
    }
    return RelayResult{RelayStatus::kNoCapacity, {}};
  }
  void Close(const Address& relayed) override { open_.erase(relayed); }

 private:
  Address v6_ = Addr("[fd00::2]:0");
  std::unordered_set<Address, AddressHash> open_;
  uint64_t opens_ = 0;
  uint16_t next_port_ = 10000;
};

struct World {
  FakeRelays relays;
  Authenticator auth;
  PeerPolicy policy;
  Server server;
  LongTermKey static_key;
  std::array<uint8_t, 16> fixed_key{};
  FiveTuple udp;   // IPv4 client over UDP
  FiveTuple tcp;   // IPv6 client over TCP (stream framing, padded ChannelData)
  FiveTuple tls;   // IPv4 client over TLS, used for the re-signed requests only
  uint64_t inputs = 0;

  World()
      : auth(MakeAuthOptions()),
        policy(MakePolicyOptions()),
        server(MakeServerOptions(), auth, policy, relays),
        static_key(MakeLongTermKey(kStaticUser, kRealm, kStaticPassword)) {
    for (size_t i = 0; i < fixed_key.size(); ++i) fixed_key[i] = static_cast<uint8_t>(i * 17 + 3);
    udp = FiveTuple{Addr("192.0.2.1:40000"), Addr("192.0.2.10:3478"), Transport::kUdp};
    tcp = FiveTuple{Addr("[2001:db8::1]:40001"), Addr("[2001:db8::10]:3478"), Transport::kTcp};
    tls = FiveTuple{Addr("198.51.100.7:40002"), Addr("192.0.2.10:5349"), Transport::kTls};
  }

  static AuthOptions MakeAuthOptions() {
    AuthOptions o;
    o.realm = std::string(kRealm);
    o.secrets = {std::string(kSecret), "older-secret"};
    o.static_users = {{std::string(kStaticUser), std::string(kStaticPassword)}};
    o.nonce_key = "fixed nonce key for the fuzzer";
    o.now = [] { return kUnixBase + g_now_ms / 1000; };
    return o;
  }
  static PeerPolicyOptions MakePolicyOptions() {
    PeerPolicyOptions o;
    o.allow_loopback = true;
    o.denied = {*Cidr::Parse("10.0.0.0/8"), *Cidr::Parse("2001:db8:dead::/48")};
    o.allowed = {*Cidr::Parse("10.1.0.0/16")};
    o.own_endpoints = {Addr("0.0.0.0:3478"), Addr("127.0.0.1:8443")};
    o.self_addresses = {Addr("192.0.2.10")};
    return o;
  }
  static ServerOptions MakeServerOptions() {
    ServerOptions o;
    o.limits.max_allocations = 8;
    o.limits.max_allocations_per_user = 2;
    o.limits.max_permissions = 8;
    o.limits.max_channels = 8;
    o.limits.bandwidth_bytes_per_s = 20000;
    o.software = "palaver-fuzz";
    o.random = [](std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(0xA5 ^ i);
    };
    return o;
  }
};

World& GetWorld() {
  static World* w = new World();  // never destroyed: no teardown order issues at exit
  return *w;
}

// Keeps the optimizer from dropping results whose only use is to have been computed.
volatile size_t g_sink = 0;
void Sink(size_t v) { g_sink = g_sink + v; }

// --- 1. codec -------------------------------------------------------------------------------------

void ExerciseDecoders(const StunMessage& m, const World& w) {
  Sink(static_cast<size_t>(m.method()) + static_cast<size_t>(m.message_class()));
  FUZZ_CHECK(m.attributes().size() <= StunMessage::kMaxAttributes);
  FUZZ_CHECK(m.unknown_required().size() <= StunMessage::kMaxUnknown);
  for (uint16_t u : m.unknown_required()) {
    FUZZ_CHECK(IsComprehensionRequired(u) && !IsKnownRequiredAttribute(u));
    FUZZ_CHECK(m.Has(u));
  }
  for (const AttributeRef& a : m.attributes()) {
    auto v = m.Value(a);
    FUZZ_CHECK(v.size() == a.length);
    FUZZ_CHECK(v.data() >= m.bytes().data() && v.data() + v.size() <= m.bytes().data() + m.bytes().size());
    // Find returns the first attribute of that type.
    const AttributeRef* first = m.Find(a.type);
    FUZZ_CHECK(first != nullptr && first->type == a.type && first <= &a);

    if (auto x = DecodeXorAddress(v, m.transaction_id())) {
      // Round trip through the builder.
      std::array<uint8_t, 64> buf{};
      MessageBuilder b(buf, m.type(), m.transaction_id());
      b.AddXorAddress(attr::kXorPeerAddress, *x);
      FUZZ_CHECK(b.ok());
      auto again = StunMessage::Parse(b.bytes());
      FUZZ_CHECK(again.has_value() && again->attributes().size() == 1);
      auto y = DecodeXorAddress(again->Value(again->attributes()[0]), again->transaction_id());
      FUZZ_CHECK(y.has_value() && *y == *x);
      Sink(static_cast<size_t>(w.policy.Check(*x)) + static_cast<size_t>(w.policy.CheckIp(*x)));
      Sink(x->ToString().size() + x->Canonical().Hash());
    }
    if (auto x = DecodeAddress(v)) Sink(x->Hash() + static_cast<size_t>(w.policy.Check(*x)));
    if (auto x = DecodeU32(v)) Sink(*x);
    if (auto x = DecodeErrorCode(v)) {
      FUZZ_CHECK(x->code >= 300 && x->code <= 699);
      Sink(x->reason.size());
    }
    if (auto x = DecodeChannelNumber(v)) Sink(IsValidChannelNumber(*x));
    if (auto x = DecodeRequestedTransport(v)) Sink(*x);
    if (auto x = DecodeAddressFamily(v)) Sink(*x);
    if (auto x = DecodeEvenPort(v)) Sink(*x);
    std::array<uint16_t, 8> unknown{};
    if (auto x = DecodeUnknownAttributes(v, unknown)) FUZZ_CHECK(*x <= unknown.size());
    if (auto x = DecodePasswordAlgorithm(v)) {
      FUZZ_CHECK(x->parameters.size() + 4 <= v.size());
      Sink(x->algorithm);
    }
  }
  for (uint16_t type : {attr::kUsername, attr::kRealm, attr::kNonce, attr::kSoftware, attr::kData}) {
    if (auto s = m.String(type)) Sink(s->size());
  }
  if (m.integrity() != nullptr) FUZZ_CHECK(m.integrity()->type == attr::kMessageIntegrity);
  if (m.integrity_sha256() != nullptr) FUZZ_CHECK(m.integrity_sha256()->type == attr::kMessageIntegritySha256);
  Sink(VerifyMessageIntegrity(m, w.fixed_key));
  Sink(VerifyMessageIntegritySha256(m, w.fixed_key));
  Sink(VerifyMessageIntegrity(m, w.static_key));

  // The auth helpers on whatever the message carries.
  if (auto user = m.String(attr::kUsername)) {
    if (auto rest = ParseRestUsername(*user)) Sink(rest->user.size() + static_cast<size_t>(rest->expiry & 1));
  }
  if (auto nonce = m.String(attr::kNonce)) {
    Sink(static_cast<size_t>(w.auth.CheckNonce(*nonce, w.udp.client, w.udp.transport)));
  }
  Sink(static_cast<size_t>(w.auth.Check(m, w.udp.client, w.udp.transport).status));
}

// --- answers must be well-formed -------------------------------------------------------------------

// TURN_FUZZ_TRACE=1: one line per answer on stderr, for replaying a finding by hand.
const bool g_trace = std::getenv("TURN_FUZZ_TRACE") != nullptr;

void Trace(const char* what, const Output& out) {
  if (!g_trace) return;
  const char* kind = out.kind == OutputKind::kNone ? "none" : out.kind == OutputKind::kToPeer ? "to-peer" : "to-client";
  std::string detail;
  if (out.kind == OutputKind::kToClient) {
    if (auto m = StunMessage::Parse(out.bytes)) {
      static constexpr const char* kClass[] = {"request", "indication", "success", "error"};
      detail = " method=" + std::to_string(static_cast<int>(m->method())) + " " +
               kClass[static_cast<int>(m->message_class())];
      if (const AttributeRef* e = m->Find(attr::kErrorCode)) {
        if (auto code = DecodeErrorCode(m->Value(*e))) detail += " " + std::to_string(code->code);
      }
    } else {
      detail = " channel-data";
    }
  }
  std::fprintf(stderr, "turn_fuzz: t=%lld %s -> %s%s (%zu bytes)\n", static_cast<long long>(g_now_ms), what, kind,
               detail.c_str(), out.bytes.size());
}

void CheckOutput(const Output& out, std::span<const uint8_t> input) {
  switch (out.kind) {
    case OutputKind::kNone:
      return;
    case OutputKind::kToPeer:
      // A view into the caller's input, never beyond it.
      FUZZ_CHECK(out.bytes.data() >= input.data() && out.bytes.data() + out.bytes.size() <= input.data() + input.size());
      return;
    case OutputKind::kToClient: {
      FUZZ_CHECK(!out.bytes.empty());
      if ((out.bytes[0] >> 6) == 1) {
        auto cd = ParseChannelData(out.bytes);
        FUZZ_CHECK(cd.has_value());
        if (IsStream(out.tuple.transport)) FUZZ_CHECK(out.bytes.size() % 4 == 0);
        return;
      }
      auto m = StunMessage::Parse(out.bytes);
      if (!m) std::fprintf(stderr, "turn_fuzz: bad answer: %s\n", std::string(ParseErrorName(m.error())).c_str());
      FUZZ_CHECK(m.has_value());
      FUZZ_CHECK(m->message_class() != MessageClass::kRequest);
      return;
    }
  }
}

Output ToClient(World& w, std::span<const uint8_t> bytes, const FiveTuple& t, const char* what) {
  Output out = w.server.HandleClient(bytes, t, g_now_ms);
  Trace(what, out);
  CheckOutput(out, bytes);
  return out;
}

// --- 2. stream framing ---------------------------------------------------------------------------

void ExerciseStream(World& w, std::span<const uint8_t> data) {
  size_t off = 0;
  for (int frames = 0; frames < 64 && off < data.size(); ++frames) {
    Frame f = NextFrame(data.subspan(off));
    if (f.status != FrameStatus::kComplete) break;  // need more (the stream ends here) or garbage (close)
    FUZZ_CHECK(f.size >= kChannelDataHeaderSize && f.size <= data.size() - off);
    auto frame = data.subspan(off, f.size);
    if (f.kind == FrameKind::kChannelData) {
      // A frame the de-framer calls complete is a valid (padded) ChannelData message.
      auto cd = ParseChannelData(frame);
      FUZZ_CHECK(cd.has_value());
      FUZZ_CHECK(ChannelDataSize(cd->data.size(), true) == f.size);
    } else {
      auto m = StunMessage::Parse(frame);
      // The header checks the de-framer made must agree with the parser's.
      if (!m) {
        FUZZ_CHECK(m.error() != ParseError::kTooShort && m.error() != ParseError::kNotStun &&
                   m.error() != ParseError::kBadCookie && m.error() != ParseError::kBadLength &&
                   m.error() != ParseError::kLengthMismatch);
      }
    }
    ToClient(w, frame, w.tcp, "tcp frame");
    off += f.size;
  }
  // A reader that gets the stream one byte at a time must see the same first frame.
  if (!data.empty()) {
    Frame whole = NextFrame(data);
    for (size_t n = 1; n <= std::min<size_t>(data.size(), 24); ++n) {
      Frame part = NextFrame(data.first(n));
      if (part.status == FrameStatus::kComplete) {
        FUZZ_CHECK(whole.status == FrameStatus::kComplete && part.size == whole.size && part.kind == whole.kind);
        break;
      }
      if (part.status == FrameStatus::kGarbage) {
        FUZZ_CHECK(whole.status == FrameStatus::kGarbage);
        break;
      }
    }
  }
}

// --- 3. ChannelData -------------------------------------------------------------------------------

void ExerciseChannelData(std::span<const uint8_t> data) {
  auto cd = ParseChannelData(data);
  if (!cd) return;
  FUZZ_CHECK(IsValidChannelNumber(cd->channel));
  for (bool pad : {false, true}) {
    std::vector<uint8_t> out(ChannelDataSize(cd->data.size(), pad));
    FUZZ_CHECK(WriteChannelData(out, cd->channel, cd->data, pad) == out.size());
    auto again = ParseChannelData(out);
    FUZZ_CHECK(again.has_value() && again->channel == cd->channel &&
               std::equal(again->data.begin(), again->data.end(), cd->data.begin(), cd->data.end()));
  }
}

// --- 5. re-signing --------------------------------------------------------------------------------

// The key the server derives for `username` (static user, else the REST password with the first
// secret). Realm as sent: a wrong realm still fails, as it should.
LongTermKey KeyFor(std::string_view username, std::string_view realm) {
  if (username == kStaticUser) return MakeLongTermKey(username, realm, kStaticPassword);
  return MakeLongTermKey(username, realm, RestPassword(kSecret, username));
}

// Rebuilds a request with integrity: same type, transaction id and attributes up to the
// integrity ones, NONCE replaced by a fresh valid one (unless bit 1 of the last transaction-id
// byte asks to keep the fuzzer's, for the stale/forged-nonce paths), then MESSAGE-INTEGRITY and/or
// -SHA256 and FINGERPRINT as the original had them. Returns false when there is nothing to sign.
bool Resign(const World& w, const StunMessage& m, const FiveTuple& t, std::vector<uint8_t>& out) {
  if (m.message_class() != MessageClass::kRequest) return false;
  if (m.integrity() == nullptr && m.integrity_sha256() == nullptr) return false;
  auto username = m.String(attr::kUsername);
  auto realm = m.String(attr::kRealm);
  if (!username || !realm) return false;
  bool keep_nonce = (m.transaction_id()[11] & 2) != 0;
  std::string nonce = w.auth.MakeNonce(t.client, t.transport);
  LongTermKey key = KeyFor(*username, *realm);

  out.assign(kMaxStunMessageSize, 0);
  MessageBuilder b(out, m.type(), m.transaction_id());
  for (const AttributeRef& a : m.attributes()) {
    if (a.type == attr::kMessageIntegrity || a.type == attr::kMessageIntegritySha256 || a.type == attr::kFingerprint) {
      break;
    }
    if (a.type == attr::kNonce && !keep_nonce) {
      b.AddString(attr::kNonce, nonce);
    } else {
      b.Add(a.type, m.Value(a));
    }
  }
  if (m.integrity() != nullptr) b.AddMessageIntegrity(key);
  if (m.integrity_sha256() != nullptr) b.AddMessageIntegritySha256(key);
  if (m.has_fingerprint()) b.AddFingerprint();
  if (!b.ok()) return false;
  out.resize(b.size());
  // What the builder wrote must parse and verify.
  auto again = StunMessage::Parse(out);
  FUZZ_CHECK(again.has_value());
  if (again->integrity() != nullptr) FUZZ_CHECK(VerifyMessageIntegrity(*again, key));
  if (again->integrity_sha256() != nullptr) FUZZ_CHECK(VerifyMessageIntegritySha256(*again, key));
  return true;
}

// --- 4. peers -------------------------------------------------------------------------------------

void FromPeers(World& w, std::span<const uint8_t> data) {
  for (const FiveTuple* t : {&w.udp, &w.tcp, &w.tls}) {
    const Allocation* al = w.server.allocations().Find(*t, g_now_ms);
    if (al == nullptr) continue;
    Address relayed = al->relayed;
    // A peer with a channel, one with only a permission, and one with neither.
    std::vector<Address> peers;
    if (!al->channels.empty()) peers.push_back(al->channels[data.size() % al->channels.size()].peer);
    if (!al->permissions.empty()) peers.push_back(al->permissions[data.size() % al->permissions.size()].ip.WithPort(5000));
    peers.push_back(relayed.is_v4() ? Addr("127.0.0.1:5000") : Addr("[2001:db8::99]:5000"));
    for (const Address& peer : peers) {
      Output out = w.server.HandlePeer(relayed, peer, data, g_now_ms);
      Trace("from peer", out);
      CheckOutput(out, data);
      if (out.kind == OutputKind::kToClient) FUZZ_CHECK(out.tuple == *t);
    }
  }
}

}  // namespace
}  // namespace palaver::turn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace palaver::turn;
  World& w = GetWorld();
  std::span<const uint8_t> input(data, size);
  ++w.inputs;
  g_now_ms += kStepMs;
  if (w.inputs % kSweepEvery == 0) Sink(w.server.Sweep(g_now_ms));

  // 1. Codec.
  auto parsed = StunMessage::Parse(input);
  if (parsed) ExerciseDecoders(*parsed, w);

  // 2. As a TCP stream; 3. as ChannelData.
  ExerciseStream(w, input);
  ExerciseChannelData(input);

  // 4. The handler, as a datagram and as one (possibly bad) frame.
  ToClient(w, input, w.udp, "udp");
  ToClient(w, input, w.tcp, "tcp");
  FromPeers(w, input);

  // 5. Past authentication.
  if (parsed) {
    const FiveTuple& t = (parsed->transaction_id()[11] & 1) ? w.tcp : ((parsed->transaction_id()[11] & 4) ? w.tls : w.udp);
    static std::vector<uint8_t> signed_copy;
    if (Resign(w, *parsed, t, signed_copy)) {
      ToClient(w, signed_copy, t, t.transport == Transport::kUdp ? "signed udp" : t.transport == Transport::kTcp ? "signed tcp" : "signed tls");
      // Data follows the request, as it does on the wire.
      FromPeers(w, input);
    }
  }

  // Quick sanity on the table's bookkeeping.
  TableStats s = w.server.allocations().Stats();
  FUZZ_CHECK(s.allocations == w.server.allocations().size());
  FUZZ_CHECK(s.allocations <= 3);  // only three 5-tuples exist
  return 0;
}
