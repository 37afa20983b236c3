// libFuzzer target for the ACME client's handling of what a CA answers (src/acme_client): the
// directory, account, order, authorization and challenge objects, problem documents, Retry-After,
// Replay-Nonce and Location headers, renewal info (ARI) and the certificate download, driven
// through the whole issuance flow (AcmeClient::Issue) and the single calls.
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: the first byte picks the flow (byte % 4: 0 the pure helpers, 1 Issue, 2 the single calls,
// 3 renewal info); then every request the client sends gets the next answer (FuzzTransport): a
// status, optional Replay-Nonce / Location / Retry-After / Link headers and a body. When the input
// runs out, the CA is unreachable (so every wait ends).
// Properties (abort on violation):
//  - FormatProblem gives one line: a problem document's text can not start a new log line;
//  - ParseRetryAfter gives no negative delay;
//  - the client never waits longer in total than its poll timeouts allow, and never retries a
//    bad nonce more often than kMaxBadNonceRetries per request;
//  - a directory that loaded has newNonce, newAccount and newOrder; an order that parsed has a
//    status; an issued chain is PEM.
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

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

// The CA's answers, in order: records separated by "\n--\n". A record: a status byte (an index into
// kStatus, or 0xff and two bytes of raw status), a header-flags byte, one '\n'-terminated line per
// header flag set (1 Replay-Nonce, 4 Retry-After, 8 Link; 2 adds a Location from kUrls picked by
// the flags' high bits, 16 a PEM content type), then the body.
constexpr std::string_view kSeparator = "\n--\n";

class FuzzTransport final : public AcmeTransport {
 public:
  explicit FuzzTransport(std::string_view in) : in_(in) {}
  Result<AcmeHttpResponse> Send(const std::string&, const std::string&, const std::string&) override {
    if (in_.empty() || ++calls_ > 200) return Fail(ErrorCode::kUnavailable, "fuzz: no more answers");
    size_t end = in_.find(kSeparator);
    std::string_view rec = in_.substr(0, end);
    in_ = end == std::string_view::npos ? std::string_view() : in_.substr(end + kSeparator.size());
    AcmeHttpResponse r;
    static constexpr int kStatus[] = {200, 201, 204, 400, 403, 404, 429, 500, 503};
    auto take = [&rec]() -> uint8_t {
      if (rec.empty()) return 0;
      uint8_t b = static_cast<uint8_t>(rec[0]);
      rec.remove_prefix(1);
      return b;
    };
    uint8_t status = take();
    if (status == 0xff) {
      r.status = take() << 8;
      r.status |= take();
    } else {
      r.status = kStatus[status % 9];
    }
    uint8_t flags = take();
    auto line = [&rec]() {
      size_t nl = rec.find('\n');
      std::string out(rec.substr(0, nl));
      rec = nl == std::string_view::npos ? std::string_view() : rec.substr(nl + 1);
      return out;
    };
    if (flags & 1) r.headers.emplace_back("replay-nonce", line());
    if (flags & 2) r.headers.emplace_back("location", kUrls[(flags >> 5) % 6]);
    if (flags & 4) r.headers.emplace_back("retry-after", line());
    if (flags & 8) r.headers.emplace_back("link", line());
    if (flags & 16) r.headers.emplace_back("content-type", "application/pem-certificate-chain");
    r.body = std::string(rec);
    return r;
  }
  int calls_ = 0;

 private:
  std::string_view in_;
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
  if (s.find_first_of("\r\n") != std::string::npos) std::fprintf(stderr, "acme_fuzz: not one line: %s\n", s.c_str());
  for (char c : s) FUZZ_CHECK(c != '\n' && c != '\r');
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(AccountKey() != nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto start = std::chrono::system_clock::from_time_t(1700000000);
  auto now = start;
  AcmeEnvironment env{[&now] { return now; }, [&now](std::chrono::milliseconds d) {
                        FUZZ_CHECK(d.count() >= 0);
                        now += d;
                      }};
  uint8_t what = data[0];
  if (what % 4 == 0) {
    // The pure helpers on the rest of the input: a Retry-After line, then a problem document.
    size_t nl = rest.find('\n');
    auto retry = ParseRetryAfter(std::string(rest.substr(0, nl)), now);
    if (retry) FUZZ_CHECK(retry->count() >= 0);
    std::string problem(nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1));
    CheckOneLine(FormatProblem(problem, 400 + static_cast<int>(size % 200)));
    return 0;
  }
  FuzzTransport transport(rest);
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
