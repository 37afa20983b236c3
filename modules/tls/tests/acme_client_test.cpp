// AcmeClient against an in-memory fake ACME CA: no sockets, no clock, no sleeps.
#include "acme_client.hpp"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "acme_jws.hpp"
#include "acme_state.hpp"
#include "identity.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::tls {
namespace {

using Clock = std::chrono::system_clock;
using JsonObject = Poco::JSON::Object::Ptr;

JsonObject ParseJson(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<JsonObject>();
}

AcmeHttpResponse Answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  AcmeHttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string Problem(const std::string& type, const std::string& detail) {
  return R"({"type":"urn:ietf:params:acme:error:)" + type + R"(","detail":")" + detail + R"("})";
}

// Records the answers the client presents (like palaverd's listeners would serve them).
class RecordingResponder final : public AcmeChallengeResponder {
 public:
  Status Present(const std::string& type, const std::string& name, const std::string& token,
                 const std::string& key_authorization) override {
    presented.push_back(type + " " + name);
    return challenges.Present(type, name, token, key_authorization);
  }
  void Clear() override {
    ++clears;
    challenges.Clear();
  }
  AcmeChallenges challenges;
  std::vector<std::string> presented;
  int clears = 0;
};

// A small ACME CA in memory (RFC 8555 server side, as far as the client needs it). It checks every
// JWS: signature with the account key, a nonce it issued (once), the url, jwk vs kid.
class FakeCa final : public AcmeTransport {
 public:
  FakeCa(EVP_PKEY& account_key, RecordingResponder& responder) : account_key_(account_key), responder_(responder) {
    ca_key_ = *GenerateKey();
    ca_ = *IssueCaCertificate(*ca_key_, {"example.test"}, Clock::now());
  }

  // Knobs.
  int bad_nonces = 0;              // answer this many POSTs with badNonce first
  bool rate_limit_orders = false;  // newOrder answers 429 rateLimited with Retry-After
  bool fail_validation = false;    // challenges end invalid
  int processing_polls = 0;        // after finalize the order stays processing this long (Retry-After: 3)
  bool offer_ari = false;
  bool eab_required = false;
  bool forgot_accounts = false;    // requests with a kid answer accountDoesNotExist
  std::vector<std::string> offered{"http-01", "tls-alpn-01"};

  // Records.
  int new_accounts = 0;
  int new_orders = 0;
  int finalizes = 0;
  int posts = 0;
  std::string last_replaces;
  std::string last_contact;
  bool last_had_eab = false;
  std::vector<std::string> errors;  // JWS problems the fake found in the client's requests

  Result<AcmeHttpResponse> Send(const std::string& method, const std::string& url, const std::string& body) override {
    if (down) return Fail(ErrorCode::kUnavailable, "connection refused");
    if (method == "GET" && url == kBase + "/dir") {
      std::string dir = R"({"newNonce":")" + kBase + R"(/nonce","newAccount":")" + kBase + R"(/account","newOrder":")" +
                        kBase + R"(/order","meta":{"termsOfService":"https://ca.test/tos","externalAccountRequired":)" +
                        (eab_required ? "true" : "false") + "}";
      if (offer_ari) dir += R"(,"renewalInfo":")" + kBase + R"(/ari")";
      return Answer(200, dir + "}");
    }
    if (method == "HEAD" && url == kBase + "/nonce") return Answer(200, "", {{"replay-nonce", NewNonce()}});
    if (method == "GET" && url.rfind(kBase + "/ari/", 0) == 0) {
      ari_requests.push_back(url.substr(kBase.size() + 5));
      return Answer(200, R"({"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"}})",
                    {{"retry-after", "21600"}});
    }
    if (method != "POST") return Answer(404, "");
    ++posts;
    return Post(url, body);
  }

  bool down = false;
  std::vector<std::string> ari_requests;
  std::string Base() const { return kBase; }

 private:
  const std::string kBase = "https://ca.test";

  std::string NewNonce() {
    std::string n = "n" + std::to_string(next_nonce_++);
    nonces_.insert(n);
    return n;
  }

  AcmeHttpResponse Error(int status, const std::string& type, const std::string& detail,
                         std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("replay-nonce", NewNonce());
    extra.emplace_back("content-type", "application/problem+json");
    return Answer(status, Problem(type, detail), extra);
  }

  AcmeHttpResponse Ok(int status, std::string body, std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("replay-nonce", NewNonce());
    return Answer(status, std::move(body), extra);
  }

