#include "acme_client.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include "acme_cert.hpp"
#include "acme_jws.hpp"
#include "identity.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/http.hpp"

namespace palaver::tls {
namespace {

using JsonObject = Poco::JSON::Object::Ptr;
constexpr const char* kProblemPrefix = "urn:ietf:params:acme:error:";

// The CA's text ends up in our log and errors: one line, no control characters.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return text;
}

Result<JsonObject> ParseObject(const std::string& body, const std::string& what) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    JsonObject obj = v.extract<JsonObject>();
    if (obj.isNull()) return Fail(ErrorCode::kInvalidArgument, what + " is not a JSON object");
    return obj;
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kInvalidArgument, what + " is not JSON: " + OneLine(e.displayText()));
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, what + " is not a JSON object: " + OneLine(e.what()));
  }
}

std::string Str(const JsonObject& obj, const std::string& key) {
  if (obj.isNull() || !obj->has(key)) return {};
  try {
    Poco::Dynamic::Var v = obj->get(key);
    // Statuses, names, URLs and tokens go into errors and the log: one line each (a control
    // character is invalid in every one of them anyway).
    return v.isString() ? OneLine(v.extract<std::string>()) : std::string();
  } catch (const Poco::Exception&) {
    return {};
  }
}

JsonObject Obj(const JsonObject& obj, const std::string& key) {
  if (obj.isNull() || !obj->has(key)) return nullptr;
  return obj->getObject(key);
}

std::vector<std::string> StrArray(const JsonObject& obj, const std::string& key) {
  std::vector<std::string> out;
  if (obj.isNull() || !obj->has(key)) return out;
  Poco::JSON::Array::Ptr arr = obj->getArray(key);
  if (arr.isNull()) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    Poco::Dynamic::Var v = arr->get(static_cast<unsigned int>(i));
    if (v.isString()) out.push_back(v.extract<std::string>());
  }
  return out;
}

std::string ProblemOf(const JsonObject& problem) {
  if (problem.isNull()) return {};
  std::string type = Str(problem, "type");
  std::string out = type.empty() ? "error" : type;
  std::string detail = Str(problem, "detail");
  if (!detail.empty()) out += ": " + detail;
  if (problem->has("subproblems")) {
    Poco::JSON::Array::Ptr subs = problem->getArray("subproblems");
    for (size_t i = 0; subs && i < subs->size(); ++i) {
      JsonObject sub = subs->getObject(static_cast<unsigned int>(i));
      JsonObject id = Obj(sub, "identifier");
      out += "; " + (id.isNull() ? std::string() : Str(id, "value") + ": ") + Str(sub, "type") + " " + Str(sub, "detail");
    }
  }
  return OneLine(std::move(out));
}

std::string Json(const std::string& s) { return "\"" + sdk::JsonEscape(s) + "\""; }

ErrorCode CodeForProblem(const std::string& type, int status) {
  if (type == std::string(kProblemPrefix) + "rateLimited" || status == 429) return ErrorCode::kResourceExhausted;
  if (status >= 500) return ErrorCode::kUnavailable;
  if (type == std::string(kProblemPrefix) + "unauthorized" || type == std::string(kProblemPrefix) + "accountDoesNotExist" ||
      type == std::string(kProblemPrefix) + "externalAccountRequired") {
    return ErrorCode::kPermissionDenied;
  }
  return ErrorCode::kFailedPrecondition;
}

