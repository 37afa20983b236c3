#include "router.hpp"

#include <algorithm>

#include "worker_pool.hpp"

namespace palaver::host {
namespace {

bool MethodAllowed(const sdk::Route& route, const std::string& method) {
  if (route.methods.empty()) return method == "GET" || method == "HEAD";
  for (const auto& m : route.methods) {
    if (m == method) return true;
    if (m == "GET" && method == "HEAD") return true;
  }
  return false;
}

bool PathMatches(const std::string& route_path, sdk::Match match, const std::string& path) {
  if (match == sdk::Match::kExact) return path == route_path;
  if (path.compare(0, route_path.size(), route_path) != 0) return false;
  // "/api/x" as a prefix matches "/api/x", "/api/x/..." but not "/api/xy".
  return path.size() == route_path.size() || route_path.back() == '/' || path[route_path.size()] == '/';
}

std::string AllowList(const sdk::Route& route) {
  if (route.methods.empty()) return "GET, HEAD";
  std::string out;
  bool has_get = false, has_head = false;
  for (const auto& m : route.methods) {
    has_get |= m == "GET";
    has_head |= m == "HEAD";
  }
  for (const auto& m : route.methods) out += (out.empty() ? "" : ", ") + m;
  if (has_get && !has_head) out += ", HEAD";
  return out;
}

}  // namespace

Status RouterImpl::Add(const std::string& owner, sdk::Route route, sdk::Handler handler) {
  if (route.path.empty() || route.path[0] != '/') {
    return Fail(ErrorCode::kInvalidArgument, "route path must start with '/': " + route.path);
  }
  if (!handler) return Fail(ErrorCode::kInvalidArgument, "route without handler: " + route.path);
  if (route.route_class.empty()) route.route_class = owner;
  // A route that uses workers is refused with 503 while the worker queue is full.
  handler = HttpAdmission::Wrap(std::move(handler));
  std::lock_guard lock(mu_);
  for (const auto& e : table_->routes) {
    if (e->route.path == route.path && e->route.match == route.match &&
        e->route.on_https == route.on_https && e->route.on_http == route.on_http) {
      return Fail(ErrorCode::kAlreadyExists,
                  "route " + route.path + " already registered by module " + e->owner);
    }
  }
  auto next = std::make_shared<Table>(*table_);
  next->routes.push_back(std::make_shared<const RouteEntry>(RouteEntry{std::move(route), std::move(handler), owner}));
  // Longest path first; exact before prefix for equal paths.
  std::stable_sort(next->routes.begin(), next->routes.end(), [](const auto& a, const auto& b) {
    if (a->route.path.size() != b->route.path.size()) return a->route.path.size() > b->route.path.size();
    return a->route.match == sdk::Match::kExact && b->route.match != sdk::Match::kExact;
  });
  table_ = std::move(next);
  return OkStatus();
}

void RouterImpl::RemoveOwner(const std::string& owner) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Table>(*table_);
  std::erase_if(next->routes, [&](const auto& e) { return e->owner == owner; });
  std::erase_if(next->filters, [&](const auto& f) { return f.first == owner; });
  std::erase_if(next->websockets, [&](const auto& e) { return e->owner == owner; });
  table_ = std::move(next);
}

Status RouterImpl::AddWebSocket(const std::string& owner, sdk::WebSocketRoute route,
                                std::shared_ptr<sdk::WebSocketHandler> handler) {
  if (route.path.empty() || route.path[0] != '/') {
    return Fail(ErrorCode::kInvalidArgument, "websocket path must start with '/': " + route.path);
  }
  if (!handler) return Fail(ErrorCode::kInvalidArgument, "websocket route without handler: " + route.path);
  if (route.route_class.empty()) route.route_class = owner;
  std::lock_guard lock(mu_);
  for (const auto& e : table_->websockets) {
    if (e->route.path == route.path && e->route.match == route.match) {
      return Fail(ErrorCode::kAlreadyExists, "websocket " + route.path + " already registered by module " + e->owner);
    }
  }
  auto next = std::make_shared<Table>(*table_);
  next->websockets.push_back(
      std::make_shared<const WebSocketEntry>(WebSocketEntry{std::move(route), std::move(handler), owner}));
  std::stable_sort(next->websockets.begin(), next->websockets.end(), [](const auto& a, const auto& b) {
    if (a->route.path.size() != b->route.path.size()) return a->route.path.size() > b->route.path.size();
    return a->route.match == sdk::Match::kExact && b->route.match != sdk::Match::kExact;
  });
  table_ = std::move(next);
  return OkStatus();
}

std::shared_ptr<const WebSocketEntry> RouterImpl::LookupWebSocket(const std::string& path) const {
  auto table = Snapshot();
  for (const auto& e : table->websockets) {
    if (PathMatches(e->route.path, e->route.match, path)) return e;
  }
  return nullptr;
}

void RouterImpl::AddFilter(const std::string& owner, sdk::ResponseFilter filter) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Table>(*table_);
  next->filters.emplace_back(owner, std::move(filter));
  table_ = std::move(next);
}

std::shared_ptr<const RouterImpl::Table> RouterImpl::Snapshot() const {
  std::lock_guard lock(mu_);
  return table_;
}

RouteMatch RouterImpl::Lookup(const std::string& method, const std::string& path,
                              sdk::Listener listener) const {
  auto table = Snapshot();
  RouteMatch result;
  for (const auto& e : table->routes) {
    const auto& r = e->route;
    if (listener == sdk::Listener::kHttps ? !r.on_https : !r.on_http) continue;
    if (!PathMatches(r.path, r.match, path)) continue;
    if (MethodAllowed(r, method)) {
      result.kind = RouteMatch::Kind::kFound;
      result.entry = e;
      return result;
    }
    if (result.kind == RouteMatch::Kind::kNotFound) {
      result.kind = RouteMatch::Kind::kMethodNotAllowed;
      result.allow = AllowList(r);
    }
  }
  return result;
}

void RouterImpl::ApplyFilters(const sdk::Request& request, sdk::Response& response) const {
  auto table = Snapshot();
  for (const auto& [owner, filter] : table->filters) filter(request, response);
}

}  // namespace palaver::host