  Result<AcmeHttpResponse> Post(const std::string& url, const std::string& body) {
    JsonObject jws = ParseJson(body);
    std::string protected_b64 = jws->getValue<std::string>("protected");
    std::string payload_b64 = jws->getValue<std::string>("payload");
    std::string sig = *sdk::Base64UrlDecode(jws->getValue<std::string>("signature"));
    JsonObject header = ParseJson(*sdk::Base64UrlDecode(protected_b64));
    std::string payload = *sdk::Base64UrlDecode(payload_b64);
    if (header->getValue<std::string>("alg") != "ES256") errors.push_back("alg");
    if (header->getValue<std::string>("url") != url) errors.push_back("url mismatch");
    if (!VerifyEs256(account_key_, protected_b64 + "." + payload_b64, sig)) errors.push_back("bad signature");
    bool is_new_account = url == kBase + "/account";
    if (is_new_account != header->has("jwk") || is_new_account == header->has("kid")) errors.push_back("jwk/kid");
    if (header->has("kid") && header->getValue<std::string>("kid") != kBase + "/acct/1") errors.push_back("kid");
    std::string nonce = header->getValue<std::string>("nonce");
    if (nonces_.erase(nonce) == 0) {
      errors.push_back("nonce reused");
      return Error(400, "badNonce", "unknown nonce");
    }
    if (forgot_accounts && header->has("kid")) return Error(400, "accountDoesNotExist", "no such account");
    if (bad_nonces > 0) {
      --bad_nonces;
      return Error(400, "badNonce", "JWS has an invalid anti-replay nonce");
    }
    if (is_new_account) {
      ++new_accounts;
      JsonObject p = ParseJson(payload);
      last_contact = p->getArray("contact")->getElement<std::string>(0);
      last_had_eab = p->has("externalAccountBinding");
      if (eab_required && !last_had_eab) return Error(400, "externalAccountRequired", "EAB needed");
      return Ok(201, R"({"status":"valid"})", {{"location", kBase + "/acct/1"}});
    }
    if (url == kBase + "/order") {
      if (rate_limit_orders) {
        return Error(429, "rateLimited", "too many certificates already issued for example.test",
                     {{"retry-after", "3600"}});
      }
      ++new_orders;
      JsonObject p = ParseJson(payload);
      last_replaces = p->has("replaces") ? p->getValue<std::string>("replaces") : "";
      Poco::JSON::Array::Ptr ids = p->getArray("identifiers");
      int order_id = new_orders;
      Order& o = orders_[order_id];
      for (size_t i = 0; i < ids->size(); ++i) {
        std::string name = ids->getObject(static_cast<unsigned>(i))->getValue<std::string>("value");
        o.names.push_back(name);
        int authz_id = static_cast<int>(authzs_.size()) + 1;
        authzs_[authz_id] = Authz{name, "pending", "tok" + std::to_string(authz_id), "pending", ""};
        o.authzs.push_back(authz_id);
      }
      return Ok(201, OrderJson(order_id), {{"location", kBase + "/order/" + std::to_string(order_id)}});
    }
    if (url.rfind(kBase + "/order/", 0) == 0) {  // POST-as-GET of an order
      int id = std::stoi(url.substr(kBase.size() + 7));
      Order& o = orders_[id];
      std::vector<std::pair<std::string, std::string>> extra;
      if (o.status == "processing") {
        extra.emplace_back("retry-after", "3");
        if (--o.processing_left <= 0) o.status = "valid";
      }
      return Ok(200, OrderJson(id), extra);
    }
    if (url.rfind(kBase + "/authz/", 0) == 0) {
      int id = std::stoi(url.substr(kBase.size() + 7));
      return Ok(200, AuthzJson(id));
    }
    if (url.rfind(kBase + "/chall/", 0) == 0) {
      int id = std::stoi(url.substr(kBase.size() + 7, url.rfind('/') - kBase.size() - 7));
      std::string type = url.substr(url.rfind('/') + 1);
      Authz& a = authzs_[id];
      if (payload != "{}") errors.push_back("challenge payload");
      // Validate the way a CA does: fetch the answer the client put up.
      std::string expected = a.token + "." + *JwkThumbprint(account_key_);
      bool answered = type == "http-01" ? responder_.challenges.HttpAnswer(a.token) == expected
                                        : responder_.challenges.TlsAlpnIdentity(a.name) != nullptr;
      if (fail_validation || !answered) {
        a.status = "invalid";
        a.chall_status = "invalid";
        a.error = Problem("connection", "127.0.0.1: Connection refused");
      } else {
        a.status = "valid";
        a.chall_status = "valid";
      }
      a.validated_with = type;
      for (auto& [oid, o] : orders_) {
        bool all = true;
        for (int az : o.authzs) all = all && authzs_[az].status == "valid";
        if (o.status == "pending" && all) o.status = "ready";
        if (a.status == "invalid") o.status = "invalid";
      }
      return Ok(200, R"({"type":")" + type + R"(","status":"processing"})");
    }
    if (url.rfind(kBase + "/finalize/", 0) == 0) {
      ++finalizes;
      int id = std::stoi(url.substr(kBase.size() + 10));
      Order& o = orders_[id];
      if (o.status != "ready") return Error(403, "orderNotReady", "order is " + o.status);
      std::string der = *sdk::Base64UrlDecode(ParseJson(payload)->getValue<std::string>("csr"));
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
      X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
      if (req == nullptr) return Error(400, "badCSR", "not DER");
      EVP_PKEY* leaf_key = X509_REQ_get_pubkey(req);
      X509Ptr leaf = *IssueServerCertificate(*ca_, *ca_key_, *leaf_key, o.names, Clock::now(), std::chrono::days(90));
      EVP_PKEY_free(leaf_key);
      X509_REQ_free(req);
      o.chain = *CertificateToPem(*leaf) + *CertificateToPem(*ca_);
      o.status = processing_polls > 0 ? "processing" : "valid";
      o.processing_left = processing_polls;
      return Ok(200, OrderJson(id));
    }
    if (url.rfind(kBase + "/cert/", 0) == 0) {
      int id = std::stoi(url.substr(kBase.size() + 6));
      return Ok(200, orders_[id].chain, {{"content-type", "application/pem-certificate-chain"}});
    }
    return Error(404, "malformed", "no such resource");
  }