Result<AcmeOrder> ParseOrder(const std::string& body, const std::string& url) {
  PALAVER_ASSIGN_OR_RETURN(JsonObject obj, ParseObject(body, "the order"));
  AcmeOrder order;
  order.url = url;
  order.status = Str(obj, "status");
  order.finalize = Str(obj, "finalize");
  order.certificate = Str(obj, "certificate");
  order.authorizations = StrArray(obj, "authorizations");
  order.error = ProblemOf(Obj(obj, "error"));
  if (order.status.empty()) return Fail(ErrorCode::kInvalidArgument, "the order has no status");
  return order;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

std::optional<std::string> AcmeHttpResponse::Header(const std::string& lowercase_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lowercase_name) return v;
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> ParseRetryAfter(const std::string& value, std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (value.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(value));
  }
  // An IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"); POCO's parser alone is too lenient.
  if (value.size() != 29 || value.compare(value.size() - 4, 4, " GMT") != 0) return std::nullopt;
  try {
    int tz = 0;
    Poco::DateTime dt = Poco::DateTimeParser::parse(Poco::DateTimeFormat::HTTP_FORMAT, value, tz);
    // In seconds: a date far in the future (POCO takes any year) must not overflow the clock's
    // nanoseconds; capped like delta-seconds.
    int64_t at = dt.timestamp().epochTime();
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (at <= now_s) return std::chrono::seconds(0);
    return std::chrono::seconds(std::min<int64_t>(at - now_s, 999999999));
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::string FormatProblem(const std::string& json_body, int http_status) {
  Result<JsonObject> obj = ParseObject(json_body, "problem");
  std::string text = obj ? ProblemOf(*obj) : std::string();
  if (text.empty()) text = "HTTP " + std::to_string(http_status);
  return text;
}

AcmeClient::AcmeClient(AcmeTransport& transport, std::string directory_url, EVP_PKEY& account_key, AcmeEnvironment env)
    : transport_(transport), directory_url_(std::move(directory_url)), account_key_(account_key), env_(std::move(env)) {}

Result<AcmeHttpResponse> AcmeClient::Get(const std::string& url, bool head) {
  Result<AcmeHttpResponse> response = transport_.Send(head ? "HEAD" : "GET", url, "");
  if (!response) return Fail(ErrorCode::kUnavailable, "ACME CA not reachable: " + response.error().message);
  TakeNonce(*response);
  return response;
}

void AcmeClient::TakeNonce(const AcmeHttpResponse& response) {
  if (auto nonce = response.Header("replay-nonce"); nonce && !nonce->empty()) nonce_ = *nonce;
}

Status AcmeClient::LoadDirectory() {
  if (directory_loaded_) return OkStatus();
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Get(directory_url_));
  if (response.status != 200) {
    return Fail(ErrorCode::kUnavailable, "ACME directory " + directory_url_ + " answered HTTP " +
                                             std::to_string(response.status));
  }
  PALAVER_ASSIGN_OR_RETURN(JsonObject obj, ParseObject(response.body, "the ACME directory " + directory_url_));
  directory_.new_nonce = Str(obj, "newNonce");
  directory_.new_account = Str(obj, "newAccount");
  directory_.new_order = Str(obj, "newOrder");
  directory_.renewal_info = Str(obj, "renewalInfo");
  JsonObject meta = Obj(obj, "meta");
  directory_.terms_of_service = Str(meta, "termsOfService");
  try {
    directory_.external_account_required = !meta.isNull() && meta->has("externalAccountRequired") &&
                                           meta->getValue<bool>("externalAccountRequired");
  } catch (const Poco::Exception&) {
    directory_.external_account_required = false;
  }
  if (directory_.new_nonce.empty() || directory_.new_account.empty() || directory_.new_order.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the ACME directory " + directory_url_ + " lacks newNonce, newAccount or newOrder");
  }
  directory_loaded_ = true;
  return OkStatus();
}

Status AcmeClient::FetchNonce() {
  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Get(directory_.new_nonce, /*head=*/true));
  if (nonce_.empty()) {
    return Fail(ErrorCode::kUnavailable, "the ACME CA gave no Replay-Nonce (HTTP " + std::to_string(response.status) + ")");
  }
  return OkStatus();
}

Result<AcmeHttpResponse> AcmeClient::Post(const std::string& url, const std::string& payload, bool use_jwk,
                                          const std::string& what) {
  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  for (int attempt = 0;; ++attempt) {
    if (nonce_.empty()) PALAVER_RETURN_IF_ERROR(FetchNonce());
    std::string key_member;
    if (use_jwk) {
      PALAVER_ASSIGN_OR_RETURN(std::string jwk, JwkOf(account_key_));
      key_member = "\"jwk\":" + jwk;
    } else {
      if (account_url_.empty()) return Fail(ErrorCode::kFailedPrecondition, "no ACME account");
      key_member = "\"kid\":" + Json(account_url_);
    }
    std::string protected_json = "{\"alg\":\"ES256\"," + key_member + ",\"nonce\":" + Json(nonce_) +
                                 ",\"url\":" + Json(url) + "}";
    nonce_.clear();  // a nonce is used once, whatever the answer
    PALAVER_ASSIGN_OR_RETURN(std::string jws, JwsEs256(account_key_, protected_json, payload));
    Result<AcmeHttpResponse> response = transport_.Send("POST", url, jws);
    if (!response) return Fail(ErrorCode::kUnavailable, "ACME CA not reachable: " + response.error().message);
    TakeNonce(*response);
    if (response->status < 400) {
      last_retry_after_.reset();
      return response;
    }
    Result<JsonObject> problem = ParseObject(response->body, "problem");
    std::string type = problem ? Str(*problem, "type") : std::string();
    if (type == std::string(kProblemPrefix) + "badNonce" && attempt < kMaxBadNonceRetries) {
      // RFC 8555 §6.5: retry with the fresh nonce the error response carried.
      ++bad_nonce_retries_;
      continue;
    }
    auto retry = response->Header("retry-after");
    last_retry_after_ = retry ? ParseRetryAfter(*retry, env_.now()) : std::nullopt;
    std::string message = "ACME CA refused " + (what.empty() ? url : what) + ": " +
                          FormatProblem(response->body, response->status);
    if (last_retry_after_) message += " (retry after " + std::to_string(last_retry_after_->count()) + " s)";
    return Fail(CodeForProblem(type, response->status), message);
  }
}

