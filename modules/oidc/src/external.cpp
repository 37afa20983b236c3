#include "external.hpp"

#include <algorithm>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace palaver::oidc {
namespace {

Result<Poco::JSON::Object::Ptr> Object(const std::string& json, const char* what) {
  if (auto o = ParseJsonObject(json)) return o;
  return Fail(ErrorCode::kInvalidArgument, std::string(what) + " is not a JSON object");
}

}  // namespace

Result<std::vector<SigningKey>> ParseJwks(const std::string& json, const std::vector<JwsAlg>& algs) {
  PALAVER_ASSIGN_OR_RETURN(auto doc, Object(json, "JWKS"));
  auto keys = doc->getArray("keys");
  if (!keys) return Fail(ErrorCode::kInvalidArgument, "JWKS without keys");
  std::vector<JwsAlg> rsa;
  for (JwsAlg a : algs) {
    if (a != JwsAlg::kES256) rsa.push_back(a);
  }
  if (rsa.empty()) rsa.push_back(JwsAlg::kRS256);
  std::vector<SigningKey> out;
  for (size_t i = 0; i < keys->size(); ++i) {
    auto jwk = keys->getObject(static_cast<unsigned>(i));
    if (!jwk) continue;
    auto parsed = SigningKey::FromPublicJwk(*jwk, rsa);
    if (!parsed) return Fail(parsed.error());
    for (auto& k : *parsed) out.push_back(std::move(k));
  }
  return out;
}

Result<DiscoveryInfo> ParseDiscovery(const std::string& json, const std::string& issuer) {
  PALAVER_ASSIGN_OR_RETURN(auto doc, Object(json, "discovery document"));
  if (doc->optValue<std::string>("issuer", "") != issuer) {
    return Fail(ErrorCode::kInvalidArgument, "discovery document names another issuer");
  }
  DiscoveryInfo info;
  info.jwks_uri = doc->optValue<std::string>("jwks_uri", "");
  if (info.jwks_uri.rfind("https://", 0) != 0) return Fail(ErrorCode::kInvalidArgument, "jwks_uri must be https");
  if (auto algs = doc->getArray("id_token_signing_alg_values_supported")) {
    for (size_t i = 0; i < algs->size(); ++i) {
      if (!algs->get(i).isString()) continue;
      if (auto a = ParseAlg(algs->getElement<std::string>(i))) info.algs.push_back(*a);
    }
  }
  return info;
}

bool ExternalIssuers::Trusts(const std::string& issuer) const {
  return std::find(issuers_.begin(), issuers_.end(), issuer) != issuers_.end();
}

std::vector<SigningKey> ExternalIssuers::Keys(const std::string& issuer) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(issuer);
  return it == keys_.end() ? std::vector<SigningKey>{} : it->second;
}

void ExternalIssuers::SetKeys(const std::string& issuer, std::vector<SigningKey> keys) {
  std::lock_guard lock(mu_);
  keys_[issuer] = std::move(keys);
}

bool ExternalIssuers::ClaimRefresh(const std::string& issuer, int64_t now_s, int64_t min_interval_s) {
  std::lock_guard lock(mu_);
  auto& last = last_claim_[issuer];
  if (last != 0 && now_s - last < min_interval_s) return false;
  last = now_s;
  return true;
}

Result<HttpsReply> HttpsRequest(const std::string& method, const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& ca_file, size_t max_bytes) {
  try {
    Poco::URI uri(url);
    if (uri.getScheme() != "https") return Fail(ErrorCode::kInvalidArgument, url + " is not https");
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                                         Poco::Net::Context::VERIFY_STRICT, 9, ca_file.empty());
    Poco::Net::HTTPSClientSession session(uri.getHost(), uri.getPort(), ctx);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Accept", "application/json");
    for (const auto& [k, v] : headers) request.set(k, v);
    if (method == Poco::Net::HTTPRequest::HTTP_POST) {
      request.setContentType("application/x-www-form-urlencoded");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(request) << body;
    } else {
      session.sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpsReply out;
    out.status = static_cast<int>(response.getStatus());
    if (response.hasContentLength() && response.getContentLength64() > static_cast<int64_t>(max_bytes)) {
      return Fail(ErrorCode::kPayloadTooLarge, url + " is too large");
    }
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      out.body.append(buf, static_cast<size_t>(in.gcount()));
      if (out.body.size() > max_bytes) return Fail(ErrorCode::kPayloadTooLarge, url + " is too large");
    }
    return out;
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kUnavailable, url + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kUnavailable, url + ": " + e.what());
  }
}

Result<std::string> ExternalIssuers::Fetch(const std::string& url) const {
  PALAVER_ASSIGN_OR_RETURN(HttpsReply reply, HttpsRequest("GET", url, "", {}, ca_file_, kMaxDocumentBytes));
  if (reply.status != 200) return Fail(ErrorCode::kUnavailable, url + " answered " + std::to_string(reply.status));
  return std::move(reply.body);
}

Status ExternalIssuers::Refresh(const std::string& issuer) {
  PALAVER_ASSIGN_OR_RETURN(std::string discovery, Fetch(issuer + "/.well-known/openid-configuration"));
  PALAVER_ASSIGN_OR_RETURN(DiscoveryInfo info, ParseDiscovery(discovery, issuer));
  PALAVER_ASSIGN_OR_RETURN(std::string jwks, Fetch(info.jwks_uri));
  PALAVER_ASSIGN_OR_RETURN(auto keys, ParseJwks(jwks, info.algs));
  SetKeys(issuer, std::move(keys));
  return OkStatus();
}

}  // namespace palaver::oidc
