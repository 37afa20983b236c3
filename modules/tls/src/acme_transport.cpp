#include "acme_transport.hpp"

#include <algorithm>
#include <cctype>
#include <istream>
#include <string>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

namespace palaver::tls {
namespace {

constexpr size_t kMaxBody = 1 << 20;

class PocoAcmeTransport final : public AcmeTransport {
 public:
  PocoAcmeTransport(std::filesystem::path ca_file, std::chrono::seconds timeout)
      : ca_file_(std::move(ca_file)), timeout_(timeout) {}

  Result<AcmeHttpResponse> Send(const std::string& method, const std::string& url, const std::string& body) override {
    try {
      Poco::URI uri(url);
      if (uri.getScheme() != "https") return Fail(ErrorCode::kInvalidArgument, url + " is not an https URL");
      if (context_.isNull()) {
        context_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file_.string(),
                                          Poco::Net::Context::VERIFY_STRICT, 9, ca_file_.empty());
      }
      Poco::Net::HTTPSClientSession session(uri.getHost(), uri.getPort(), context_);
      session.setTimeout(Poco::Timespan(static_cast<long>(timeout_.count()), 0));
      std::string target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
      Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("User-Agent", "palaverd-acme");
      request.set("Accept", "application/json, application/pem-certificate-chain");
      if (method == "POST") {
        request.setContentType("application/jose+json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
      } else {
        session.sendRequest(request);
      }
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      AcmeHttpResponse out;
      out.status = static_cast<int>(response.getStatus());
      for (const auto& [name, value] : response) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        out.headers.emplace_back(lower, value);
      }
      if (method != "HEAD") {
        char buf[8192];
        while (in.read(buf, sizeof buf) || in.gcount() > 0) {
          out.body.append(buf, static_cast<size_t>(in.gcount()));
          if (out.body.size() > kMaxBody) return Fail(ErrorCode::kInvalidArgument, url + ": answer larger than 1 MiB");
        }
      }
      return out;
    } catch (const Poco::Exception& e) {
      return Fail(ErrorCode::kUnavailable, url + ": " + e.displayText());
    } catch (const std::exception& e) {
      return Fail(ErrorCode::kUnavailable, url + ": " + e.what());
    }
  }

 private:
  std::filesystem::path ca_file_;
  std::chrono::seconds timeout_;
  Poco::Net::Context::Ptr context_;
};

}  // namespace

std::unique_ptr<AcmeTransport> MakePocoAcmeTransport(const std::filesystem::path& ca_file, std::chrono::seconds timeout) {
  return std::make_unique<PocoAcmeTransport>(ca_file, timeout);
}

}  // namespace palaver::tls
