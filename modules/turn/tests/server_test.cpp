// The request handler without sockets: every method and error code, the data paths in both
// directions, policy and quotas, and the size of what unauthenticated senders get back.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

#include "server.hpp"
#include "test_util.hpp"

namespace palaver::turn {
namespace {

using testing::Build;
using testing::Bytes;
using testing::Credentials;
using testing::ErrorCodeOf;
using testing::Request;
using testing::Tid;

constexpr int64_t kSecond = 1000;
constexpr std::string_view kSecret = "s3cret";

Address A(std::string_view text) { return *Address::Parse(text); }

// Hands out relay addresses like the engine will; can be told to fail.
class FakeRelays : public RelayAllocator {
 public:
  struct Socket : RelaySocket {};
  RelayResult Open(const FiveTuple&, Family family, bool even_port) override {
    opened.push_back({family, even_port});
    if (fail != RelayStatus::kOk) return RelayResult{fail, {}};
    RelaySocket* handle = &sockets[static_cast<size_t>(next) % sockets.size()];  // a distinct "socket" per relay
    uint16_t port = static_cast<uint16_t>(50000 + 2 * next++);
    Address relayed = family == Family::kIPv4 ? A("198.51.100.1:0").WithPort(port) : A("[2001:db8::1]:0").WithPort(port);
    handles.push_back(handle);
    return RelayResult{RelayStatus::kOk, relayed, handle};
  }
  void Close(const Address& relayed) override { closed.push_back(relayed); }

  struct Call {
    Family family;
    bool even_port;
  };
  std::vector<Call> opened;
  std::vector<Address> closed;
  std::vector<RelaySocket*> handles;  // what Open returned, in order
  std::array<Socket, 64> sockets{};
  RelayStatus fail = RelayStatus::kOk;
  int next = 0;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() { Rebuild(); }

  void Rebuild() {
    server_.reset();
    AuthOptions ao;
    ao.realm = "palaver";
    ao.secrets = {std::string(kSecret)};
    ao.static_users = {{"sipphone", "hunter2"}};
    ao.nonce_key = "nonce key for tests";
    ao.now = [this] { return unix_now_; };
    auth_ = std::make_unique<Authenticator>(ao);
    PeerPolicyOptions po = policy_options_;
    policy_ = std::make_unique<PeerPolicy>(po);
    ServerOptions so;
    so.limits = limits_;
    so.unauthenticated = unauth_;
    so.software = "palaver test";
    so.random = [](std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i);
    };
    so.events = [this](const Event& e) {
      RecordedEvent r;
      r.kind = e.kind;
      r.client = e.tuple.client;
      r.username = std::string(e.username);
      r.method = e.method;
      r.relayed = e.relayed;
      r.removal = e.removal;
      r.age_ms = e.age_ms;
      r.code = e.code;
      r.reason = std::string(e.reason);
      r.auth = e.auth;
      r.peer = e.peer;
      events_.push_back(r);
    };
    server_ = std::make_unique<Server>(so, *auth_, *policy_, relays_);
  }

  // An Event copied out (its strings are views into the Server's call).
  struct RecordedEvent {
    EventKind kind;
    Address client;
    std::string username;
    Method method;
    Address relayed;
    RemovalReason removal;
    int64_t age_ms;
    int code;
    std::string reason;
    AuthFailure auth;
    std::optional<Address> peer;
  };
  std::vector<RecordedEvent> EventsOf(EventKind kind) const {
    std::vector<RecordedEvent> out;
    for (const auto& e : events_) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  FiveTuple Tuple(uint16_t port = 40000, Transport t = Transport::kUdp) {
    return FiveTuple{A("192.0.2.10:1").WithPort(port), A("198.51.100.1:3478"), t};
  }

  // Sends `bytes`; returns the parsed response copied out (the server's buffer is reused).
  struct Response {
    Bytes bytes;
    int code = 0;  // 0 for success responses
  };
  std::optional<Response> Send(const Bytes& bytes, const FiveTuple& t) {
    Output out = server_->HandleClient(bytes, t, now_);
    if (out.kind == OutputKind::kNone) return std::nullopt;
    EXPECT_EQ(out.kind, OutputKind::kToClient);
    EXPECT_EQ(out.tuple, t);
    Response r;
    r.bytes.assign(out.bytes.begin(), out.bytes.end());
    auto m = StunMessage::Parse(r.bytes);
    EXPECT_TRUE(m) << ParseErrorName(m.error());
    if (m) r.code = ErrorCodeOf(*m);
    return r;
  }
  // Parses a response (a StunMessage is a view, so it is made from the bytes kept here).
  static StunMessage M(const Response& r) { return *StunMessage::Parse(r.bytes); }

  Credentials Rest(std::string_view user = "alice", const FiveTuple* t = nullptr) {
    Credentials c;
    c.username = std::to_string(unix_now_ + 86400) + ":" + std::string(user);
    c.realm = "palaver";
    FiveTuple tuple = t ? *t : Tuple();
    c.nonce = auth_->MakeNonce(tuple.client, tuple.transport);
    c.key = MakeLongTermKey(c.username, c.realm, RestPassword(kSecret, c.username));
    return c;
  }

  // Allocate with the 401 round trip first, as clients do. Returns the relayed address.
  std::optional<Address> Allocate(const FiveTuple& t, std::string_view user = "alice",
                                  const std::function<void(MessageBuilder&)>& extra = nullptr) {
    auto add = [&](MessageBuilder& b) {
      b.AddRequestedTransport(kProtocolUdp);
      if (extra) extra(b);
    };
    auto challenge = Send(Request(Method::kAllocate, Tid(tid_++), add), t);
    if (!challenge || challenge->code != 401) {
      ADD_FAILURE() << "no 401";
      return std::nullopt;
    }
    Credentials c = Rest(user, &t);
    c.nonce = std::string(*M(*challenge).String(attr::kNonce));
    auto r = Send(Request(Method::kAllocate, Tid(tid_++), add, &c), t);
    if (!r || M(*r).message_class() != MessageClass::kSuccess) {
      ADD_FAILURE() << "allocate failed: " << (r ? r->code : -1);
      return std::nullopt;
    }
    StunMessage m = M(*r);
    EXPECT_TRUE(VerifyMessageIntegrity(m, c.key));
    return DecodeXorAddress(m.Value(*m.Find(attr::kXorRelayedAddress)), m.transaction_id());
  }

  // A request with valid credentials for `t` (fresh nonce).
  Bytes Authed(Method method, const FiveTuple& t, const std::function<void(MessageBuilder&)>& add,
               std::string_view user = "alice", bool fingerprint = false) {
    Credentials c = Rest(user, &t);
    return Request(method, Tid(tid_++), add, &c, fingerprint);
  }

  std::optional<Response> CreatePermission(const FiveTuple& t, std::vector<Address> peers,
                                           std::string_view user = "alice") {
    return Send(Authed(Method::kCreatePermission, t,
                       [&](MessageBuilder& b) {
                         for (const auto& p : peers) b.AddXorAddress(attr::kXorPeerAddress, p);
                       },
                       user),
                t);
  }
  std::optional<Response> ChannelBind(const FiveTuple& t, uint16_t number, const Address& peer,
                                      std::string_view user = "alice") {
    return Send(Authed(Method::kChannelBind, t,
                       [&](MessageBuilder& b) {
                         b.AddChannelNumber(number).AddXorAddress(attr::kXorPeerAddress, peer);
                       },
                       user),
                t);
  }
  Bytes SendIndication(const Address& peer, const Bytes& data, bool dont_fragment = false) {
    return Build(Method::kSend, MessageClass::kIndication, Tid(tid_++), [&](MessageBuilder& b) {
      b.AddXorAddress(attr::kXorPeerAddress, peer).Add(attr::kData, data);
      if (dont_fragment) b.Add(attr::kDontFragment, {});
    });
  }

  int64_t unix_now_ = 1'700'000'000;
  int64_t now_ = 5'000'000;
  uint8_t tid_ = 1;
  AllocationLimits limits_;
  UnauthenticatedLimit unauth_;
  PeerPolicyOptions policy_options_ = [] {
    PeerPolicyOptions o;
    o.own_endpoints = {A("198.51.100.1:3478"), A("198.51.100.1:443")};
    return o;
  }();
  FakeRelays relays_;
  std::vector<RecordedEvent> events_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<PeerPolicy> policy_;
  std::unique_ptr<Server> server_;
};

// --- Binding --------------------------------------------------------------------------------------

TEST_F(ServerTest, BindingAnswersTheReflexiveAddressOnly) {
  auto r = Send(Request(Method::kBinding, Tid(1), nullptr), Tuple());
  ASSERT_TRUE(r);
  StunMessage m = M(*r);
  EXPECT_EQ(m.method(), Method::kBinding);
  EXPECT_EQ(m.message_class(), MessageClass::kSuccess);
  EXPECT_EQ(m.transaction_id(), Tid(1));
  EXPECT_EQ(DecodeXorAddress(m.Value(*m.Find(attr::kXorMappedAddress)), m.transaction_id()), Tuple().client);
  EXPECT_EQ(m.attributes().size(), 1u);  // no SOFTWARE, no integrity, no FINGERPRINT
  EXPECT_EQ(r->bytes.size(), 32u);

  auto f = Send(Request(Method::kBinding, Tid(2), nullptr, nullptr, /*fingerprint=*/true), Tuple());
  ASSERT_TRUE(f);
  EXPECT_TRUE(M(*f).has_fingerprint());
  EXPECT_EQ(f->bytes.size(), 40u);

  FiveTuple v6{A("[2001:db8::10]:40000"), A("[2001:db8::1]:3478"), Transport::kUdp};
  auto r6 = Send(Request(Method::kBinding, Tid(3), nullptr), v6);
  ASSERT_TRUE(r6);
  EXPECT_EQ(DecodeXorAddress(M(*r6).Value(*M(*r6).Find(attr::kXorMappedAddress)), Tid(3)), v6.client);
  EXPECT_EQ(server_->counters().binding_requests, 3u);
}

TEST_F(ServerTest, BindingWithUnknownRequiredAttributeIs420) {
  auto r = Send(Request(Method::kBinding, Tid(1), [](MessageBuilder& b) { b.Add(0x7abc, {}).Add(0xc001, {}); }), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 420);
  uint16_t types[4];
  StunMessage m = M(*r);
  ASSERT_EQ(DecodeUnknownAttributes(m.Value(*m.Find(attr::kUnknownAttributes)), types), 1u);
  EXPECT_EQ(types[0], 0x7abc);
  EXPECT_EQ(m.integrity(), nullptr);
}

TEST_F(ServerTest, DropsWhatIsNotARequestForUs) {
  EXPECT_FALSE(Send(Bytes{}, Tuple()));
  EXPECT_FALSE(Send(Bytes{0x80, 0, 0, 0}, Tuple()));
  EXPECT_FALSE(Send(testing::FromHex("0001 0004 2112a442 000000000000000000000000"), Tuple()));  // bad length
  EXPECT_FALSE(Send(Build(Method::kBinding, MessageClass::kSuccess, Tid(1), nullptr), Tuple()));
  EXPECT_FALSE(Send(Build(Method::kBinding, MessageClass::kError, Tid(1), nullptr), Tuple()));
  EXPECT_FALSE(Send(Build(Method::kBinding, MessageClass::kIndication, Tid(1), nullptr), Tuple()));
  EXPECT_FALSE(Send(Build(Method::kData, MessageClass::kIndication, Tid(1), nullptr), Tuple()));
  Bytes bad_fp = Request(Method::kBinding, Tid(1), nullptr, nullptr, true);
  bad_fp.back() ^= 1;
  EXPECT_FALSE(Send(bad_fp, Tuple()));
  EXPECT_GE(server_->counters().dropped_malformed, 5u);
}

TEST_F(ServerTest, UnknownMethodIs400) {
  auto r = Send(Request(static_cast<Method>(0x0abc), Tid(1), nullptr), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 400);
}

// --- Allocate -------------------------------------------------------------------------------------

TEST_F(ServerTest, AllocateIsChallengedThenGranted) {
  auto challenge = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }), Tuple());
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->code, 401);
  StunMessage cm = M(*challenge);
  EXPECT_EQ(cm.String(attr::kRealm), "palaver");
  ASSERT_TRUE(cm.String(attr::kNonce));
  EXPECT_EQ(cm.integrity(), nullptr);
  EXPECT_FALSE(cm.Has(attr::kSoftware));
  EXPECT_TRUE(relays_.opened.empty());

  Credentials c = Rest();
  c.nonce = std::string(*cm.String(attr::kNonce));
  auto ok = Send(Request(Method::kAllocate, Tid(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c, true),
                 Tuple());
  ASSERT_TRUE(ok);
  StunMessage m = M(*ok);
  ASSERT_EQ(m.message_class(), MessageClass::kSuccess) << ok->code;
  EXPECT_EQ(DecodeXorAddress(m.Value(*m.Find(attr::kXorRelayedAddress)), m.transaction_id()), A("198.51.100.1:50000"));
  EXPECT_EQ(DecodeU32(m.Value(*m.Find(attr::kLifetime))), 600u);
  EXPECT_EQ(DecodeXorAddress(m.Value(*m.Find(attr::kXorMappedAddress)), m.transaction_id()), Tuple().client);
  EXPECT_EQ(m.String(attr::kSoftware), "palaver test");
  EXPECT_TRUE(VerifyMessageIntegrity(m, c.key));
  EXPECT_TRUE(m.has_fingerprint());
  ASSERT_EQ(relays_.opened.size(), 1u);
  EXPECT_EQ(relays_.opened[0].family, Family::kIPv4);
  EXPECT_FALSE(relays_.opened[0].even_port);
  const Allocation* al = server_->allocations().Find(Tuple(), now_);
  ASSERT_NE(al, nullptr);
  EXPECT_EQ(al->user, "alice");
  EXPECT_EQ(server_->counters().challenges, 1u);
}

