// Credentials: TURN REST usernames and passwords (coturn-compatible), the long-term key,
// stateless nonces, and the authentication of requests.
#include <gtest/gtest.h>

#include "auth.hpp"
#include "palaver/sdk/services/turn_credentials.hpp"
#include "test_util.hpp"

namespace palaver::turn {
namespace {

using testing::Bytes;
using testing::Credentials;
using testing::Request;
using testing::Tid;

constexpr int64_t kNow = 1'700'000'000;

TEST(RestUsername, ParsesTheFormsCoturnAccepts) {
  auto a = ParseRestUsername("1700086400:alice");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->expiry, 1700086400);
  EXPECT_EQ(a->user, "alice");
  auto b = ParseRestUsername("alice:1700086400");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->expiry, 1700086400);
  EXPECT_EQ(b->user, "alice");
  auto c = ParseRestUsername("1700086400");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "");
  auto d = ParseRestUsername("1700086400:alice:desk");  // the user part may hold colons
  ASSERT_TRUE(d);
  EXPECT_EQ(d->user, "alice:desk");
  auto e = ParseRestUsername("1700086400:");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->user, "");
}

TEST(RestUsername, RejectsNonNumericExpiries) {
  for (const char* bad : {"", "alice", "alice:bob", ":alice", ":1700086400", "17000x:alice", "alice:17000x",
                          "-1:alice", "1234567890123456789:alice"}) {
    EXPECT_FALSE(ParseRestUsername(bad)) << bad;
  }
}

TEST(RestPassword, MatchesTheCredentialsSignalingHandsOut) {
  // The SDK's MakeTurnCredential is what `signaling` gives browsers; the relay must accept it.
  sdk::TurnCredential c = sdk::MakeTurnCredential("s3cret", "alice", kNow, 86400, {});
  EXPECT_EQ(c.username, "1700086400:alice");
  EXPECT_EQ(RestPassword("s3cret", c.username), c.password);
  EXPECT_NE(RestPassword("other", c.username), c.password);
  // base64 of a 20-byte HMAC-SHA1.
  EXPECT_EQ(c.password.size(), 28u);
  // A guest's: the mark is part of what the HMAC covers.
  sdk::TurnCredential g = sdk::MakeTurnCredential("s3cret", "Gx=@1.kwmguest", kNow, 86400, {}, sdk::TurnUser::kGuest);
  EXPECT_EQ(g.username, "1700086400:guest/Gx=@1.kwmguest");
  EXPECT_EQ(RestPassword("s3cret", g.username), g.password);
  EXPECT_NE(RestPassword("s3cret", "1700086400:Gx=@1.kwmguest"), g.password);
}

TEST(LongTermKey, IsMd5OfUsernameRealmPassword) {
  // MD5("user:realm:pass") = 8493fbc53ba582fb4c044c456bdc40eb
  LongTermKey k = MakeLongTermKey("user", "realm", "pass");
  Bytes expected = testing::FromHex("8493fbc53ba582fb4c044c456bdc40eb");
  EXPECT_EQ(Bytes(k.begin(), k.end()), expected);
}

class AuthTest : public ::testing::Test {
 protected:
  AuthTest() : auth_(Options()) {}

  AuthOptions Options() {
    AuthOptions o;
    o.realm = "palaver";
    o.secrets = {"s3cret", "previous"};
    o.static_users = {{"sipphone", "hunter2"}, {"1700000000:static", "pw"}};
    o.nonce_key = "0123456789abcdef0123456789abcdef";
    o.now = [this] { return now_; };
    return o;
  }

  Credentials Rest(std::string_view secret, std::string_view user, int64_t ttl = 86400) {
    Credentials c;
    c.username = std::to_string(now_ + ttl) + ":" + std::string(user);
    c.realm = "palaver";
    c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
    c.key = MakeLongTermKey(c.username, c.realm, RestPassword(secret, c.username));
    return c;
  }

  AuthResult Check(const Credentials* c, const std::function<void(MessageBuilder&)>& extra = nullptr) {
    Bytes req = Request(Method::kAllocate, Tid(1), [&](MessageBuilder& b) {
      b.AddRequestedTransport(kProtocolUdp);
      if (extra) extra(b);
    }, c);
    auto m = StunMessage::Parse(req);
    EXPECT_TRUE(m);
    return auth_.Check(*m, client_, Transport::kUdp);
  }

  int64_t now_ = kNow;
  Address client_ = *Address::Parse("192.0.2.10:40000");
  Authenticator auth_;
};