Result<std::string> AcmeClient::Register(const std::string& email, bool agree_tos, const std::optional<AcmeEab>& eab) {
  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  if (!agree_tos) return Fail(ErrorCode::kFailedPrecondition, "the CA's terms of service were not agreed to");
  if (directory_.external_account_required && !eab) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the ACME CA requires External Account Binding; set acme_eab_kid and acme_eab_hmac_key");
  }
  std::string payload = "{\"termsOfServiceAgreed\":true";
  if (!email.empty()) payload += ",\"contact\":[" + Json("mailto:" + email) + "]";
  if (eab) {
    std::optional<std::string> mac_key = sdk::Base64UrlDecode(eab->hmac_key_b64url);
    if (!mac_key) {
      // Some CAs hand out the key with padding or in standard base64.
      mac_key = sdk::Base64Decode(eab->hmac_key_b64url);
    }
    if (!mac_key) return Fail(ErrorCode::kInvalidArgument, "acme_eab_hmac_key is not base64url");
    PALAVER_ASSIGN_OR_RETURN(std::string jwk, JwkOf(account_key_));
    std::string protected_json = "{\"alg\":\"HS256\",\"kid\":" + Json(eab->key_id) + ",\"url\":" +
                                 Json(directory_.new_account) + "}";
    PALAVER_ASSIGN_OR_RETURN(std::string binding, JwsHs256(*mac_key, protected_json, jwk));
    payload += ",\"externalAccountBinding\":" + binding;
  }
  payload += "}";
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(directory_.new_account, payload, /*use_jwk=*/true, "newAccount"));
  auto location = response.Header("location");
  if (!location || location->empty()) return Fail(ErrorCode::kInvalidArgument, "newAccount answer has no Location");
  account_url_ = *location;
  return account_url_;
}

Result<AcmeOrder> AcmeClient::NewOrder(const std::vector<std::string>& names, const std::string& replaces) {
  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  std::string ids;
  for (const auto& n : names) ids += (ids.empty() ? "" : ",") + std::string("{\"type\":\"dns\",\"value\":") + Json(n) + "}";
  std::string payload = "{\"identifiers\":[" + ids + "]";
  if (!replaces.empty()) payload += ",\"replaces\":" + Json(replaces);
  payload += "}";
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(directory_.new_order, payload, false, "newOrder"));
  auto location = response.Header("location");
  if (!location || location->empty()) return Fail(ErrorCode::kInvalidArgument, "newOrder answer has no Location");
  return ParseOrder(response.body, *location);
}

Result<AcmeOrder> AcmeClient::FetchOrder(const std::string& url) {
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(url, "", false, "the order"));
  last_poll_delay_ = PollDelay(response);
  return ParseOrder(response.body, url);
}

Result<AcmeAuthorization> AcmeClient::FetchAuthorization(const std::string& url) {
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(url, "", false, "the authorization"));
  last_poll_delay_ = PollDelay(response);
  PALAVER_ASSIGN_OR_RETURN(JsonObject obj, ParseObject(response.body, "the authorization"));
  AcmeAuthorization authz;
  authz.url = url;
  authz.status = Str(obj, "status");
  authz.name = Str(Obj(obj, "identifier"), "value");
  if (obj->has("challenges")) {
    Poco::JSON::Array::Ptr arr = obj->getArray("challenges");
    for (size_t i = 0; arr && i < arr->size(); ++i) {
      JsonObject c = arr->getObject(static_cast<unsigned int>(i));
      if (c.isNull()) continue;
      authz.challenges.push_back(
          {Str(c, "type"), Str(c, "url"), Str(c, "token"), Str(c, "status"), ProblemOf(Obj(c, "error"))});
    }
  }
  return authz;
}

Status AcmeClient::AcceptChallenge(const std::string& url) {
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(url, "{}", false, "the challenge"));
  (void)response;
  return OkStatus();
}

