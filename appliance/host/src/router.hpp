// The router: routes requests to module handlers. Implements sdk::Router.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/http.hpp"
#include "palaver/sdk/websocket.hpp"

namespace palaver::host {

/// One registered route with its owner.
struct RouteEntry {
  sdk::Route route;
  sdk::Handler handler;
  std::string owner;  // module id
};

/// One registered WebSocket endpoint with its owner.
struct WebSocketEntry {
  sdk::WebSocketRoute route;
  std::shared_ptr<sdk::WebSocketHandler> handler;
  std::string owner;
};

/// What a lookup found.
struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
  std::shared_ptr<const RouteEntry> entry;
  std::string allow;  // for 405: the allowed methods
};

/// Thread-safe. Lookups copy a pointer to an immutable table under a short lock, so the net loop
/// never waits for a module registering routes on the control thread.
class RouterImpl {
 public:
  Status Add(const std::string& owner, sdk::Route route, sdk::Handler handler);
  void RemoveOwner(const std::string& owner);
  void AddFilter(const std::string& owner, sdk::ResponseFilter filter);
  Status AddWebSocket(const std::string& owner, sdk::WebSocketRoute route,
                      std::shared_ptr<sdk::WebSocketHandler> handler);
  /// The WebSocket endpoint for a path, or null.
  std::shared_ptr<const WebSocketEntry> LookupWebSocket(const std::string& path) const;

  RouteMatch Lookup(const std::string& method, const std::string& path, sdk::Listener listener) const;
  /// Runs every response filter (registration order).
  void ApplyFilters(const sdk::Request& request, sdk::Response& response) const;

 private:
  struct Table {
    std::vector<std::shared_ptr<const RouteEntry>> routes;
    std::vector<std::pair<std::string, sdk::ResponseFilter>> filters;
    std::vector<std::shared_ptr<const WebSocketEntry>> websockets;
  };
  std::shared_ptr<const Table> Snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const Table> table_ PALAVER_GUARDED_BY(mu_) = std::make_shared<Table>();
};

/// The sdk::Router a module sees: routes it adds are tagged with its id.
class ModuleRouter final : public sdk::Router {
 public:
  ModuleRouter(RouterImpl& router, std::string owner) : router_(router), owner_(std::move(owner)) {}
  Status Add(sdk::Route route, sdk::Handler handler) override {
    return router_.Add(owner_, std::move(route), std::move(handler));
  }
  void AddFilter(sdk::ResponseFilter filter) override { router_.AddFilter(owner_, std::move(filter)); }
  Status AddWebSocket(sdk::WebSocketRoute route, std::shared_ptr<sdk::WebSocketHandler> handler) override {
    return router_.AddWebSocket(owner_, std::move(route), std::move(handler));
  }

 private:
  RouterImpl& router_;
  std::string owner_;
};

}  // namespace palaver::host