TEST_F(AuthTest, NonceRoundTripsAndIsPrintable) {
  std::string n = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(n.size(), 34u);
  for (char c : n) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << n;
  EXPECT_EQ(n.rfind("obMatJos2", 0), std::string::npos);  // never claims RFC 8489 security features
  EXPECT_EQ(auth_.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kOk);
  now_ += 600;
  EXPECT_EQ(auth_.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kOk);
  now_ += 1;
  EXPECT_EQ(auth_.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kStale);
}

TEST_F(AuthTest, NonceIsBoundToClientAndTransport) {
  std::string n = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(auth_.CheckNonce(n, client_.WithPort(40001), Transport::kUdp), NonceStatus::kBad);
  EXPECT_EQ(auth_.CheckNonce(n, *Address::Parse("192.0.2.11:40000"), Transport::kUdp), NonceStatus::kBad);
  EXPECT_EQ(auth_.CheckNonce(n, client_, Transport::kTcp), NonceStatus::kBad);
}

TEST_F(AuthTest, ForgedNoncesAreBadNotStale) {
  std::string n = auth_.MakeNonce(client_, Transport::kUdp);
  for (size_t i = 0; i < n.size(); ++i) {
    std::string f = n;
    f[i] = f[i] == 'a' ? 'b' : 'a';
    EXPECT_EQ(auth_.CheckNonce(f, client_, Transport::kUdp), NonceStatus::kBad) << i;
  }
  // A later expiry with the old MAC: bad, even after the real nonce went stale.
  std::string later = n;
  later[5] = later[5] == 'f' ? 'e' : 'f';
  now_ += 10000;
  EXPECT_EQ(auth_.CheckNonce(later, client_, Transport::kUdp), NonceStatus::kBad);
  EXPECT_EQ(auth_.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kStale);
  EXPECT_EQ(auth_.CheckNonce("", client_, Transport::kUdp), NonceStatus::kBad);
  EXPECT_EQ(auth_.CheckNonce(n + "x", client_, Transport::kUdp), NonceStatus::kBad);
  std::string upper = n;
  for (size_t i = 0; i < 12; ++i) upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  if (upper != n) {
    EXPECT_EQ(auth_.CheckNonce(upper, client_, Transport::kUdp), NonceStatus::kBad);
  }
  // Another key (a restarted server) does not accept ours.
  AuthOptions o = Options();
  o.nonce_key = "another key";
  Authenticator other(std::move(o));
  EXPECT_EQ(other.CheckNonce(auth_.MakeNonce(client_, Transport::kUdp), client_, Transport::kUdp), NonceStatus::kBad);
}

TEST_F(AuthTest, RandomNonceKeyWhenNoneIsGiven) {
  AuthOptions o = Options();
  o.nonce_key.clear();
  Authenticator a(o);
  Authenticator b(o);
  std::string n = a.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(a.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kOk);
  EXPECT_EQ(b.CheckNonce(n, client_, Transport::kUdp), NonceStatus::kBad);
}

TEST_F(AuthTest, NoIntegrityIsAChallenge) {
  EXPECT_EQ(Check(nullptr).status, AuthStatus::kChallenge);
}

TEST_F(AuthTest, AcceptsRestCredentials) {
  Credentials c = Rest("s3cret", "alice");
  AuthResult r = Check(&c);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_EQ(r.username, c.username);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.key, c.key);
  EXPECT_FALSE(r.sha256);
}

TEST_F(AuthTest, MarksGuestsByTheirUserPart) {
  Credentials member = Rest("s3cret", "alice");
  EXPECT_FALSE(Check(&member).guest);
  Credentials g = Rest("s3cret", "guest/gina");
  AuthResult r = Check(&g);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_TRUE(r.guest);
  EXPECT_EQ(r.user, "guest/gina");  // its own quota identity
  Credentials inner = Rest("s3cret", "alice/guest/x");  // the mark counts only at the start
  EXPECT_FALSE(Check(&inner).guest);
  Credentials old_order = Rest("s3cret", "x");
  old_order.username = "guest/gina:" + std::to_string(now_ + 60);  // coturn's older order
  old_order.key = MakeLongTermKey(old_order.username, old_order.realm, RestPassword("s3cret", old_order.username));
  r = Check(&old_order);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_TRUE(r.guest);
  Credentials static_user;  // static users are never guests
  static_user.username = "sipphone";
  static_user.realm = "palaver";
  static_user.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  static_user.key = MakeLongTermKey("sipphone", "palaver", "hunter2");
  r = Check(&static_user);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_FALSE(r.guest);
}

