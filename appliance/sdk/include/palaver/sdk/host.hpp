// What the host offers a module: logging, routing, loops, store, settings, metrics, services.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/metrics.hpp"
#include "palaver/sdk/net_loop.hpp"
#include "palaver/sdk/raw_connection.hpp"
#include "palaver/sdk/settings.hpp"
#include "palaver/sdk/store.hpp"
#include "palaver/sdk/threads.hpp"

namespace spdlog {
class logger;
}

namespace palaver::sdk {

/// Host-wide facts from the `[palaver]` section. Value type.
struct HostInfo {
  std::vector<std::string> hostnames;   // first one is the canonical public name
  std::filesystem::path state_dir;
  int https_port = 0;                   // the HTTPS port; an ephemeral (0) one is replaced by the
                                        // bound port once the listeners are open
  int http_port = 0;                    // -1 when the plain listener is off
  std::string listen_address;           // the host's listeners' address; empty: every address
  bool foreground = true;
  std::string version;
};

/// Publishes and finds the small service interfaces modules share (CertificateProvider,
/// TokenVerifier, ...). Thread-safe.
class Services {
 public:
  virtual ~Services() = default;
  template <typename T>
  void Publish(std::shared_ptr<T> service) {
    PublishErased(std::type_index(typeid(T)), std::static_pointer_cast<void>(std::move(service)));
  }
  template <typename T>
  std::shared_ptr<T> Find() const {
    return std::static_pointer_cast<T>(FindErased(std::type_index(typeid(T))));
  }
  template <typename T>
  void Withdraw() {
    PublishErased(std::type_index(typeid(T)), nullptr);
  }

 protected:
  virtual void PublishErased(std::type_index type, std::shared_ptr<void> service) = 0;
  virtual std::shared_ptr<void> FindErased(std::type_index type) const = 0;
};

/// The host as one module sees it (its logger, its routes). Owned by the host; valid from
/// Start until after Stop. Thread-safe unless a method says otherwise.
class Host {
 public:
  virtual ~Host() = default;
  virtual const HostInfo& Info() const = 0;
  /// This module's named logger (name = module id).
  virtual std::shared_ptr<spdlog::logger> Logger() = 0;
  virtual Router& Http() = 0;
  virtual NetLoop& Loop() = 0;
  virtual Workers& Pool() = 0;
  /// Threads of the module's own (named, counted, stopped and joined by the host at the latest
  /// when the module stops). Blocking work belongs on Pool(); this is for long-lived loops.
  virtual ThreadHost& Threads() = 0;
  virtual Store& Database() = 0;
  virtual Settings& Policy() = 0;
  virtual Metrics& Stats() = 0;
  virtual Services& Registry() = 0;
  /// Takes over TLS-listener connections whose first bytes are not HTTP (one handler at most).
  virtual Status SetRawFallback(std::shared_ptr<RawConnectionHandler> handler) = 0;
};

}  // namespace palaver::sdk