  struct Order {
    std::vector<std::string> names;
    std::vector<int> authzs;
    std::string status = "pending";
    int processing_left = 0;
    std::string chain;
  };
  struct Authz {
    std::string name;
    std::string status;
    std::string token;
    std::string chall_status;
    std::string error;
    std::string validated_with;
  };

  std::string OrderJson(int id) {
    Order& o = orders_[id];
    std::string authz;
    for (int a : o.authzs) authz += (authz.empty() ? "\"" : ",\"") + kBase + "/authz/" + std::to_string(a) + "\"";
    std::string out = R"({"status":")" + o.status + R"(","authorizations":[)" + authz + R"(],"finalize":")" + kBase +
                      "/finalize/" + std::to_string(id) + "\"";
    if (o.status == "valid") out += R"(,"certificate":")" + kBase + "/cert/" + std::to_string(id) + "\"";
    if (o.status == "invalid") out += R"(,"error":)" + Problem("unauthorized", "authorizations failed");
    return out + "}";
  }

  std::string AuthzJson(int id) {
    Authz& a = authzs_[id];
    std::string challs;
    for (const auto& type : offered) {
      std::string status = a.validated_with == type ? a.chall_status : "pending";
      challs += std::string(challs.empty() ? "" : ",") + R"({"type":")" + type + R"(","url":")" + kBase + "/chall/" +
                std::to_string(id) + "/" + type + R"(","token":")" + a.token + R"(","status":")" + status + "\"" +
                (a.validated_with == type && !a.error.empty() ? ",\"error\":" + a.error : "") + "}";
    }
    return R"({"identifier":{"type":"dns","value":")" + a.name + R"("},"status":")" + a.status +
           R"(","challenges":[)" + challs + "]}";
  }

  EVP_PKEY& account_key_;
  RecordingResponder& responder_;
  EvpPkeyPtr ca_key_;
  X509Ptr ca_;
  std::set<std::string> nonces_;
  int next_nonce_ = 1;
  std::map<int, Order> orders_;
  std::map<int, Authz> authzs_;
};

class MemoryJournal final : public AcmeOrderJournal {
 public:
  std::optional<AcmePendingOrder> Load() override { return order; }
  Status Save(const AcmePendingOrder& o) override {
    order = o;
    ++saves;
    return OkStatus();
  }
  std::optional<AcmePendingOrder> order;
  int saves = 0;
};