TEST_F(AuthTest, AcceptsEverySecretForRotation) {
  Credentials c = Rest("previous", "bob");
  AuthResult r = Check(&c);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_EQ(r.user, "bob");
}

TEST_F(AuthTest, AcceptsWhatTurnutilsUclientSends) {
  // turnutils_uclient -W s3cret -u bench: username "<now + 86400>:bench".
  Credentials c = Rest("s3cret", "bench", 86400);
  EXPECT_EQ(c.username, "1700086400:bench");
  EXPECT_EQ(Check(&c).status, AuthStatus::kOk);
  // The older order coturn also takes.
  Credentials d;
  d.username = "bench:1700086400";
  d.realm = "palaver";
  d.nonce = c.nonce;
  d.key = MakeLongTermKey(d.username, d.realm, RestPassword("s3cret", d.username));
  AuthResult r = Check(&d);
  EXPECT_EQ(r.status, AuthStatus::kOk);
  EXPECT_EQ(r.user, "bench");
}

TEST_F(AuthTest, AcceptsMessageIntegritySha256) {
  Credentials c = Rest("s3cret", "alice");
  c.sha256 = true;
  AuthResult r = Check(&c);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_TRUE(r.sha256);
}

TEST_F(AuthTest, RefusesExpiredRestCredentials) {
  Credentials c = Rest("s3cret", "alice", 60);
  EXPECT_EQ(Check(&c).status, AuthStatus::kOk);
  now_ += 60;
  c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(Check(&c).status, AuthStatus::kOk);  // valid through the expiry second
  now_ += 1;
  c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(Check(&c).status, AuthStatus::kUnauthorized);
}

TEST_F(AuthTest, RefusesWrongSecretUserRealmAndKey) {
  Credentials wrong_secret = Rest("guess", "alice");
  EXPECT_EQ(Check(&wrong_secret).status, AuthStatus::kUnauthorized);

  Credentials not_rest = Rest("s3cret", "alice");
  not_rest.username = "alice";
  not_rest.key = MakeLongTermKey("alice", "palaver", RestPassword("s3cret", "alice"));
  EXPECT_EQ(Check(&not_rest).status, AuthStatus::kUnauthorized);

  Credentials wrong_realm = Rest("s3cret", "alice");
  wrong_realm.realm = "other";
  wrong_realm.key = MakeLongTermKey(wrong_realm.username, "other", RestPassword("s3cret", wrong_realm.username));
  EXPECT_EQ(Check(&wrong_realm).status, AuthStatus::kUnauthorized);

  Credentials wrong_key = Rest("s3cret", "alice");
  wrong_key.key[0] ^= 1;
  EXPECT_EQ(Check(&wrong_key).status, AuthStatus::kUnauthorized);
}

TEST_F(AuthTest, StaleAndForgedNoncesWithGoodCredentialsAre438) {
  Credentials c = Rest("s3cret", "alice", 86400);
  now_ += 601;  // the nonce (made at kNow) is stale, the credential is not
  AuthResult stale = Check(&c);
  EXPECT_EQ(stale.status, AuthStatus::kStaleNonce);
  EXPECT_EQ(stale.key, c.key);  // to sign the 438
  c.nonce = "000000000000AAAAAAAAAAAAAAAAAAAAAA";
  EXPECT_EQ(Check(&c).status, AuthStatus::kStaleNonce);
  c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(Check(&c).status, AuthStatus::kOk);
}

TEST_F(AuthTest, BadNonceWithBadCredentialsIsUnauthorized) {
  Credentials c = Rest("guess", "alice");
  c.nonce = "forged";
  EXPECT_EQ(Check(&c).status, AuthStatus::kUnauthorized);
}

TEST_F(AuthTest, StaticUsers) {
  Credentials c;
  c.username = "sipphone";
  c.realm = "palaver";
  c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  c.key = MakeLongTermKey("sipphone", "palaver", "hunter2");
  AuthResult r = Check(&c);
  ASSERT_EQ(r.status, AuthStatus::kOk);
  EXPECT_EQ(r.user, "sipphone");
  c.key = MakeLongTermKey("sipphone", "palaver", "hunter3");
  EXPECT_EQ(Check(&c).status, AuthStatus::kUnauthorized);

  // A static name that looks like a REST username is still the static user (and never expires).
  c.username = "1700000000:static";
  c.key = MakeLongTermKey(c.username, "palaver", "pw");
  now_ += 1000000;
  c.nonce = auth_.MakeNonce(client_, Transport::kUdp);
  EXPECT_EQ(Check(&c).status, AuthStatus::kOk);
}