TEST_F(ServerTest, WrongPasswordIs401) {
  Credentials c = Rest();
  c.key = MakeLongTermKey(c.username, c.realm, RestPassword("guess", c.username));
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 401);
  EXPECT_TRUE(M(*r).Has(attr::kNonce));
  EXPECT_EQ(M(*r).integrity(), nullptr);
  EXPECT_EQ(server_->counters().auth_failures, 1u);
  EXPECT_TRUE(relays_.opened.empty());
}

TEST_F(ServerTest, ExpiredRestCredentialIs401) {
  Credentials c = Rest();
  unix_now_ += 86401;
  c.nonce = auth_->MakeNonce(Tuple().client, Transport::kUdp);
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 401);
}

TEST_F(ServerTest, StaleNonceIs438WithAFreshSignedNonce) {
  Credentials c = Rest();
  unix_now_ += 601;
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 438);
  StunMessage m = M(*r);
  EXPECT_EQ(m.String(attr::kRealm), "palaver");
  EXPECT_TRUE(VerifyMessageIntegrity(m, c.key));
  std::string fresh(*m.String(attr::kNonce));
  EXPECT_NE(fresh, c.nonce);
  EXPECT_EQ(server_->counters().stale_nonces, 1u);
  c.nonce = fresh;
  auto ok = Send(Request(Method::kAllocate, Tid(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(ok);
  EXPECT_EQ(M(*ok).message_class(), MessageClass::kSuccess);
}

TEST_F(ServerTest, ForgedNonceNeverSucceeds) {
  Credentials c = Rest();
  c.nonce = "0000ffffffff" + std::string(22, 'A');
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 438);
  EXPECT_TRUE(relays_.opened.empty());
  // A nonce made for another client address does not work here either.
  FiveTuple other = Tuple(40001);
  Credentials d = Rest("alice", &other);
  auto r2 = Send(Request(Method::kAllocate, Tid(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &d), Tuple());
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->code, 438);
}

TEST_F(ServerTest, MissingRealmWithIntegrityIs400) {
  Credentials c = Rest();
  Bytes req = Request(Method::kAllocate, Tid(1), [&](MessageBuilder& b) {
    b.AddRequestedTransport(17).AddString(attr::kUsername, c.username).AddString(attr::kNonce, c.nonce);
    b.AddMessageIntegrity(c.key);
  });
  auto r = Send(req, Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 400);
  EXPECT_EQ(M(*r).integrity(), nullptr);
}

TEST_F(ServerTest, ResponsesUseMessageIntegritySha256WhenTheRequestDid) {
  Credentials c = Rest();
  c.sha256 = true;
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c), Tuple());
  ASSERT_TRUE(r);
  StunMessage m = M(*r);
  ASSERT_EQ(m.message_class(), MessageClass::kSuccess) << r->code;
  EXPECT_EQ(m.integrity(), nullptr);
  EXPECT_TRUE(VerifyMessageIntegritySha256(m, c.key));
}

TEST_F(ServerTest, SecondAllocateOnTheTupleIs437ButARetransmissionIsAnsweredAgain) {
  Credentials c = Rest();
  auto add = [](MessageBuilder& b) { b.AddRequestedTransport(17); };
  Bytes first = Request(Method::kAllocate, Tid(9), add, &c);
  auto a = Send(first, Tuple());
  ASSERT_TRUE(a);
  ASSERT_EQ(M(*a).message_class(), MessageClass::kSuccess);
  auto again = Send(first, Tuple());  // lost response, client retransmits
  ASSERT_TRUE(again);
  StunMessage m = M(*again);
  ASSERT_EQ(m.message_class(), MessageClass::kSuccess);
  EXPECT_EQ(DecodeXorAddress(m.Value(*m.Find(attr::kXorRelayedAddress)), m.transaction_id()), A("198.51.100.1:50000"));
  EXPECT_EQ(relays_.opened.size(), 1u);
  auto other = Send(Request(Method::kAllocate, Tid(10), add, &c), Tuple());
  ASSERT_TRUE(other);
  EXPECT_EQ(other->code, 437);
  EXPECT_TRUE(VerifyMessageIntegrity(M(*other), c.key));
  EXPECT_EQ(relays_.opened.size(), 1u);
}