class AcmeClientTest : public ::testing::Test {
 protected:
  AcmeClientTest() : key_(*GenerateKey()), ca_(*key_, responder_) {}

  AcmeClient MakeClient() {
    AcmeEnvironment env{[] { return Clock::from_time_t(1'800'000'000); },
                        [this](std::chrono::milliseconds d) { sleeps_.push_back(d); }};
    return AcmeClient(ca_, ca_.Base() + "/dir", *key_, env);
  }

  EvpPkeyPtr key_;
  RecordingResponder responder_;
  FakeCa ca_;
  MemoryJournal journal_;
  std::vector<std::chrono::milliseconds> sleeps_;
  const std::vector<std::string> names_{"meet.example.test", "turn.example.test"};
};

TEST_F(AcmeClientTest, IssuesForTwoNamesViaHttp01) {
  AcmeClient client = MakeClient();
  Result<std::string> account = client.Register("ops@example.test", true, std::nullopt);
  ASSERT_TRUE(account) << account.error().message;
  EXPECT_EQ(*account, ca_.Base() + "/acct/1");
  EXPECT_EQ(ca_.last_contact, "mailto:ops@example.test");
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01", "tls-alpn-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_TRUE(ca_.errors.empty()) << ca_.errors.front();
  EXPECT_EQ(responder_.presented,
            (std::vector<std::string>{"http-01 meet.example.test", "http-01 turn.example.test"}));
  EXPECT_GE(responder_.clears, 1);
  EXPECT_FALSE(responder_.challenges.HttpAnswer("tok1"));  // answers are withdrawn afterwards
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(issued->chain_pem, issued->key_pem, "acme");
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_EQ((*identity)->intermediates.size(), 1u);
  EXPECT_EQ(ca_.new_orders, 1);
  EXPECT_EQ(journal_.saves, 1);
  EXPECT_FALSE(issued->resumed);
}

TEST_F(AcmeClientTest, PrefersTlsAlpn01WhenAskedTo) {
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"tls-alpn-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(responder_.presented,
            (std::vector<std::string>{"tls-alpn-01 meet.example.test", "tls-alpn-01 turn.example.test"}));
}

TEST_F(AcmeClientTest, ReportsAChallengeTypeTheCaDoesNotOffer) {
  ca_.offered = {"dns-01"};
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01", "tls-alpn-01"}, ""}, responder_, journal_);
  ASSERT_FALSE(issued);
  EXPECT_NE(issued.error().message.find("no usable challenge for meet.example.test (offered: dns-01)"),
            std::string::npos) << issued.error().message;
}

TEST_F(AcmeClientTest, RetriesBadNonceWithTheFreshNonce) {
  ca_.bad_nonces = 3;
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(client.BadNonceRetries(), 3);
  EXPECT_TRUE(ca_.errors.empty()) << ca_.errors.front();
}

TEST_F(AcmeClientTest, GivesUpAfterTooManyBadNonces) {
  ca_.bad_nonces = 100;
  AcmeClient client = MakeClient();
  Result<std::string> account = client.Register("ops@example.test", true, std::nullopt);
  ASSERT_FALSE(account);
  EXPECT_NE(account.error().message.find("urn:ietf:params:acme:error:badNonce"), std::string::npos);
  EXPECT_EQ(client.BadNonceRetries(), AcmeClient::kMaxBadNonceRetries);
}

TEST_F(AcmeClientTest, RateLimitIsAClearErrorWithRetryAfter) {
  ca_.rate_limit_orders = true;
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(issued.error().message,
            "ACME CA refused newOrder: urn:ietf:params:acme:error:rateLimited: too many certificates already issued "
            "for example.test (retry after 3600 s)");
  EXPECT_EQ(client.LastRetryAfter(), std::chrono::seconds(3600));
}

TEST_F(AcmeClientTest, ValidationFailureNamesTheHostAndTheProblem) {
  ca_.fail_validation = true;
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_FALSE(issued);
  EXPECT_NE(issued.error().message.find("validation of meet.example.test failed (authorization invalid): http-01: "
                                        "urn:ietf:params:acme:error:connection: 127.0.0.1: Connection refused"),
            std::string::npos)
      << issued.error().message;
  EXPECT_EQ(ca_.finalizes, 0);
}

TEST_F(AcmeClientTest, HonoursRetryAfterWhileTheOrderIsProcessing) {
  ca_.processing_polls = 2;
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  ASSERT_FALSE(sleeps_.empty());
  EXPECT_EQ(sleeps_.back(), std::chrono::seconds(3));
}

TEST_F(AcmeClientTest, ResumesTheJournalsOrderInsteadOfOrderingAgain) {
  {
    // A first run orders, then "crashes" before finalizing: the fake refuses finalize by failing
    // validation of nothing; simulate by ordering and stopping after NewOrder.
    AcmeClient client = MakeClient();
    ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
    Result<AcmeOrder> order = client.NewOrder(names_, "");
    ASSERT_TRUE(order);
    journal_.order = AcmePendingOrder{ca_.Base() + "/dir", order->url, *PrivateKeyToPem(**GenerateKey()), names_};
  }
  AcmeClient client = MakeClient();
  client.SetAccountUrl(ca_.Base() + "/acct/1");
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_TRUE(issued->resumed);
  EXPECT_EQ(ca_.new_orders, 1);  // no second order
  // The certificate is for the journal's key.
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(issued->chain_pem, journal_.order->key_pem, "acme");
  EXPECT_TRUE(identity) << identity.error().message;
}

TEST_F(AcmeClientTest, JournalForOtherNamesIsNotResumed) {
  journal_.order = AcmePendingOrder{ca_.Base() + "/dir", ca_.Base() + "/order/99", "x", {"old.example.test"}};
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_FALSE(issued->resumed);
  EXPECT_EQ(journal_.order->names, names_);
}

TEST_F(AcmeClientTest, SendsReplacesAndReadsRenewalInfo) {
  ca_.offer_ari = true;
  AcmeClient client = MakeClient();
  ASSERT_TRUE(client.Register("ops@example.test", true, std::nullopt));
  Result<AcmeRenewalWindow> window = client.RenewalInfo("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  ASSERT_TRUE(window) << window.error().message;
  EXPECT_EQ(ca_.ari_requests, (std::vector<std::string>{"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}));
  EXPECT_EQ(Clock::to_time_t(window->start), 1893456000);  // 2030-01-01T00:00:00Z
  EXPECT_EQ(window->end - window->start, std::chrono::hours(24));
  EXPECT_EQ(window->retry_after, std::chrono::seconds(21600));
  ASSERT_TRUE(client.Issue({names_, {"http-01"}, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}, responder_, journal_));
  EXPECT_EQ(ca_.last_replaces, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST_F(AcmeClientTest, NoRenewalInfoWithoutAri) {
  AcmeClient client = MakeClient();
  Result<AcmeRenewalWindow> window = client.RenewalInfo("x.y");
  ASSERT_FALSE(window);
  EXPECT_EQ(window.error().code, ErrorCode::kUnimplemented);
}

TEST_F(AcmeClientTest, RegistrationNeedsTermsAndEabWhenRequired) {
  AcmeClient client = MakeClient();
  EXPECT_FALSE(client.Register("ops@example.test", false, std::nullopt));
  ca_.eab_required = true;
  AcmeClient eab_client = MakeClient();
  Result<std::string> refused = eab_client.Register("ops@example.test", true, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("External Account Binding"), std::string::npos);
  Result<std::string> ok =
      eab_client.Register("ops@example.test", true, AcmeEab{"kid-1", sdk::Base64UrlEncode("0123456789abcdef")});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ca_.last_had_eab);
}

TEST_F(AcmeClientTest, AnAccountTheCaForgotIsReportedAsSuch) {
  ca_.forgot_accounts = true;
  AcmeClient client = MakeClient();
  client.SetAccountUrl(ca_.Base() + "/acct/1");
  Result<AcmeIssued> issued = client.Issue({names_, {"http-01"}, ""}, responder_, journal_);
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(issued.error().message.find("urn:ietf:params:acme:error:accountDoesNotExist"), std::string::npos)
      << issued.error().message;
}

TEST_F(AcmeClientTest, UnreachableCaIsUnavailable) {
  ca_.down = true;
  AcmeClient client = MakeClient();
  Result<std::string> account = client.Register("ops@example.test", true, std::nullopt);
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(account.error().message.find("ACME CA not reachable: connection refused"), std::string::npos);
}

TEST(AcmeRetryAfter, ParsesSecondsAndHttpDates) {
  Clock::time_point now = Clock::from_time_t(1'445'412'480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:38:00 GMT", now), std::chrono::seconds(600));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), std::chrono::seconds(0));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("", now));
}

// Found by acme_fuzz (UBSan: signed overflow in system_clock::from_time_t): POCO parses an
// IMF-fixdate with a year the clock's nanoseconds cannot hold; the delay is capped instead.
TEST(AcmeRetryAfter, FarFutureDateIsCappedNotOverflowed) {
  auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  auto far = ParseRetryAfter("Wed, 21 Oct 9999 07:28:00 GMT", now);
  ASSERT_TRUE(far);
  EXPECT_EQ(*far, std::chrono::seconds(999999999));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), std::chrono::seconds(30));
}

TEST(AcmeProblem, FormatsTypeDetailAndSubproblems) {
  EXPECT_EQ(FormatProblem(
                R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some names were rejected",
                    "subproblems":[{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids",
                                    "identifier":{"type":"dns","value":"a.test"}}]})",
                400),
            "urn:ietf:params:acme:error:rejectedIdentifier: Some names were rejected; a.test: "
            "urn:ietf:params:acme:error:caa CAA forbids");
  EXPECT_EQ(FormatProblem("<html>bad gateway</html>", 502), "HTTP 502");
}

// Found by acme_fuzz: POCO's parse error quotes the offending byte, and a directory (or order,
// authorization, problem) that was not JSON put a CA's line break into the error message and log.
class OneAnswer final : public AcmeTransport {
 public:
  explicit OneAnswer(std::string body) : body_(std::move(body)) {}
  Result<AcmeHttpResponse> Send(const std::string&, const std::string&, const std::string&) override {
    AcmeHttpResponse r;
    r.status = 200;
    r.body = body_;
    return r;
  }

 private:
  std::string body_;
};

TEST(AcmeDirectory, NotJsonErrorIsOneLine) {
  EvpPkeyPtr key = *GenerateKey();
  OneAnswer ca("1\nfake: log line");
  AcmeEnvironment env{[] { return Clock::from_time_t(1'800'000'000); }, [](std::chrono::milliseconds) {}};
  AcmeClient client(ca, "https://ca.test/dir", *key, env);
  auto status = client.LoadDirectory();
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("is not JSON"), std::string::npos) << status.error().message;
  EXPECT_EQ(status.error().message.find_first_of("\r\n"), std::string::npos) << status.error().message;
}

// Found by acme_fuzz (UBSan: signed overflow in from_time_t): a renewal window in the year 9999.
class AriCa final : public AcmeTransport {
 public:
  explicit AriCa(std::string window) : window_(std::move(window)) {}
  Result<AcmeHttpResponse> Send(const std::string&, const std::string& url, const std::string&) override {
    AcmeHttpResponse r;
    r.status = 200;
    r.body = url == "https://ca.test/dir"
                 ? R"({"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o",)"
                   R"("renewalInfo":"https://ca.test/ari"})"
                 : window_;
    return r;
  }

 private:
  std::string window_;
};

TEST(AcmeRenewalInfo, WindowBeyond2200IsRefused) {
  EvpPkeyPtr key = *GenerateKey();
  AcmeEnvironment env{[] { return Clock::from_time_t(1'800'000'000); }, [](std::chrono::milliseconds) {}};
  AriCa far(R"({"suggestedWindow":{"start":"9999-01-01T00:00:00Z","end":"9999-01-02T00:00:00Z"}})");
  AcmeClient client(far, "https://ca.test/dir", *key, env);
  EXPECT_FALSE(client.RenewalInfo("abc.def"));
  AriCa near(R"({"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"}})");
  AcmeClient ok_client(near, "https://ca.test/dir", *key, env);
  auto window = ok_client.RenewalInfo("abc.def");
  ASSERT_TRUE(window) << window.error().message;
  EXPECT_EQ(window->start, Clock::from_time_t(1893456000));
}

// Found by acme_fuzz: a CA's detail text went into the error message (and so the log) as it came,
// so a line break in it started a line of its own in palaverd's log.
TEST(AcmeProblem, IsOneLineWhateverTheCaSends) {
  EXPECT_EQ(FormatProblem(R"({"type":"urn:x\r\nfake: y","detail":"one\ntwo\u0000three\tfour",
                              "subproblems":[{"type":"t","detail":"a\nb","identifier":{"value":"x\ny"}}]})",
                          400),
            "urn:x  fake: y: one two three four; x y: t a b");
}

}  // namespace
}  // namespace palaver::tls
