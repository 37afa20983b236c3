// libFuzzer target for the ACME client's handling of what a CA answers (src/acme_client): the
// directory, account, order, authorization and challenge objects, problem documents, Retry-After,
// Replay-Nonce and Location headers, renewal info (ARI) and the certificate download, driven
// through the whole issuance flow (AcmeClient::Issue) and the single calls.
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: consumed by a FuzzedDataProvider; every request the client sends gets the next answer:
// a status, optional Replay-Nonce / Location / Retry-After / Link headers and a body. When the
// input runs out, the CA is unreachable (so every wait ends).
// Properties (abort on violation):
//  - FormatProblem gives one line: a problem document's text can not start a new log line;
//  - ParseRetryAfter gives no negative delay;
//  - the client never waits longer in total than its poll timeouts allow, and never retries a
//    bad nonce more often than kMaxBadNonceRetries per request;
//  - a directory that loaded has newNonce, newAccount and newOrder; an order that parsed has a
//    status; an issued chain is PEM.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "acme_client.hpp"

using namespace palaver;       // NOLINT: fuzz target
using namespace palaver::tls;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                                      \
  do {                                                                                     \
    if (!(c)) {                                                                            \
      std::fprintf(stderr, "acme_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace {

constexpr const char* kUrls[] = {"https://ca.test/acme/order/1", "https://ca.test/acme/authz/1",
                                 "https://ca.test/acme/chall/1", "https://ca.test/acme/cert/1",
                                 "https://ca.test/acme/acct/1", "https://ca.test/acme/finalize/1"};

class FuzzTransport final : public AcmeTransport {
 public:
  explicit FuzzTransport(FuzzedDataProvider& in) : in_(in) {}
  Result<AcmeHttpResponse> Send(const std::string&, const std::string&, const std::string&) override {
    if (in_.remaining_bytes() == 0 || ++calls_ > 200) return Fail(ErrorCode::kUnavailable, "fuzz: no more answers");
    AcmeHttpResponse r;
    static constexpr int kStatus[] = {200, 201, 204, 400, 403, 404, 429, 500, 503};
    r.status = in_.ConsumeBool() ? kStatus[in_.ConsumeIntegralInRange<size_t>(0, 8)] : in_.ConsumeIntegral<int16_t>();
    uint8_t headers = in_.ConsumeIntegral<uint8_t>();
    if (headers & 1) r.headers.emplace_back("replay-nonce", in_.ConsumeRandomLengthString(64));
    if (headers & 2) r.headers.emplace_back("location", kUrls[in_.ConsumeIntegralInRange<size_t>(0, 5)]);
    if (headers & 4) r.headers.emplace_back("retry-after", in_.ConsumeRandomLengthString(40));
    if (headers & 8) r.headers.emplace_back("link", in_.ConsumeRandomLengthString(80));
    if (headers & 16) r.headers.emplace_back("content-type", "application/pem-certificate-chain");
    r.body = in_.ConsumeRandomLengthString(4096);
    return r;
  }
  int calls_ = 0;

 private:
  FuzzedDataProvider& in_;
};

class NullResponder final : public AcmeChallengeResponder {
 public:
  Status Present(const std::string&, const std::string&, const std::string&, const std::string&) override {
    return OkStatus();
  }
  void Clear() override {}
};

class MemoryJournal final : public AcmeOrderJournal {
 public:
  std::optional<AcmePendingOrder> Load() override { return order; }
  Status Save(const AcmePendingOrder& o) override {
    order = o;
    return OkStatus();
  }
  std::optional<AcmePendingOrder> order;
};

EVP_PKEY* AccountKey() {
  static EVP_PKEY* key = EVP_EC_gen("P-256");
  return key;
}

void CheckOneLine(const std::string& s) {
  for (char c : s) FUZZ_CHECK(c != '\n' && c != '\r');
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(AccountKey() != nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto start = std::chrono::system_clock::from_time_t(1700000000);
  auto now = start;
  AcmeEnvironment env{[&now] { return now; }, [&now](std::chrono::milliseconds d) {
                        FUZZ_CHECK(d.count() >= 0);
                        now += d;
                      }};
  uint8_t what = in.ConsumeIntegral<uint8_t>();
  if (what % 4 == 0) {
    // The pure helpers on the rest of the input.
    int status = in.ConsumeIntegral<int16_t>();
    std::string value = in.ConsumeRandomLengthString(64);
    auto retry = ParseRetryAfter(value, now);
    if (retry) FUZZ_CHECK(retry->count() >= 0);
    CheckOneLine(FormatProblem(in.ConsumeRemainingBytesAsString(), status));
    return 0;
  }
  FuzzTransport transport(in);
  AcmeClient client(transport, "https://ca.test/directory", *AccountKey(), env);
  if (client.LoadDirectory().has_value()) {
    const auto& dir = client.Directory();
    FUZZ_CHECK(!dir.new_nonce.empty() && !dir.new_account.empty() && !dir.new_order.empty());
  }
  std::optional<AcmeEab> eab;
  if (what & 4) eab = AcmeEab{"kid-1", "c2VjcmV0LWhtYWMta2V5LTMyLWJ5dGVzLWxvbmctZW5vdWdo"};
  auto account = client.Register("admin@example.test", true, eab);
  if (!account) {
    CheckOneLine(account.error().message);
    client.SetAccountUrl(kUrls[4]);
  }
  if (what % 4 == 1) {
    MemoryJournal journal;
    if (what & 8) journal.order = AcmePendingOrder{"https://ca.test/directory", kUrls[0], "", {"meet.example.test"}};
    NullResponder responder;
    AcmeIssueRequest request;
    request.names = {"meet.example.test"};
    auto issued = client.Issue(request, responder, journal);
    if (issued) FUZZ_CHECK(issued->chain_pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos);
  } else if (what % 4 == 2) {
    if (auto order = client.NewOrder({"meet.example.test"}, ""); order) FUZZ_CHECK(!order->status.empty());
    if (auto authz = client.FetchAuthorization(kUrls[1]); authz) {
      for (const auto& c : authz->challenges) (void)client.KeyAuthorizationFor(c.token);
    }
    (void)client.AcceptChallenge(kUrls[2]);
    if (auto order = client.FetchOrder(kUrls[0]); order) FUZZ_CHECK(!order->status.empty());
    (void)client.DownloadCertificate(kUrls[3]);
  } else {
    if (auto window = client.RenewalInfo("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")) {
      FUZZ_CHECK(window->start <= window->end);
      if (window->retry_after) FUZZ_CHECK(window->retry_after->count() >= 0);
    }
  }
  FUZZ_CHECK(client.BadNonceRetries() <= AcmeClient::kMaxBadNonceRetries * transport.calls_);
  // Waits are bounded by the poll timeouts (order and authorization, 300 s each, plus one interval).
  FUZZ_CHECK(now - start <= std::chrono::seconds(4 * (AcmeClient::kPollTimeout.count() + AcmeClient::kMaxPollInterval.count())));
  return 0;
}