TEST_F(ServerTest, RequestedTransportMustBeUdp) {
  auto r = Send(Authed(Method::kAllocate, Tuple(), [](MessageBuilder& b) { b.AddRequestedTransport(6); }), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 442);
  auto missing = Send(Authed(Method::kAllocate, Tuple(), nullptr), Tuple());
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->code, 400);
  auto malformed = Send(Authed(Method::kAllocate, Tuple(), [](MessageBuilder& b) { b.Add(attr::kRequestedTransport, Bytes{17}); }),
                        Tuple());
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->code, 400);
  EXPECT_TRUE(relays_.opened.empty());
}

TEST_F(ServerTest, DontFragmentIs420) {
  auto r = Send(Authed(Method::kAllocate, Tuple(), [](MessageBuilder& b) {
                  b.AddRequestedTransport(17).Add(attr::kDontFragment, {});
                }),
                Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 420);
  uint16_t types[2];
  ASSERT_EQ(DecodeUnknownAttributes(M(*r).Value(*M(*r).Find(attr::kUnknownAttributes)), types), 1u);
  EXPECT_EQ(types[0], attr::kDontFragment);
}

TEST_F(ServerTest, UnknownRequiredAttributeAfterAuthIs420Signed) {
  Credentials c = Rest();
  auto r = Send(Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17).Add(0x7001, {}); }, &c),
                Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 420);
  EXPECT_TRUE(VerifyMessageIntegrity(M(*r), c.key));
  // Without credentials the 401 comes first.
  auto u = Send(Request(Method::kAllocate, Tid(2), [](MessageBuilder& b) { b.AddRequestedTransport(17).Add(0x7001, {}); }),
                Tuple());
  ASSERT_TRUE(u);
  EXPECT_EQ(u->code, 401);
}

TEST_F(ServerTest, QuotasAre486PerUserAnd508InTotal) {
  limits_.max_allocations_per_user = 1;
  limits_.max_allocations = 2;
  Rebuild();
  ASSERT_TRUE(Allocate(Tuple(1), "alice"));
  auto r = Send(Authed(Method::kAllocate, Tuple(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, "alice"), Tuple(2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 486);
  ASSERT_TRUE(Allocate(Tuple(3), "bob"));
  auto full = Send(Authed(Method::kAllocate, Tuple(4), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, "carol"),
                   Tuple(4));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->code, 508);
  EXPECT_EQ(relays_.opened.size(), 2u);  // no relay opened for refused requests
  EXPECT_EQ(server_->counters().quota_rejections, 2u);
}

TEST_F(ServerTest, RelayFailuresAre508And440) {
  relays_.fail = RelayStatus::kNoCapacity;
  auto r = Send(Authed(Method::kAllocate, Tuple(), [](MessageBuilder& b) { b.AddRequestedTransport(17); }), Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 508);
  relays_.fail = RelayStatus::kFamilyUnsupported;
  auto f = Send(Authed(Method::kAllocate, Tuple(), [](MessageBuilder& b) {
                  b.AddRequestedTransport(17).AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv6);
                }),
                Tuple());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, 440);
  EXPECT_EQ(server_->allocations().size(), 0u);
  EXPECT_EQ(server_->counters().relay_failures, 2u);
}

TEST_F(ServerTest, AddressFamilies) {
  auto v6 = Allocate(Tuple(1), "alice", [](MessageBuilder& b) { b.AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv6); });
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(relays_.opened.back().family, Family::kIPv6);

  auto bad = Send(Authed(Method::kAllocate, Tuple(2), [](MessageBuilder& b) {
                    uint8_t family[] = {0x03, 0, 0, 0};
                    b.AddRequestedTransport(17).Add(attr::kRequestedAddressFamily, family);
                  }),
                  Tuple(2));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, 440);

  auto both = Send(Authed(Method::kAllocate, Tuple(3), [](MessageBuilder& b) {
                     b.AddRequestedTransport(17)
                         .AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv4)
                         .AddAddressFamily(attr::kAdditionalAddressFamily, Family::kIPv6);
                   }),
                   Tuple(3));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->code, 400);

  auto additional_v4 = Send(Authed(Method::kAllocate, Tuple(4), [](MessageBuilder& b) {
                              b.AddRequestedTransport(17).AddAddressFamily(attr::kAdditionalAddressFamily, Family::kIPv4);
                            }),
                            Tuple(4));
  ASSERT_TRUE(additional_v4);
  EXPECT_EQ(additional_v4->code, 400);

  // Dual allocation asked for: IPv4 only, with ADDRESS-ERROR-CODE 440 for IPv6.
  auto dual = Send(Authed(Method::kAllocate, Tuple(5), [](MessageBuilder& b) {
                     b.AddRequestedTransport(17).AddAddressFamily(attr::kAdditionalAddressFamily, Family::kIPv6);
                   }),
                   Tuple(5));
  ASSERT_TRUE(dual);
  StunMessage m = M(*dual);
  ASSERT_EQ(m.message_class(), MessageClass::kSuccess);
  EXPECT_TRUE(DecodeXorAddress(m.Value(*m.Find(attr::kXorRelayedAddress)), m.transaction_id())->is_v4());
  auto aec = m.Value(*m.Find(attr::kAddressErrorCode));
  ASSERT_GE(aec.size(), 4u);
  EXPECT_EQ(aec[0], 0x02);
  EXPECT_EQ(aec[2] * 100 + aec[3], 440);
}

TEST_F(ServerTest, EvenPortAndReservations) {
  ASSERT_TRUE(Allocate(Tuple(1), "alice", [](MessageBuilder& b) { b.AddEvenPort(false); }));
  EXPECT_TRUE(relays_.opened.back().even_port);
  auto reserve = Send(Authed(Method::kAllocate, Tuple(2), [](MessageBuilder& b) {
                        b.AddRequestedTransport(17).AddEvenPort(true);
                      }),
                      Tuple(2));
  ASSERT_TRUE(reserve);
  EXPECT_EQ(reserve->code, 508);
  auto token = Send(Authed(Method::kAllocate, Tuple(3), [](MessageBuilder& b) {
                      b.AddRequestedTransport(17).Add(attr::kReservationToken, Bytes(8, 1));
                    }),
                    Tuple(3));
  ASSERT_TRUE(token);
  EXPECT_EQ(token->code, 508);
  auto token_and_even = Send(Authed(Method::kAllocate, Tuple(4), [](MessageBuilder& b) {
                               b.AddRequestedTransport(17).Add(attr::kReservationToken, Bytes(8, 1)).AddEvenPort(false);
                             }),
                             Tuple(4));
  ASSERT_TRUE(token_and_even);
  EXPECT_EQ(token_and_even->code, 400);
  EXPECT_EQ(relays_.opened.size(), 1u);
}

TEST_F(ServerTest, RequestedLifetimeIsClamped) {
  auto lifetime_of = [&](uint16_t port, uint32_t requested) {
    auto r = Send(Authed(Method::kAllocate, Tuple(port), [&](MessageBuilder& b) {
                    b.AddRequestedTransport(17).AddU32(attr::kLifetime, requested);
                  }),
                  Tuple(port));
    EXPECT_TRUE(r && M(*r).Has(attr::kLifetime));
    return r && M(*r).Has(attr::kLifetime) ? *DecodeU32(M(*r).Value(*M(*r).Find(attr::kLifetime))) : 0u;
  };
  EXPECT_EQ(lifetime_of(1, 1200), 1200u);
  EXPECT_EQ(lifetime_of(2, 99999), 3600u);
  EXPECT_EQ(lifetime_of(3, 30), 600u);
  EXPECT_EQ(lifetime_of(4, 0), 600u);
}

// --- Refresh --------------------------------------------------------------------------------------