Result<AcmeOrder> AcmeClient::Finalize(const AcmeOrder& order, const std::string& csr_der) {
  std::string payload = "{\"csr\":" + Json(sdk::Base64UrlEncode(csr_der)) + "}";
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(order.finalize, payload, false, "finalize"));
  return ParseOrder(response.body, order.url);
}

Result<std::string> AcmeClient::DownloadCertificate(const std::string& url) {
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Post(url, "", false, "the certificate download"));
  if (response.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "the certificate download is not a PEM chain");
  }
  return response.body;
}

Result<AcmeRenewalWindow> AcmeClient::RenewalInfo(const std::string& cert_id) {
  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  if (directory_.renewal_info.empty()) return Fail(ErrorCode::kUnimplemented, "the ACME CA offers no renewalInfo");
  std::string url = directory_.renewal_info;
  if (url.back() != '/') url += '/';
  url += cert_id;
  PALAVER_ASSIGN_OR_RETURN(AcmeHttpResponse response, Get(url));
  if (response.status != 200) {
    return Fail(ErrorCode::kUnavailable, "renewalInfo answered HTTP " + std::to_string(response.status));
  }
  PALAVER_ASSIGN_OR_RETURN(JsonObject obj, ParseObject(response.body, "renewalInfo"));
  JsonObject window = Obj(obj, "suggestedWindow");
  auto parse_time = [](const std::string& text) -> std::optional<std::chrono::system_clock::time_point> {
    try {
      int tz = 0;
      Poco::DateTime dt = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, tz);
      dt.makeUTC(tz);
      // POCO takes any year up to 9999; past 2200 the clock's nanoseconds would overflow sooner
      // or later (from_time_t, adding durations): no CA suggests renewing then.
      std::time_t t = dt.timestamp().epochTime();
      if (t < 0 || t > 7258118400) return std::nullopt;  // 2200-01-01
      return std::chrono::system_clock::from_time_t(t);
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
  };
  auto start = parse_time(Str(window, "start"));
  auto end = parse_time(Str(window, "end"));
  if (!start || !end || *end < *start) {
    return Fail(ErrorCode::kInvalidArgument, "renewalInfo has no valid suggestedWindow");
  }
  AcmeRenewalWindow out{*start, *end, std::nullopt};
  if (auto retry = response.Header("retry-after")) out.retry_after = ParseRetryAfter(*retry, env_.now());
  return out;
}

Result<std::string> AcmeClient::KeyAuthorizationFor(const std::string& token) {
  PALAVER_ASSIGN_OR_RETURN(std::string thumbprint, JwkThumbprint(account_key_));
  return KeyAuthorization(token, thumbprint);
}

std::chrono::milliseconds AcmeClient::PollDelay(const AcmeHttpResponse& response) const {
  std::chrono::seconds delay = kDefaultPollInterval;
  if (auto retry = response.Header("retry-after")) {
    if (auto parsed = ParseRetryAfter(*retry, env_.now())) delay = std::clamp(*parsed, std::chrono::seconds(1), kMaxPollInterval);
  }
  return delay;
}

Result<AcmeOrder> AcmeClient::WaitOrder(const std::string& url, const std::vector<std::string>& until) {
  auto deadline = env_.now() + kPollTimeout;
  while (true) {
    PALAVER_ASSIGN_OR_RETURN(AcmeOrder order, FetchOrder(url));
    if (std::find(until.begin(), until.end(), order.status) != until.end()) return order;
    if (order.status == "invalid") {
      return Fail(ErrorCode::kFailedPrecondition,
                  "the ACME order became invalid" + (order.error.empty() ? std::string() : ": " + order.error));
    }
    if (env_.now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded, "the ACME order stayed " + order.status + " for too long");
    }
    env_.sleep(last_poll_delay_);
  }
}

Result<AcmeAuthorization> AcmeClient::WaitAuthorization(const std::string& url) {
  auto deadline = env_.now() + kPollTimeout;
  while (true) {
    PALAVER_ASSIGN_OR_RETURN(AcmeAuthorization authz, FetchAuthorization(url));
    if (authz.status == "valid") return authz;
    if (authz.status != "pending") {
      std::string why;
      for (const auto& c : authz.challenges) {
        if (!c.error.empty()) why += (why.empty() ? "" : "; ") + c.type + ": " + c.error;
      }
      return Fail(ErrorCode::kFailedPrecondition, "validation of " + authz.name + " failed (authorization " +
                                                      authz.status + ")" + (why.empty() ? "" : ": " + why));
    }
    if (env_.now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded, "validation of " + authz.name + " did not finish in time");
    }
    env_.sleep(last_poll_delay_);
  }
}