TEST_F(AuthTest, MissingOrOversizedAttributesAreBadRequests) {
  Credentials c = Rest("s3cret", "alice");
  LongTermKey key = c.key;
  auto only = [&](bool user, bool realm, bool nonce) {
    Bytes req = Request(Method::kAllocate, Tid(2), [&](MessageBuilder& b) {
      if (user) b.AddString(attr::kUsername, c.username);
      if (realm) b.AddString(attr::kRealm, c.realm);
      if (nonce) b.AddString(attr::kNonce, c.nonce);
      b.AddMessageIntegrity(key);
    });
    return auth_.Check(*StunMessage::Parse(req), client_, Transport::kUdp).status;
  };
  EXPECT_EQ(only(true, true, true), AuthStatus::kOk);
  EXPECT_EQ(only(false, true, true), AuthStatus::kBadRequest);
  EXPECT_EQ(only(true, false, true), AuthStatus::kBadRequest);
  EXPECT_EQ(only(true, true, false), AuthStatus::kBadRequest);

  Credentials big = c;
  big.username = std::string(509, 'u');
  EXPECT_EQ(Check(&big).status, AuthStatus::kBadRequest);
  big = c;
  big.nonce = std::string(764, 'n');
  EXPECT_EQ(Check(&big).status, AuthStatus::kBadRequest);
}

TEST_F(AuthTest, UserhashAloneIsUnauthorized) {
  // We never offer username anonymity, so a USERHASH names nobody.
  Credentials c = Rest("s3cret", "alice");
  Bytes req = Request(Method::kAllocate, Tid(3), [&](MessageBuilder& b) {
    b.Add(attr::kUserhash, Bytes(32, 0x11)).AddString(attr::kRealm, c.realm).AddString(attr::kNonce, c.nonce);
    b.AddMessageIntegrity(c.key);
  });
  EXPECT_EQ(auth_.Check(*StunMessage::Parse(req), client_, Transport::kUdp).status, AuthStatus::kUnauthorized);
}

TEST_F(AuthTest, PasswordAlgorithmAttributesAreIgnoredWithoutTheNonceCookie) {
  Credentials c = Rest("s3cret", "alice");
  AuthResult r = Check(&c, [](MessageBuilder& b) {
    uint8_t md5[] = {0x00, 0x01, 0x00, 0x00};
    b.Add(attr::kPasswordAlgorithm, md5);
  });
  EXPECT_EQ(r.status, AuthStatus::kOk);
}

TEST_F(AuthTest, NoSecretsMeansNoRestCredentials) {
  AuthOptions o = Options();
  o.secrets.clear();
  Authenticator none(o);
  Credentials c = Rest("s3cret", "alice");
  Bytes req = Request(Method::kAllocate, Tid(1), nullptr, &c);
  EXPECT_EQ(none.Check(*StunMessage::Parse(req), client_, Transport::kUdp).status, AuthStatus::kUnauthorized);
}

TEST_F(AuthTest, RotatedSecretAcceptsOnlyCredentialsFromBeforeTheRotation) {
  // Rotated at now_ with a one-hour credential lifetime: the old secret still opens credentials
  // expiring within the hour (handed out before), not later ones (minted by a holder of it since).
  auth_.SetSecrets({"fresh-secret"}, {{"s3cret", now_ + 3600}});
  Credentials handed_out = Rest("s3cret", "alice", 3000);
  EXPECT_EQ(Check(&handed_out).status, AuthStatus::kOk);
  Credentials minted_later = Rest("s3cret", "mallory", 7200);
  AuthResult r = Check(&minted_later);
  EXPECT_EQ(r.status, AuthStatus::kUnauthorized);
  EXPECT_EQ(r.failure, AuthFailure::kWrongPassword);
  Credentials fresh = Rest("fresh-secret", "bob", 7200);
  EXPECT_EQ(Check(&fresh).status, AuthStatus::kOk);
  // Once the window has passed, every old-secret credential has expired anyway.
  now_ += 3601;
  Credentials old = Rest("s3cret", "alice", 60);
  EXPECT_EQ(Check(&old).status, AuthStatus::kUnauthorized);
  // The secret the rotation replaced ("previous") is no longer accepted at all.
  Credentials gone = Rest("previous", "bob");
  EXPECT_EQ(Check(&gone).status, AuthStatus::kUnauthorized);
}

}  // namespace
}  // namespace palaver::turn
