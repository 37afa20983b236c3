// ACME (RFC 8555) client: the protocol and the order flow, without I/O of its own.
//
// HTTP goes through an injected AcmeTransport (POCO's HTTPS client in palaverd, a fake CA in the
// tests); time and waiting through an injected AcmeEnvironment. Everything here blocks the calling
// thread while it waits for the CA, so it runs on the worker pool, never on the net loop.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <openssl/evp.h>

#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// One HTTP exchange with the CA. Header names are lowercase. Value type.
struct AcmeHttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> Header(const std::string& lowercase_name) const;
};

// Sends one request to the CA. `body` is a JWS (application/jose+json) for POST, empty for GET
// and HEAD. A transport failure (connection refused, TLS, timeout) is an error; any HTTP status
// is a response. Called from one thread at a time.
class AcmeTransport {
 public:
  virtual ~AcmeTransport() = default;
  virtual Result<AcmeHttpResponse> Send(const std::string& method, const std::string& url, const std::string& body) = 0;
};

// Time for the client: `now` for deadlines, `sleep` between polls (tests record instead of waiting).
struct AcmeEnvironment {
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The URLs and facts of an ACME directory (RFC 8555 §7.1.1, RFC 9773 renewalInfo). Value type.
struct AcmeDirectory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string renewal_info;  // empty when the CA offers no ARI
  std::string terms_of_service;
  bool external_account_required = false;
};

// External Account Binding credentials (RFC 8555 §7.3.4): the key id and the base64url HMAC key.
struct AcmeEab {
  std::string key_id;
  std::string hmac_key_b64url;
};

// An order as the CA last described it. Value type.
struct AcmeOrder {
  std::string url;
  std::string status;  // pending, ready, processing, valid, invalid
  std::string finalize;
  std::string certificate;
  std::vector<std::string> authorizations;
  std::string error;  // the order's problem document, formatted, when it has one
};

struct AcmeChallenge {
  std::string type;
  std::string url;
  std::string token;
  std::string status;
  std::string error;
};

struct AcmeAuthorization {
  std::string url;
  std::string status;  // pending, valid, invalid, deactivated, expired, revoked
  std::string name;    // the DNS identifier
  std::vector<AcmeChallenge> challenges;
};

// The CA's suggested renewal window (RFC 9773 §4.2). Value type.
struct AcmeRenewalWindow {
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
  std::optional<std::chrono::seconds> retry_after;
};

// Answers challenges while an order is validated. Present is called before the CA is told to
// validate; Clear when the order is done (or failed). Must be thread-safe towards the listeners
// that serve the answers.
class AcmeChallengeResponder {
 public:
  virtual ~AcmeChallengeResponder() = default;
  // `type` is "http-01" or "tls-alpn-01".
  virtual Status Present(const std::string& type, const std::string& name, const std::string& token,
                         const std::string& key_authorization) = 0;
  virtual void Clear() = 0;
};

// An order in progress, kept on disk so that a restart resumes it instead of ordering again.
struct AcmePendingOrder {
  std::string directory;
  std::string url;
  std::string key_pem;  // the key the CSR was (or will be) made with
  std::vector<std::string> names;
};

class AcmeOrderJournal {
 public:
  virtual ~AcmeOrderJournal() = default;
  virtual std::optional<AcmePendingOrder> Load() = 0;
  virtual Status Save(const AcmePendingOrder& order) = 0;
};

// What to order.
struct AcmeIssueRequest {
  std::vector<std::string> names;
  // Challenge types in order of preference; the first one the CA offers is answered.
  std::vector<std::string> challenge_types{"http-01", "tls-alpn-01"};
  // The ARI CertID of the certificate this one replaces (RFC 9773 §5), or empty.
  std::string replaces;
};

// A certificate obtained: the PEM chain (leaf first) and its private key (PKCS#8 PEM).
struct AcmeIssued {
  std::string chain_pem;
  std::string key_pem;
  bool resumed = false;  // the order was one a previous run had started
};

