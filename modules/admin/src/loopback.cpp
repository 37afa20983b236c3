#include "loopback.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

namespace palaver::admin {

Result<LoopbackResponse> LoopbackRequest(const LoopbackTarget& target, const std::string& method,
                                         const std::string& path,
                                         const std::vector<std::pair<std::string, std::string>>& headers,
                                         const std::string& body) {
  std::string last_error;
  for (const char* address : {"127.0.0.1", "::1"}) {
    try {
      Poco::Net::Context::Ptr ctx =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", target.ca_file,
                                 Poco::Net::Context::VERIFY_RELAXED, 9, target.ca_file.empty());
      // Connected to the loopback address, verified (and SNI) for the certificate's name: the
      // session keeps a peer host name set before it connects.
      Poco::Net::SecureStreamSocket socket(ctx);
      socket.setPeerHostName(target.host_name);
      Poco::Net::HTTPSClientSession session(socket);
      session.setHost(address);
      session.setPort(static_cast<Poco::UInt16>(target.port));
      session.setTimeout(Poco::Timespan(10, 0));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      request.setHost(target.host_name, static_cast<Poco::UInt16>(target.port));
      for (const auto& [name, value] : headers) request.set(name, value);
      if (!body.empty() || method == "POST" || method == "PUT") request.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      LoopbackResponse out;
      out.status = static_cast<int>(response.getStatus());
      Poco::StreamCopier::copyToString(in, out.body);
      return out;
    } catch (const Poco::Exception& e) {
      last_error += std::string(last_error.empty() ? "" : "; ") + address + ": " + e.displayText();
    } catch (const std::exception& e) {
      last_error += std::string(last_error.empty() ? "" : "; ") + address + ": " + e.what();
    }
  }
  return Fail(ErrorCode::kUnavailable, "loopback request failed: " + last_error,
              "cannot reach palaverd on port " + std::to_string(target.port));
}

Result<std::pair<int, std::string>> ReadRuntime(const std::string& state_dir) {
  std::ifstream in(state_dir + "/runtime.json");
  if (!in) return Fail(ErrorCode::kUnavailable, "no runtime.json", "palaverd is not running (no " + state_dir + "/runtime.json)");
  std::stringstream text;
  text << in.rdbuf();
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>();
    int pid = o->optValue<int>("pid", 0);
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
      return Fail(ErrorCode::kUnavailable, "palaverd not running", "palaverd is not running");
    }
    return std::make_pair(o->optValue<int>("https_port", 0), o->optValue<std::string>("ca_certificate", ""));
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kUnavailable, "bad runtime.json: " + e.displayText(), "cannot read runtime.json");
  }
}

}  // namespace palaver::admin