Result<AcmeIssued> AcmeClient::Issue(const AcmeIssueRequest& request, AcmeChallengeResponder& responder,
                                     AcmeOrderJournal& journal) {
  struct ClearOnExit {
    AcmeChallengeResponder& r;
    ~ClearOnExit() { r.Clear(); }
  } clear_on_exit{responder};

  PALAVER_RETURN_IF_ERROR(LoadDirectory());
  AcmeIssued issued;
  std::optional<AcmeOrder> order;
  EvpPkeyPtr key;
  if (std::optional<AcmePendingOrder> pending = journal.Load();
      pending && pending->names == request.names && pending->directory == directory_url_) {
    // A previous run stopped in the middle of this order (crash, kill -9, restart): continue it.
    Result<AcmeOrder> fetched = FetchOrder(pending->url);
    Result<EvpPkeyPtr> pending_key = ParsePrivateKeyPem(pending->key_pem, "the pending order's key");
    if (fetched && pending_key && fetched->status != "invalid") {
      order = std::move(*fetched);
      key = std::move(*pending_key);
      issued.resumed = true;
    }
  }
  if (!order) {
    PALAVER_ASSIGN_OR_RETURN(key, GenerateKey());
    Result<AcmeOrder> created = NewOrder(request.names, request.replaces);
    if (!created && !request.replaces.empty() && created.error().code == ErrorCode::kFailedPrecondition) {
      // A CA may refuse `replaces` (e.g. the old certificate was already replaced); order without.
      created = NewOrder(request.names, "");
    }
    if (!created) return tl::unexpected(created.error());
    order = std::move(*created);
    PALAVER_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(*key));
    PALAVER_RETURN_IF_ERROR(journal.Save({directory_url_, order->url, key_pem, request.names}));
  }

  if (order->status == "pending") {
    std::vector<std::string> to_wait;
    for (const std::string& authz_url : order->authorizations) {
      PALAVER_ASSIGN_OR_RETURN(AcmeAuthorization authz, FetchAuthorization(authz_url));
      if (authz.status == "valid") continue;
      if (authz.status != "pending") {
        return Fail(ErrorCode::kFailedPrecondition, "authorization for " + authz.name + " is " + authz.status);
      }
      const AcmeChallenge* chosen = nullptr;
      for (const auto& type : request.challenge_types) {
        for (const auto& c : authz.challenges) {
          if (c.type == type && chosen == nullptr) chosen = &c;
        }
      }
      if (chosen == nullptr) {
        std::string offered;
        for (const auto& c : authz.challenges) offered += (offered.empty() ? "" : ",") + c.type;
        return Fail(ErrorCode::kFailedPrecondition,
                    "the ACME CA offers no usable challenge for " + authz.name + " (offered: " + offered + ")");
      }
      PALAVER_ASSIGN_OR_RETURN(std::string key_auth, KeyAuthorizationFor(chosen->token));
      PALAVER_RETURN_IF_ERROR(responder.Present(chosen->type, authz.name, chosen->token, key_auth));
      if (chosen->status == "pending") PALAVER_RETURN_IF_ERROR(AcceptChallenge(chosen->url));
      to_wait.push_back(authz_url);
    }
    for (const auto& url : to_wait) PALAVER_RETURN_IF_ERROR(WaitAuthorization(url));
    PALAVER_ASSIGN_OR_RETURN(*order, WaitOrder(order->url, {"ready", "valid", "processing"}));
  }
  if (order->status == "ready") {
    PALAVER_ASSIGN_OR_RETURN(std::string csr, BuildCsrDer(*key, request.names));
    PALAVER_ASSIGN_OR_RETURN(*order, Finalize(*order, csr));
  }
  if (order->status != "valid") {
    PALAVER_ASSIGN_OR_RETURN(*order, WaitOrder(order->url, {"valid"}));
  }
  if (order->certificate.empty()) return Fail(ErrorCode::kInvalidArgument, "the valid order has no certificate URL");
  PALAVER_ASSIGN_OR_RETURN(issued.chain_pem, DownloadCertificate(order->certificate));
  PALAVER_ASSIGN_OR_RETURN(issued.key_pem, PrivateKeyToPem(*key));
  // The chain must belong to our key and name what we asked for.
  PALAVER_ASSIGN_OR_RETURN(std::shared_ptr<sdk::TlsIdentity> identity,
                           LoadIdentity(issued.chain_pem, issued.key_pem, "acme"));
  if (!CoversNames(*identity, request.names)) {
    return Fail(ErrorCode::kInvalidArgument, "the issued certificate does not cover " + JoinNames(request.names));
  }
  return issued;
}

}  // namespace palaver::tls
