// HTTP request/response value types and the router modules mount handlers on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// Which listener a request came in on.
enum class Listener { kHttps, kHttp };

/// A parsed HTTP request (HTTP/1.1 or HTTP/2). Header names are lowercase.
/// Value type; the host fills it on the net loop before calling the handler.
struct Request {
  std::string method;   // "GET"
  std::string path;     // percent-decoded, dot-segments removed, always starting with /
  std::string query;    // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;     // client address, e.g. "127.0.0.1" or "::1"
  std::string host;     // Host / :authority, lowercased, without port
  std::string authority;  // Host / :authority as sent (may include port)
  Listener listener = Listener::kHttps;
  int http_version = 1;  // 1 or 2

  /// First header value with this (lowercase) name.
  std::optional<std::string_view> Header(std::string_view lowercase_name) const;
  /// Percent-decoded value of a query parameter.
  std::optional<std::string> QueryParam(std::string_view name) const;
  bool IsTls() const { return listener == Listener::kHttps; }
};

/// A file region streamed from disk in chunks from the net loop (for large files).
struct FileBody {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// A region of an immutable in-memory buffer shared between responses (cached files).
struct MemoryBody {
  std::shared_ptr<const std::string> data;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// An HTTP response. Set one of `body`, `memory` or `file`.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names
  std::string body;
  std::optional<FileBody> file;
  std::optional<MemoryBody> memory;
  /// For HEAD: send headers (with the Content-Length of the full body) but no body.
  bool head_only = false;

  void SetHeader(std::string_view lowercase_name, std::string value);
  std::optional<std::string_view> Header(std::string_view lowercase_name) const;
  uint64_t ContentLength() const { return memory ? memory->length : file ? file->length : body.size(); }

  static Response Text(int status, std::string text);
  /// `json` must already be serialized JSON.
  static Response Json(int status, std::string json);
  /// `{"error": "<code name>", "error_description": "<public message>"}` with the mapped status.
  static Response FromError(const Error& error);
  static Response Redirect(int status, std::string location);
};

/// Hands a handler's response back to the connection. Callable once, from any thread: off the
/// net loop it is posted there. If the client went away first, the response is dropped.
using Responder = std::function<void(Response)>;
/// A route handler. Runs on the net loop: must not block (use Workers for blocking work).
using Handler = std::function<void(const Request&, Responder)>;
/// A response filter: sees every response before it is sent (security headers etc.).
/// Runs on the net loop.
using ResponseFilter = std::function<void(const Request&, Response&)>;

/// How a route's path matches.
enum class Match { kExact, kPrefix };

/// A route: methods (empty = any of GET/HEAD), path, listeners it serves on.
struct Route {
  std::vector<std::string> methods;
  std::string path;
  Match match = Match::kExact;
  bool on_https = true;
  bool on_http = false;
  /// Largest request body accepted (413 above).
  int64_t max_body_bytes = 64 * 1024;
  /// Runs on the request's headers before any body byte is read; a response it returns is sent
  /// at once and the body is not read (e.g. a route that needs a token refuses a request without
  /// one, so an anonymous client cannot make the server buffer a body). On the net loop: cheap,
  /// never blocking.
  std::function<std::optional<Response>(const Request&)> head_check;
  /// Label for metrics (`route="..."`); defaults to the module id.
  std::string route_class;
};

/// Routes requests to handlers. Longest matching path wins; exact beats prefix.
/// Thread-safe: routes may be added and removed from any thread (modules do it in Start/Stop).
class WebSocketHandler;
struct WebSocketRoute;

class Router {
 public:
  virtual ~Router() = default;
  virtual Status Add(Route route, Handler handler) = 0;
  virtual void AddFilter(ResponseFilter filter) = 0;
  /// Mounts a WebSocket endpoint (HTTPS listener only). See websocket.hpp.
  virtual Status AddWebSocket(WebSocketRoute route, std::shared_ptr<WebSocketHandler> handler) = 0;
};

/// Escapes a string for inclusion in a JSON string literal (without the quotes).
std::string JsonEscape(std::string_view s);
/// Percent-encodes everything but RFC 3986's unreserved characters (for query values).
std::string PercentEncode(std::string_view s);
/// Percent-decodes; nullopt for malformed escapes or a NUL (encoded or raw).
std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space);

/// Decoded `application/x-www-form-urlencoded` (or query) parameters, in order.
using FormParams = std::vector<std::pair<std::string, std::string>>;
/// Parses a query string or form body. A malformed escape or a repeated parameter is an error
/// (RFC 6749 §3.1: OAuth parameters must not be included more than once).
Result<FormParams> ParseForm(std::string_view text);
/// The value of `name`, or empty.
std::string FormValue(const FormParams& params, std::string_view name);
/// `k=v&k=v` with keys and values percent-encoded.
std::string EncodeForm(const FormParams& params);

}  // namespace palaver::sdk