TEST_F(ServerTest, RefreshExtendsDeletesAndChecksOwnership) {
  auto nothing = Send(Authed(Method::kRefresh, Tuple(), nullptr), Tuple());
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->code, 437);

  ASSERT_TRUE(Allocate(Tuple()));
  now_ += 500 * kSecond;
  auto r = Send(Authed(Method::kRefresh, Tuple(), [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 1200); }), Tuple());
  ASSERT_TRUE(r);
  ASSERT_EQ(M(*r).message_class(), MessageClass::kSuccess) << r->code;
  EXPECT_EQ(DecodeU32(M(*r).Value(*M(*r).Find(attr::kLifetime))), 1200u);
  now_ += 1199 * kSecond;
  EXPECT_NE(server_->allocations().Find(Tuple(), now_), nullptr);

  // Another user's credentials on this 5-tuple: 441.
  Credentials other;
  other.username = "sipphone";
  other.realm = "palaver";
  other.nonce = auth_->MakeNonce(Tuple().client, Transport::kUdp);
  other.key = MakeLongTermKey("sipphone", "palaver", "hunter2");
  auto wrong = Send(Request(Method::kRefresh, Tid(77), nullptr, &other), Tuple());
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->code, 441);

  auto family = Send(Authed(Method::kRefresh, Tuple(), [](MessageBuilder& b) {
                       b.AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv6);
                     }),
                     Tuple());
  ASSERT_TRUE(family);
  EXPECT_EQ(family->code, 443);

  auto del = Send(Authed(Method::kRefresh, Tuple(), [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 0); }), Tuple());
  ASSERT_TRUE(del);
  ASSERT_EQ(M(*del).message_class(), MessageClass::kSuccess);
  EXPECT_EQ(DecodeU32(M(*del).Value(*M(*del).Find(attr::kLifetime))), 0u);
  EXPECT_EQ(relays_.closed, std::vector<Address>{A("198.51.100.1:50000")});
  EXPECT_EQ(server_->allocations().size(), 0u);
  auto gone = Send(Authed(Method::kRefresh, Tuple(), [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 0); }), Tuple());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->code, 437);
}

TEST_F(ServerTest, SweepExpiresAllocationsAndClosesRelays) {
  ASSERT_TRUE(Allocate(Tuple(1)));
  ASSERT_TRUE(Allocate(Tuple(2), "bob", [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 1200); }));
  now_ += 600 * kSecond;
  EXPECT_EQ(server_->Sweep(now_), 1u);
  EXPECT_EQ(relays_.closed, std::vector<Address>{A("198.51.100.1:50000")});
  now_ += 600 * kSecond;
  EXPECT_EQ(server_->Sweep(now_), 1u);
  EXPECT_EQ(relays_.closed.size(), 2u);
}

// --- events for the operator's log -------------------------------------------------------------

TEST_F(ServerTest, EventsForCreatedExpiredDeletedAndClosedAllocations) {
  Address relayed = *Allocate(Tuple(1));
  auto created = EventsOf(EventKind::kAllocationCreated);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].client, Tuple(1).client);
  EXPECT_EQ(created[0].relayed, relayed);
  EXPECT_TRUE(created[0].username.ends_with(":alice"));
  EXPECT_TRUE(EventsOf(EventKind::kRefused).empty());  // the 401 challenge is the normal first step

  now_ += 600 * kSecond;
  server_->Sweep(now_);
  auto removed = EventsOf(EventKind::kAllocationRemoved);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].removal, RemovalReason::kExpired);
  EXPECT_EQ(removed[0].relayed, relayed);
  EXPECT_EQ(removed[0].age_ms, 600 * kSecond);

  ASSERT_TRUE(Allocate(Tuple(2)));
  auto gone = Send(Authed(Method::kRefresh, Tuple(2), [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 0); }), Tuple(2));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->code, 0);
  removed = EventsOf(EventKind::kAllocationRemoved);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[1].removal, RemovalReason::kDeleted);
  EXPECT_EQ(removed[1].client, Tuple(2).client);

  FiveTuple tcp = Tuple(3, Transport::kTcp);
  ASSERT_TRUE(Allocate(tcp));
  server_->ConnectionClosed(tcp, now_ + kSecond);
  removed = EventsOf(EventKind::kAllocationRemoved);
  ASSERT_EQ(removed.size(), 3u);
  EXPECT_EQ(removed[2].removal, RemovalReason::kClosed);
  EXPECT_EQ(removed[2].age_ms, kSecond);
  EXPECT_EQ(relays_.closed.size(), 3u);
}

TEST_F(ServerTest, EventsForRefusedCredentialsSayWhy) {
  auto refused = [&](Credentials c) {
    events_.clear();
    auto r = Send(Request(Method::kAllocate, Tid(tid_++), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c),
                  Tuple());
    EXPECT_TRUE(r);
    auto e = EventsOf(EventKind::kRefused);
    EXPECT_EQ(e.size(), 1u);
    return e.empty() ? RecordedEvent{} : e[0];
  };
  Credentials wrong = Rest();
  wrong.key = MakeLongTermKey(wrong.username, wrong.realm, "guess");
  RecordedEvent e = refused(wrong);
  EXPECT_EQ(e.reason, "credentials");
  EXPECT_EQ(e.auth, AuthFailure::kWrongPassword);
  EXPECT_EQ(e.code, 401);
  EXPECT_EQ(e.username, wrong.username);  // as sent: who tried
  EXPECT_EQ(e.method, Method::kAllocate);

  Credentials realm = Rest();
  realm.realm = "elsewhere";
  EXPECT_EQ(refused(realm).auth, AuthFailure::kWrongRealm);

  Credentials unknown = Rest();
  unknown.username = "nobody";
  EXPECT_EQ(refused(unknown).auth, AuthFailure::kUnknownUser);

  Credentials late = Rest();
  unix_now_ += 86401;
  late.nonce = auth_->MakeNonce(Tuple().client, Transport::kUdp);
  EXPECT_EQ(refused(late).auth, AuthFailure::kExpired);
}

TEST_F(ServerTest, EventsForQuotaAndForbiddenPeers) {
  limits_.max_allocations_per_user = 1;
  Rebuild();
  ASSERT_TRUE(Allocate(Tuple(1)));
  auto challenge = Send(Request(Method::kAllocate, Tid(tid_++), [](MessageBuilder& b) { b.AddRequestedTransport(17); }),
                        Tuple(2));
  ASSERT_TRUE(challenge);
  auto second = Send(Authed(Method::kAllocate, Tuple(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); }), Tuple(2));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->code, 486);
  auto refused = EventsOf(EventKind::kRefused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].reason, "quota");
  EXPECT_EQ(refused[0].client, Tuple(2).client);

  auto forbidden = CreatePermission(Tuple(1), {A("127.0.0.1:9")});
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->code, 403);
  refused = EventsOf(EventKind::kRefused);
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[1].reason, "forbidden_peer");
  EXPECT_EQ(refused[1].method, Method::kCreatePermission);
  ASSERT_TRUE(refused[1].peer);
  EXPECT_EQ(*refused[1].peer, A("127.0.0.1:9"));
}

// --- CreatePermission -----------------------------------------------------------------------------

TEST_F(ServerTest, CreatePermissionInstallsAllOrNothing) {
  auto none = CreatePermission(Tuple(), {A("203.0.113.1:0")});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->code, 437);

  ASSERT_TRUE(Allocate(Tuple()));
  auto ok = CreatePermission(Tuple(), {A("203.0.113.1:0"), A("203.0.113.2:9")});
  ASSERT_TRUE(ok);
  ASSERT_EQ(M(*ok).message_class(), MessageClass::kSuccess) << ok->code;
  const Allocation* al = server_->allocations().Find(Tuple(), now_);
  EXPECT_TRUE(al->HasPermission(A("203.0.113.1:5"), now_));
  EXPECT_TRUE(al->HasPermission(A("203.0.113.2:5"), now_));

  auto forbidden = CreatePermission(Tuple(), {A("203.0.113.3:0"), A("127.0.0.1:0")});
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->code, 403);
  EXPECT_FALSE(al->HasPermission(A("203.0.113.3:5"), now_));  // nothing installed
  EXPECT_EQ(server_->counters().forbidden_peers, 1u);

  auto empty = CreatePermission(Tuple(), {});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->code, 400);

  auto family = CreatePermission(Tuple(), {A("[2001:db8::9]:0")});
  ASSERT_TRUE(family);
  EXPECT_EQ(family->code, 443);

  auto malformed = Send(Authed(Method::kCreatePermission, Tuple(),
                               [](MessageBuilder& b) { b.Add(attr::kXorPeerAddress, Bytes{0, 1, 2}); }),
                        Tuple());
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->code, 400);
}