// The client for one ACME CA and one account key. Thread: one thread at a time (a worker).
// Caller keeps ownership of `transport` and `account_key`; both must outlive this object.
class AcmeClient {
 public:
  AcmeClient(AcmeTransport& transport, std::string directory_url, EVP_PKEY& account_key, AcmeEnvironment env);

  // GET the directory. Called by the other methods when needed.
  Status LoadDirectory();
  const AcmeDirectory& Directory() const { return directory_; }

  // newAccount with the contact address and terms agreement (and EAB when given). Returns the
  // account URL (the `kid` of later requests). An existing account for the key is returned as is.
  Result<std::string> Register(const std::string& email, bool agree_tos, const std::optional<AcmeEab>& eab);
  // Uses a known account URL instead of registering.
  void SetAccountUrl(std::string url) { account_url_ = std::move(url); }
  const std::string& AccountUrl() const { return account_url_; }

  Result<AcmeOrder> NewOrder(const std::vector<std::string>& names, const std::string& replaces);
  Result<AcmeOrder> FetchOrder(const std::string& url);
  Result<AcmeAuthorization> FetchAuthorization(const std::string& url);
  Status AcceptChallenge(const std::string& url);
  Result<AcmeOrder> Finalize(const AcmeOrder& order, const std::string& csr_der);
  Result<std::string> DownloadCertificate(const std::string& url);
  // GET renewalInfo/<cert_id>. kUnimplemented when the CA offers no ARI.
  Result<AcmeRenewalWindow> RenewalInfo(const std::string& cert_id);

  // The whole flow: resume the journal's order when it is for the same names and still usable,
  // otherwise order anew; answer the challenges; finalize with a CSR for a fresh key; download the
  // chain. REQUIRES: an account (Register or SetAccountUrl).
  Result<AcmeIssued> Issue(const AcmeIssueRequest& request, AcmeChallengeResponder& responder,
                           AcmeOrderJournal& journal);

  // The key authorization for a challenge token with this account key.
  Result<std::string> KeyAuthorizationFor(const std::string& token);
  // The Retry-After of the last error response, if it had one (rate limits, 503).
  std::optional<std::chrono::seconds> LastRetryAfter() const { return last_retry_after_; }
  // How many badNonce answers were retried so far.
  int BadNonceRetries() const { return bad_nonce_retries_; }

  // Limits of the waiting loops.
  static constexpr int kMaxBadNonceRetries = 5;
  static constexpr std::chrono::seconds kPollTimeout{300};
  static constexpr std::chrono::seconds kDefaultPollInterval{1};
  static constexpr std::chrono::seconds kMaxPollInterval{30};

 private:
  Result<AcmeHttpResponse> Get(const std::string& url, bool head = false);
  Result<AcmeHttpResponse> Post(const std::string& url, const std::string& payload, bool use_jwk = false,
                                const std::string& what = "");
  Status FetchNonce();
  void TakeNonce(const AcmeHttpResponse& response);
  Result<AcmeOrder> WaitOrder(const std::string& url, const std::vector<std::string>& until);
  Result<AcmeAuthorization> WaitAuthorization(const std::string& url);
  std::chrono::milliseconds PollDelay(const AcmeHttpResponse& response) const;

  AcmeTransport& transport_;
  std::string directory_url_;
  EVP_PKEY& account_key_;
  AcmeEnvironment env_;
  AcmeDirectory directory_;
  bool directory_loaded_ = false;
  std::string account_url_;
  std::string nonce_;
  std::optional<std::chrono::seconds> last_retry_after_;
  int bad_nonce_retries_ = 0;
  std::chrono::milliseconds last_poll_delay_{0};
};

// Parses a Retry-After value: delta-seconds or an HTTP date (relative to `now`). nullopt otherwise.
std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value, std::chrono::system_clock::time_point now);

// A problem document (RFC 7807 / RFC 8555 §6.7) in one line: "type: detail" plus subproblems.
std::string FormatProblem(const std::string& json_body, int http_status);

}  // namespace palaver::tls