TEST_F(ServerTest, CreatePermissionRefusesEveryForbiddenForm) {
  ASSERT_TRUE(Allocate(Tuple()));
  for (const char* peer : {"127.0.0.1:0", "127.255.255.254:0", "0.0.0.0:0", "169.254.1.1:0", "224.0.0.1:0",
                           "255.255.255.255:0", "240.0.0.1:0"}) {
    auto r = CreatePermission(Tuple(), {A(peer)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 403) << peer;
  }
  ASSERT_TRUE(Allocate(Tuple(2), "alice", [](MessageBuilder& b) { b.AddAddressFamily(attr::kRequestedAddressFamily, Family::kIPv6); }));
  for (const char* peer : {"[::1]:0", "[::ffff:127.0.0.1]:0", "[::]:0", "[fe80::1]:0", "[ff02::1]:0", "[64:ff9b::7f00:1]:0"}) {
    auto r = CreatePermission(Tuple(2), {A(peer)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 403) << peer;
  }
}

// A guest's allocation (its REST user part starts with "guest/", which only signaling's guest
// logons get, under the password's HMAC) does not reach private ranges unless guest_private; a
// member's does (allow_private's default). Public peers are fine for both.
TEST_F(ServerTest, GuestsReachPrivateRangesOnlyWhenAllowed) {
  auto success = [](const std::optional<Response>& r) { return r && M(*r).message_class() == MessageClass::kSuccess; };
  ASSERT_TRUE(Allocate(Tuple(1)));
  EXPECT_TRUE(success(CreatePermission(Tuple(1), {A("10.1.2.3:0")})));
  EXPECT_TRUE(success(ChannelBind(Tuple(1), 0x4001, A("192.168.1.5:5000"))));

  ASSERT_TRUE(Allocate(Tuple(2), "guest/gina"));
  for (const char* peer : {"10.1.2.3:0", "172.16.0.9:0", "192.168.1.5:0", "100.64.0.1:0"}) {
    auto r = CreatePermission(Tuple(2), {A(peer)}, "guest/gina");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 403) << peer;
  }
  auto bind = ChannelBind(Tuple(2), 0x4001, A("192.168.1.5:5000"), "guest/gina");
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind->code, 403);
  EXPECT_TRUE(success(CreatePermission(Tuple(2), {A("203.0.113.9:0")}, "guest/gina")));
  auto refused = EventsOf(EventKind::kRefused);
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.back().reason, "forbidden_peer");
  EXPECT_EQ(refused.back().username, std::to_string(unix_now_ + 86400) + ":guest/gina");

  policy_options_.guest_private = true;
  Rebuild();
  ASSERT_TRUE(Allocate(Tuple(3), "guest/gina"));
  EXPECT_TRUE(success(CreatePermission(Tuple(3), {A("10.1.2.3:0")}, "guest/gina")));
}

// A guest's permission for one of the appliance's own addresses (where the relays are) carries
// data to its relay ports only: Send indications to any other port there are dropped as
// forbidden; a member's are not.
TEST_F(ServerTest, GuestsSendToTheApplianceOnlyAtRelayPorts) {
  policy_options_.self_addresses = {A("198.51.100.1"), A("10.0.0.5")};
  Rebuild();
  Bytes data = {1, 2, 3};
  ASSERT_TRUE(Allocate(Tuple(1), "guest/gina"));
  for (const char* self : {"198.51.100.1:0", "10.0.0.5:0"}) {
    auto r = CreatePermission(Tuple(1), {A(self)}, "guest/gina");
    ASSERT_TRUE(r && M(*r).message_class() == MessageClass::kSuccess) << self;
  }
  EXPECT_EQ(server_->HandleClient(SendIndication(A("10.0.0.5:50000"), data), Tuple(1), now_).kind, OutputKind::kToPeer);
  uint64_t forbidden = server_->counters().dropped_forbidden;
  EXPECT_EQ(server_->HandleClient(SendIndication(A("10.0.0.5:53"), data), Tuple(1), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->HandleClient(SendIndication(A("198.51.100.1:161"), data), Tuple(1), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_forbidden, forbidden + 2);
  auto bind = ChannelBind(Tuple(1), 0x4001, A("10.0.0.5:53"), "guest/gina");
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind->code, 403);

  ASSERT_TRUE(Allocate(Tuple(2)));
  ASSERT_TRUE(CreatePermission(Tuple(2), {A("10.0.0.5:0")}));
  EXPECT_EQ(server_->HandleClient(SendIndication(A("10.0.0.5:53"), data), Tuple(2), now_).kind, OutputKind::kToPeer);
}

TEST_F(ServerTest, CreatePermissionLimitIs508) {
  limits_.max_permissions = 2;
  Rebuild();
  ASSERT_TRUE(Allocate(Tuple()));
  auto three = CreatePermission(Tuple(), {A("203.0.113.1:0"), A("203.0.113.2:0"), A("203.0.113.3:0")});
  ASSERT_TRUE(three);
  EXPECT_EQ(three->code, 508);
  EXPECT_TRUE(server_->allocations().Find(Tuple(), now_)->permissions.empty());
  auto two = CreatePermission(Tuple(), {A("203.0.113.1:0"), A("203.0.113.2:0"), A("203.0.113.1:7")});  // dup IP
  ASSERT_TRUE(two);
  EXPECT_EQ(M(*two).message_class(), MessageClass::kSuccess);
}

// --- ChannelBind and ChannelData ------------------------------------------------------------------

TEST_F(ServerTest, ChannelBindThenChannelDataReachesThePeer) {
  Address relayed = *Allocate(Tuple());
  Address peer = A("203.0.113.9:7000");
  auto r = ChannelBind(Tuple(), 0x4001, peer);
  ASSERT_TRUE(r);
  ASSERT_EQ(M(*r).message_class(), MessageClass::kSuccess) << r->code;

  Bytes payload = {1, 2, 3, 4, 5};
  Bytes frame(16);
  frame.resize(WriteChannelData(frame, 0x4001, payload, false));
  Output out = server_->HandleClient(frame, Tuple(), now_);
  ASSERT_EQ(out.kind, OutputKind::kToPeer);
  EXPECT_EQ(out.relayed, relayed);
  EXPECT_EQ(out.peer, peer);
  EXPECT_EQ(Bytes(out.bytes.begin(), out.bytes.end()), payload);
  EXPECT_EQ(out.bytes.data(), frame.data() + 4);  // zero copy: a view into the input
  EXPECT_EQ(server_->counters().packets_to_peer, 1u);
  EXPECT_EQ(server_->counters().bytes_to_peer, 5u);

  // Unbound channel, other 5-tuple, malformed: dropped.
  frame[1] = 0x02;
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_channel, 1u);
  frame[1] = 0x01;
  EXPECT_EQ(server_->HandleClient(frame, Tuple(40001), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_allocation, 1u);
  Bytes truncated(frame.begin(), frame.end() - 2);
  EXPECT_EQ(server_->HandleClient(truncated, Tuple(), now_).kind, OutputKind::kNone);
}

TEST_F(ServerTest, ChannelBindErrors) {
  ASSERT_TRUE(Allocate(Tuple()));
  Address peer = A("203.0.113.9:7000");
  EXPECT_EQ(ChannelBind(Tuple(), 0x3FFF, peer)->code, 400);
  EXPECT_EQ(ChannelBind(Tuple(), 0x8000, peer)->code, 400);
  ASSERT_EQ(M(*ChannelBind(Tuple(), 0x4000, peer)).message_class(), MessageClass::kSuccess);
  EXPECT_EQ(ChannelBind(Tuple(), 0x4000, peer.WithPort(7001))->code, 400);  // number taken
  EXPECT_EQ(ChannelBind(Tuple(), 0x4001, peer)->code, 400);                 // peer taken
  EXPECT_EQ(M(*ChannelBind(Tuple(), 0x4000, peer)).message_class(), MessageClass::kSuccess);  // refresh
  EXPECT_EQ(ChannelBind(Tuple(), 0x4002, A("127.0.0.1:7000"))->code, 403);
  EXPECT_EQ(ChannelBind(Tuple(), 0x4002, A("198.51.100.1:3478"))->code, 403);  // our own TURN port
  EXPECT_EQ(ChannelBind(Tuple(), 0x4002, A("198.51.100.1:443"))->code, 403);   // our own HTTPS
  EXPECT_EQ(M(*ChannelBind(Tuple(), 0x4002, A("198.51.100.1:50002"))).message_class(),
            MessageClass::kSuccess);  // another relay on this server is a fine peer
  EXPECT_EQ(ChannelBind(Tuple(), 0x4003, A("[2001:db8::9]:7000"))->code, 443);
  auto missing = Send(Authed(Method::kChannelBind, Tuple(), [&](MessageBuilder& b) { b.AddChannelNumber(0x4004); }), Tuple());
  EXPECT_EQ(missing->code, 400);
  EXPECT_EQ(ChannelBind(Tuple(40001), 0x4000, peer)->code, 437);
}

TEST_F(ServerTest, ChannelLimitIs508) {
  limits_.max_channels = 1;
  Rebuild();
  ASSERT_TRUE(Allocate(Tuple()));
  ASSERT_EQ(M(*ChannelBind(Tuple(), 0x4000, A("203.0.113.9:1"))).message_class(), MessageClass::kSuccess);
  EXPECT_EQ(ChannelBind(Tuple(), 0x4001, A("203.0.113.9:2"))->code, 508);
}

TEST_F(ServerTest, ChannelDataStopsWhenPermissionOrChannelExpires) {
  ASSERT_TRUE(Allocate(Tuple(), "alice", [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 3600); }));
  Address peer = A("203.0.113.9:7000");
  ASSERT_EQ(M(*ChannelBind(Tuple(), 0x4001, peer)).message_class(), MessageClass::kSuccess);
  Bytes frame(8);
  frame.resize(WriteChannelData(frame, 0x4001, Bytes{1, 2, 3}, false));
  now_ += 299 * kSecond;
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kToPeer);
  now_ += 1 * kSecond;  // permission (300 s) lapsed, channel (600 s) not
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_permission, 1u);
  ASSERT_EQ(M(*CreatePermission(Tuple(), {peer})).message_class(), MessageClass::kSuccess);
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kToPeer);
  now_ += 300 * kSecond;  // channel lapsed
  ASSERT_EQ(M(*CreatePermission(Tuple(), {peer})).message_class(), MessageClass::kSuccess);
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_channel, 1u);
}

// --- Send indications -----------------------------------------------------------------------------

TEST_F(ServerTest, SendIndicationNeedsAllocationPermissionAndAnAllowedPort) {
  Address peer = A("198.51.100.1:50002");  // our own IP: fine at a relay port
  Bytes data = {9, 9, 9};
  EXPECT_EQ(server_->HandleClient(SendIndication(peer, data), Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_allocation, 1u);

  Address relayed = *Allocate(Tuple());
  EXPECT_EQ(server_->HandleClient(SendIndication(peer, data), Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_permission, 1u);

  ASSERT_EQ(M(*CreatePermission(Tuple(), {peer})).message_class(), MessageClass::kSuccess);
  Bytes ind = SendIndication(peer, data);
  Output out = server_->HandleClient(ind, Tuple(), now_);
  ASSERT_EQ(out.kind, OutputKind::kToPeer);
  EXPECT_EQ(out.peer, peer);
  EXPECT_EQ(out.relayed, relayed);
  EXPECT_EQ(Bytes(out.bytes.begin(), out.bytes.end()), data);

  // The IP is permitted; its TURN port is still ours and refused.
  EXPECT_EQ(server_->HandleClient(SendIndication(A("198.51.100.1:3478"), data), Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_forbidden, 1u);
  // DONT-FRAGMENT cannot be honoured: dropped.
  EXPECT_EQ(server_->HandleClient(SendIndication(peer, data, true), Tuple(), now_).kind, OutputKind::kNone);
  // Missing DATA: dropped.
  Bytes no_data = Build(Method::kSend, MessageClass::kIndication, Tid(50),
                        [&](MessageBuilder& b) { b.AddXorAddress(attr::kXorPeerAddress, peer); });
  EXPECT_EQ(server_->HandleClient(no_data, Tuple(), now_).kind, OutputKind::kNone);
  // Empty DATA is allowed.
  EXPECT_EQ(server_->HandleClient(SendIndication(peer, {}), Tuple(), now_).kind, OutputKind::kToPeer);
}

// --- from peers -----------------------------------------------------------------------------------

TEST_F(ServerTest, PeerDataBecomesDataIndicationOrChannelData) {
  Address relayed = *Allocate(Tuple());
  Address peer = A("203.0.113.9:7000");
  Bytes payload = {'h', 'i', '!'};
  EXPECT_EQ(server_->HandlePeer(relayed, peer, payload, now_).kind, OutputKind::kNone);  // no permission
  EXPECT_EQ(server_->counters().dropped_no_permission, 1u);
  EXPECT_EQ(server_->HandlePeer(A("198.51.100.1:59999"), peer, payload, now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->counters().dropped_no_allocation, 1u);

  ASSERT_EQ(M(*CreatePermission(Tuple(), {peer})).message_class(), MessageClass::kSuccess);
  Output out = server_->HandlePeer(relayed, peer, payload, now_);
  ASSERT_EQ(out.kind, OutputKind::kToClient);
  EXPECT_EQ(out.tuple, Tuple());
  Bytes ind(out.bytes.begin(), out.bytes.end());
  auto m = StunMessage::Parse(ind);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method(), Method::kData);
  EXPECT_EQ(m->message_class(), MessageClass::kIndication);
  EXPECT_EQ(DecodeXorAddress(m->Value(*m->Find(attr::kXorPeerAddress)), m->transaction_id()), peer);
  auto v = m->Value(*m->Find(attr::kData));
  EXPECT_EQ(Bytes(v.begin(), v.end()), payload);
  // Every Data indication gets its own transaction id.
  Output out2 = server_->HandlePeer(relayed, peer, payload, now_);
  EXPECT_NE(StunMessage::Parse(out2.bytes)->transaction_id(), m->transaction_id());

  ASSERT_EQ(M(*ChannelBind(Tuple(), 0x4005, peer)).message_class(), MessageClass::kSuccess);
  Output cd = server_->HandlePeer(relayed, peer, payload, now_);
  ASSERT_EQ(cd.kind, OutputKind::kToClient);
  EXPECT_EQ(Bytes(cd.bytes.begin(), cd.bytes.end()), testing::FromHex("4005 0003 686921"));  // UDP: no padding
  // The same IP from another port has the permission but not the channel.
  Output other = server_->HandlePeer(relayed, peer.WithPort(7001), payload, now_);
  ASSERT_EQ(other.kind, OutputKind::kToClient);
  EXPECT_TRUE(StunMessage::Parse(other.bytes));
  EXPECT_EQ(server_->counters().packets_to_client, 4u);
}

TEST_F(ServerTest, ChannelDataToStreamClientsIsPadded) {
  FiveTuple tcp = Tuple(40000, Transport::kTcp);
  Address relayed = *Allocate(tcp);
  Address peer = A("203.0.113.9:7000");
  ASSERT_EQ(M(*ChannelBind(tcp, 0x4000, peer)).message_class(), MessageClass::kSuccess);
  Output out = server_->HandlePeer(relayed, peer, Bytes{1, 2, 3, 4, 5}, now_);
  ASSERT_EQ(out.kind, OutputKind::kToClient);
  EXPECT_EQ(out.tuple, tcp);
  EXPECT_EQ(Bytes(out.bytes.begin(), out.bytes.end()), testing::FromHex("4000 0005 0102030405 000000"));
  // And the UDP allocation of the same client address is a different one.
  EXPECT_EQ(server_->allocations().Find(Tuple(40000, Transport::kUdp), now_), nullptr);
}

TEST_F(ServerTest, StreamOfBackToBackMessages) {
  FiveTuple tcp = Tuple(40000, Transport::kTcp);
  Bytes binding = Request(Method::kBinding, Tid(1), nullptr);
  Bytes allocate = Request(Method::kAllocate, Tid(2), [](MessageBuilder& b) { b.AddRequestedTransport(17); });
  Bytes stream = binding;
  stream.insert(stream.end(), allocate.begin(), allocate.end());
  std::vector<int> codes;
  size_t at = 0;
  while (at < stream.size()) {
    Frame f = NextFrame(std::span(stream).subspan(at));
    ASSERT_EQ(f.status, FrameStatus::kComplete);
    auto r = Send(Bytes(stream.begin() + static_cast<long>(at), stream.begin() + static_cast<long>(at + f.size)), tcp);
    ASSERT_TRUE(r);
    codes.push_back(r->code);
    at += f.size;
  }
  EXPECT_EQ(codes, (std::vector<int>{0, 401}));
}

TEST_F(ServerTest, BandwidthLimitDropsExcess) {
  limits_.bandwidth_bytes_per_s = 1000;
  Rebuild();
  Address relayed = *Allocate(Tuple());
  Address peer = A("203.0.113.9:7000");
  ASSERT_EQ(M(*ChannelBind(Tuple(), 0x4000, peer)).message_class(), MessageClass::kSuccess);
  Bytes frame(1000);
  frame.resize(WriteChannelData(frame, 0x4000, Bytes(800, 7), false));
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kToPeer);
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kNone);
  EXPECT_EQ(server_->HandlePeer(relayed, peer, Bytes(300, 1), now_).kind, OutputKind::kNone);  // shared bucket
  EXPECT_EQ(server_->counters().dropped_rate_limited, 2u);
  now_ += 1000;
  EXPECT_EQ(server_->HandleClient(frame, Tuple(), now_).kind, OutputKind::kToPeer);
}

// --- amplification --------------------------------------------------------------------------------

TEST_F(ServerTest, UnauthenticatedResponsesAreSmall) {
  // The smallest Allocate a client sends is 28 bytes; what it gets back without credentials:
  // header 20 + ERROR-CODE 20 + REALM 4+8 + NONCE 4+36 + FINGERPRINT 8 = 100 bytes at most.
  Bytes allocate = Request(Method::kAllocate, Tid(1), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, nullptr, true);
  EXPECT_EQ(allocate.size(), 36u);
  auto r = Send(allocate, Tuple());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 401);
  EXPECT_LE(r->bytes.size(), 100u);
  std::vector<uint16_t> types;
  StunMessage challenge = M(*r);
  for (const auto& a : challenge.attributes()) types.push_back(a.type);
  EXPECT_EQ(types, (std::vector<uint16_t>{attr::kErrorCode, attr::kRealm, attr::kNonce, attr::kFingerprint}));

  // Every other method without credentials gets the same small 401.
  for (Method method : {Method::kRefresh, Method::kCreatePermission, Method::kChannelBind}) {
    auto c = Send(Request(method, Tid(2), nullptr), Tuple());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->code, 401);
    EXPECT_LE(c->bytes.size(), 92u);  // no FINGERPRINT asked for
  }
  // Bad credentials: still only the challenge, no SOFTWARE, no integrity.
  Credentials bad = Rest();
  bad.key[3] ^= 1;
  auto f = Send(Request(Method::kAllocate, Tid(3), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &bad), Tuple());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, 401);
  EXPECT_LE(f->bytes.size(), 92u);
  // Binding: the reflexive address and nothing else (32 bytes for IPv4, 44 for IPv6).
  auto b = Send(Request(Method::kBinding, Tid(4), nullptr), Tuple());
  EXPECT_EQ(b->bytes.size(), 32u);
  // Errors to unauthenticated requests: 400 is just the error code.
  auto e = Send(Request(static_cast<Method>(0x0abc), Tid(5), nullptr), Tuple());
  EXPECT_EQ(e->bytes.size(), 20u + 4 + 4 + 12);
  // Malformed input gets nothing at all.
  EXPECT_FALSE(Send(Bytes(100, 0x01), Tuple()));
}

// --- relay handles -------------------------------------------------------------------------------

TEST_F(ServerTest, DataToPeersCarriesTheRelaySocketOfItsAllocation) {
  Address relayed1 = *Allocate(Tuple(1));
  Address relayed2 = *Allocate(Tuple(2));
  ASSERT_EQ(relays_.handles.size(), 2u);
  RelaySocket* handle1 = relays_.handles[0];
  RelaySocket* handle2 = relays_.handles[1];
  ASSERT_NE(handle1, nullptr);
  ASSERT_NE(handle1, handle2);
  EXPECT_EQ(server_->allocations().Find(Tuple(1), now_)->relay_socket, handle1);
  EXPECT_EQ(server_->allocations().Find(Tuple(2), now_)->relay_socket, handle2);

  Address peer = A("203.0.113.9:7000");
  ASSERT_EQ(M(*CreatePermission(Tuple(1), {peer})).message_class(), MessageClass::kSuccess);
  ASSERT_EQ(M(*CreatePermission(Tuple(2), {peer})).message_class(), MessageClass::kSuccess);

  // Send indications: each allocation's data leaves through its own relay socket.
  Bytes data = {1, 2, 3};
  Bytes ind = SendIndication(peer, data);
  Output out1 = server_->HandleClient(ind, Tuple(1), now_);
  ASSERT_EQ(out1.kind, OutputKind::kToPeer);
  EXPECT_EQ(out1.relayed, relayed1);
  EXPECT_EQ(out1.relay_socket, handle1);
  Output out2 = server_->HandleClient(ind, Tuple(2), now_);
  ASSERT_EQ(out2.kind, OutputKind::kToPeer);
  EXPECT_EQ(out2.relayed, relayed2);
  EXPECT_EQ(out2.relay_socket, handle2);

  // ChannelData likewise.
  ASSERT_EQ(M(*ChannelBind(Tuple(2), 0x4000, peer)).message_class(), MessageClass::kSuccess);
  Bytes frame(16);
  frame.resize(WriteChannelData(frame, 0x4000, data, false));
  Output out3 = server_->HandleClient(frame, Tuple(2), now_);
  ASSERT_EQ(out3.kind, OutputKind::kToPeer);
  EXPECT_EQ(out3.relayed, relayed2);
  EXPECT_EQ(out3.peer, peer);
  EXPECT_EQ(out3.relay_socket, handle2);
}

// --- unauthenticated answers per client IP --------------------------------------------------------

class UnauthLimitTest : public ServerTest {
 protected:
  UnauthLimitTest() {
    unauth_.per_second = 2;  // one token every 500 ms
    unauth_.burst = 3;
    Rebuild();
  }

  static FiveTuple From(std::string_view ip, uint16_t port = 40000, Transport transport = Transport::kUdp) {
    auto parsed = Address::ParseIp(ip, port);
    EXPECT_TRUE(parsed) << ip;
    Address client = parsed.value_or(Address());
    Address server = client.is_v4() ? A("198.51.100.1:3478") : A("[2001:db8::1]:3478");
    return FiveTuple{client, server, transport};
  }
  // Whether a Binding request from `t` is answered (with a success).
  bool Answered(const FiveTuple& t) {
    auto r = Send(Request(Method::kBinding, Tid(tid_++), nullptr), t);
    if (r) {
      EXPECT_EQ(M(*r).message_class(), MessageClass::kSuccess);
    }
    return r.has_value();
  }
  // How many of `n` Binding requests from `t` are answered.
  int Answers(const FiveTuple& t, int n) {
    int answered = 0;
    for (int i = 0; i < n; ++i) answered += Answered(t) ? 1 : 0;
    return answered;
  }
  std::optional<Response> Challenge(const FiveTuple& t) {
    return Send(Request(Method::kAllocate, Tid(tid_++), [](MessageBuilder& b) { b.AddRequestedTransport(17); }), t);
  }
  uint64_t dropped() const { return server_->counters().dropped_unauthenticated_limit; }
};

TEST_F(ServerTest, DefaultUnauthenticatedLimitIs50PerSecondWithABurstOf200) {
  UnauthenticatedLimit defaults;
  EXPECT_EQ(defaults.per_second, 50u);
  EXPECT_EQ(defaults.burst, 200u);
  int answered = 0;
  for (int i = 0; i < 201; ++i) answered += Send(Request(Method::kBinding, Tid(1), nullptr), Tuple()) ? 1 : 0;
  EXPECT_EQ(answered, 200);
  EXPECT_EQ(server_->counters().dropped_unauthenticated_limit, 1u);
  now_ += 20;  // 1/50 s
  EXPECT_TRUE(Send(Request(Method::kBinding, Tid(2), nullptr), Tuple()));
  EXPECT_FALSE(Send(Request(Method::kBinding, Tid(3), nullptr), Tuple()));
}

TEST_F(UnauthLimitTest, BurstThenOneAnswerPerRefilledToken) {
  FiveTuple t = From("192.0.2.10");
  EXPECT_TRUE(Answered(t));
  EXPECT_TRUE(Answered(t));
  EXPECT_TRUE(Answered(t));
  EXPECT_EQ(dropped(), 0u);
  Output out = server_->HandleClient(Request(Method::kBinding, Tid(99), nullptr), t, now_);
  EXPECT_EQ(out.kind, OutputKind::kNone);
  EXPECT_TRUE(out.bytes.empty());
  EXPECT_EQ(dropped(), 1u);

  now_ += 499;
  EXPECT_FALSE(Answered(t));
  EXPECT_EQ(dropped(), 2u);
  now_ += 1;  // 500 ms: one token
  EXPECT_TRUE(Answered(t));
  EXPECT_FALSE(Answered(t));
  EXPECT_EQ(dropped(), 3u);
  now_ += 500;
  EXPECT_TRUE(Answered(t));
  // A long pause refills up to the burst, no more.
  now_ += 60 * kSecond;
  EXPECT_EQ(Answers(t, 5), 3);
  EXPECT_EQ(dropped(), 5u);
}

TEST_F(UnauthLimitTest, OneBucketPerClientIpWhateverThePortOrTransport) {
  // The port does not matter: three answers in all for one IP.
  EXPECT_TRUE(Answered(From("192.0.2.10", 40000)));
  EXPECT_TRUE(Answered(From("192.0.2.10", 40000)));
  EXPECT_TRUE(Answered(From("192.0.2.10", 40001)));
  EXPECT_FALSE(Answered(From("192.0.2.10", 40002)));
  EXPECT_FALSE(Answered(From("192.0.2.10", 40000)));
  EXPECT_FALSE(Answered(From("192.0.2.10", 40000, Transport::kTcp)));  // nor the transport
  EXPECT_EQ(dropped(), 3u);
  // Another IP has its own bucket.
  EXPECT_EQ(Answers(From("192.0.2.11"), 4), 3);
  EXPECT_EQ(Answers(From("2001:db8::10"), 4), 3);
  EXPECT_EQ(Answers(From("2001:db8:0:1::11", 5), 4), 3);  // another /64
  EXPECT_EQ(Answers(From("2001:db8::12", 6), 4), 0);      // the first one's /64: exhausted
  EXPECT_EQ(dropped(), 10u);
}

TEST_F(UnauthLimitTest, Ipv4MappedIpv6SharesTheBucketOfItsIpv4Address) {
  FiveTuple v4 = From("192.0.2.10");
  FiveTuple mapped = From("::ffff:192.0.2.10", 40001);
  ASSERT_FALSE(mapped.client.is_v4());
  EXPECT_TRUE(Answered(v4));
  EXPECT_TRUE(Answered(mapped));
  EXPECT_TRUE(Answered(v4));
  EXPECT_FALSE(Answered(mapped));
  EXPECT_FALSE(Answered(v4));
  EXPECT_EQ(dropped(), 2u);
  // The mapped form of another IPv4 address is another bucket.
  EXPECT_EQ(Answers(From("::ffff:192.0.2.11"), 4), 3);
  EXPECT_EQ(Answers(From("192.0.2.11"), 1), 0);
}

TEST_F(UnauthLimitTest, ChallengesToAllocateAreCounted) {
  FiveTuple t = From("192.0.2.10");
  auto c1 = Challenge(t);
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->code, 401);
  auto c2 = Challenge(t);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->code, 401);
  EXPECT_TRUE(Answered(t));
  EXPECT_FALSE(Answered(t));
  EXPECT_FALSE(Challenge(t));
  EXPECT_EQ(dropped(), 2u);
  EXPECT_TRUE(relays_.opened.empty());
}

TEST_F(UnauthLimitTest, EveryUnauthenticatedAnswerIsCounted) {
  unauth_.burst = 4;
  Rebuild();
  FiveTuple t = From("192.0.2.10");
  auto bad_binding = Send(Request(Method::kBinding, Tid(1), [](MessageBuilder& b) { b.Add(0x7abc, {}); }), t);
  ASSERT_TRUE(bad_binding);
  EXPECT_EQ(bad_binding->code, 420);
  auto unknown_method = Send(Request(static_cast<Method>(0x0abc), Tid(2), nullptr), t);
  ASSERT_TRUE(unknown_method);
  EXPECT_EQ(unknown_method->code, 400);
  Credentials wrong = Rest("alice", &t);
  wrong.key[0] ^= 1;
  auto add = [](MessageBuilder& b) { b.AddRequestedTransport(17); };
  auto guess = Send(Request(Method::kAllocate, Tid(3), add, &wrong), t);
  ASSERT_TRUE(guess);
  EXPECT_EQ(guess->code, 401);
  ASSERT_TRUE(Challenge(t));
  // The bucket is empty now: a password guesser gets no more answers.
  EXPECT_FALSE(Send(Request(Method::kAllocate, Tid(4), add, &wrong), t));
  EXPECT_FALSE(Send(Request(static_cast<Method>(0x0abc), Tid(5), nullptr), t));
  EXPECT_FALSE(Answered(t));
  EXPECT_EQ(dropped(), 3u);
  EXPECT_TRUE(relays_.opened.empty());
}

TEST_F(UnauthLimitTest, AuthenticatedRequestsAreNotLimited) {
  FiveTuple t = From("192.0.2.10");
  ASSERT_TRUE(Allocate(t));  // the 401 takes one token, the authenticated Allocate none
  EXPECT_EQ(Answers(t, 3), 2);
  EXPECT_FALSE(Challenge(t));
  uint64_t dropped_before = dropped();
  EXPECT_EQ(dropped_before, 2u);

  // The bucket is empty; signed requests still get their (signed) answers.
  auto refresh = Send(Authed(Method::kRefresh, t, [](MessageBuilder& b) { b.AddU32(attr::kLifetime, 1200); }), t);
  ASSERT_TRUE(refresh);
  EXPECT_EQ(M(*refresh).message_class(), MessageClass::kSuccess) << refresh->code;
  Address peer = A("203.0.113.9:7000");
  auto permission = CreatePermission(t, {peer});
  ASSERT_TRUE(permission);
  EXPECT_EQ(M(*permission).message_class(), MessageClass::kSuccess) << permission->code;
  auto bind = ChannelBind(t, 0x4000, peer);
  ASSERT_TRUE(bind);
  EXPECT_EQ(M(*bind).message_class(), MessageClass::kSuccess) << bind->code;
  // Signed errors too (437: no allocation on this 5-tuple).
  FiveTuple other_port = From("192.0.2.10", 40001);
  auto mismatch = Send(Authed(Method::kRefresh, other_port, nullptr), other_port);
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->code, 437);
  // A second allocation from the same IP with credentials already in hand.
  auto second = Send(Authed(Method::kAllocate, other_port, [](MessageBuilder& b) { b.AddRequestedTransport(17); }),
                     other_port);
  ASSERT_TRUE(second);
  EXPECT_EQ(M(*second).message_class(), MessageClass::kSuccess) << second->code;
  // A stale nonce with valid credentials is answered (438 is signed).
  FiveTuple third_port = From("192.0.2.10", 40002);
  Credentials c = Rest("alice", &third_port);
  unix_now_ += 601;
  auto stale = Send(Request(Method::kAllocate, Tid(tid_++), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &c),
                    third_port);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->code, 438);
  EXPECT_TRUE(VerifyMessageIntegrity(M(*stale), c.key));
  EXPECT_EQ(dropped(), dropped_before);
  // And the data path is untouched.
  Bytes frame(16);
  frame.resize(WriteChannelData(frame, 0x4000, Bytes{1, 2, 3}, false));
  EXPECT_EQ(server_->HandleClient(frame, t, now_).kind, OutputKind::kToPeer);
  // Unauthenticated requests from the IP are still refused.
  EXPECT_FALSE(Answered(t));
  EXPECT_EQ(dropped(), dropped_before + 1);
}

TEST_F(UnauthLimitTest, BeyondMaxSourcesNewIpsShareOneOverflowBucket) {
  unauth_.max_sources = 2;
  Rebuild();
  FiveTuple ip1 = From("192.0.2.1"), ip2 = From("192.0.2.2"), ip3 = From("192.0.2.3"), ip4 = From("192.0.2.4");
  EXPECT_TRUE(Answered(ip1));  // tracked
  EXPECT_TRUE(Answered(ip2));  // tracked: the table is full now
  EXPECT_EQ(Answers(ip3, 4), 3);  // the overflow bucket's burst
  EXPECT_FALSE(Answered(ip4));    // shares the exhausted overflow bucket
  EXPECT_FALSE(Answered(From("2001:db8::4")));
  EXPECT_EQ(dropped(), 3u);
  // The tracked IPs keep their own buckets.
  EXPECT_EQ(Answers(ip1, 3), 2);
  EXPECT_EQ(Answers(ip2, 3), 2);
  // The overflow bucket refills like any other, for whichever untracked IP comes first.
  now_ += 500;
  EXPECT_TRUE(Answered(ip4));
  EXPECT_FALSE(Answered(ip3));
}

TEST_F(UnauthLimitTest, SweepForgetsOnlyRefilledBuckets) {
  FiveTuple t = From("192.0.2.10");
  EXPECT_EQ(Answers(t, 4), 3);
  // Two of three tokens back: not full, so kept (a forgotten bucket would start full: 3).
  now_ += 1000;
  EXPECT_EQ(server_->Sweep(now_), 0u);
  EXPECT_EQ(Answers(t, 3), 2);
  // A full refill, then Sweep: the IP starts over with the whole burst.
  now_ += 10 * kSecond;
  EXPECT_EQ(server_->Sweep(now_), 0u);
  EXPECT_EQ(Answers(t, 4), 3);
}

TEST_F(UnauthLimitTest, SweepFreesTrackingSlotsForNewIps) {
  unauth_.max_sources = 1;
  Rebuild();
  FiveTuple ip1 = From("192.0.2.1"), ip2 = From("192.0.2.2"), ip3 = From("192.0.2.3");
  EXPECT_EQ(Answers(ip1, 4), 3);  // ip1 holds the only slot
  now_ += 2 * kSecond;            // ip1's bucket has refilled, but nobody swept yet
  EXPECT_EQ(Answers(ip2, 4), 3);  // the overflow bucket
  EXPECT_FALSE(Answered(ip3));    // overflow exhausted
  EXPECT_EQ(server_->Sweep(now_), 0u);
  // ip1's full bucket was forgotten: ip3 gets the slot and a bucket of its own.
  EXPECT_EQ(Answers(ip3, 4), 3);
  // ip1 and ip2 are untracked now and share the still empty overflow bucket.
  EXPECT_FALSE(Answered(ip1));
  EXPECT_FALSE(Answered(ip2));
}

TEST_F(UnauthLimitTest, ZeroPerSecondIsUnlimited) {
  unauth_.per_second = 0;
  unauth_.max_sources = 1;
  Rebuild();
  EXPECT_EQ(Answers(From("192.0.2.10"), 1000), 1000);
  EXPECT_EQ(Answers(From("192.0.2.11"), 10), 10);
  for (int i = 0; i < 50; ++i) {
    auto c = Challenge(From("192.0.2.12"));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->code, 401);
  }
  EXPECT_EQ(dropped(), 0u);
}

}  // namespace
}  // namespace palaver::turn

namespace palaver::turn {
namespace {

TEST_F(UnauthLimitTest, RefusedCredentialsAreLoggedOnlyWithinTheBudget) {
  FiveTuple t = From("192.0.2.77");
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    Credentials wrong = Rest("alice", &t);
    wrong.key = MakeLongTermKey(wrong.username, wrong.realm, "guess");
    auto r = Send(Request(Method::kAllocate, Tid(tid_++), [](MessageBuilder& b) { b.AddRequestedTransport(17); }, &wrong),
                  t);
    answered += r ? 1 : 0;
  }
  EXPECT_EQ(answered, 3);  // the burst
  EXPECT_EQ(EventsOf(EventKind::kRefused).size(), 3u);  // a guesser cannot flood the log either
}

}  // namespace
}  // namespace palaver::turn
