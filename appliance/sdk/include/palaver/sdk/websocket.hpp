// WebSocket endpoints modules mount on the router (signaling's RTM channel, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// Where a WebSocket endpoint lives and its limits.
struct WebSocketRoute {
  std::string path;
  Match match = Match::kExact;
  /// A larger incoming message closes the connection with 1009.
  size_t max_message_bytes = 64 * 1024;
  /// Bytes queued for sending; a reader that falls further behind is disconnected (1008)
  /// instead of growing memory without bound.
  size_t max_queued_bytes = 1024 * 1024;
  /// Label for metrics; defaults to the module id.
  std::string route_class;
};

/// One open WebSocket. Owned by the host; valid from OnOpen until OnClose returns.
/// Thread: net loop only (use NetLoop::Post from other threads and look the socket up by Id).
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  /// Queues a text message. False (and the connection is closed with 1008) when the send queue
  /// is over its bound; false without closing when the socket is already closing.
  virtual bool Send(std::string_view text) = 0;
  virtual bool SendBinary(std::span<const uint8_t> bytes) = 0;
  /// Sends a close frame with `code` and `reason` once queued messages are written.
  virtual void Close(int code, std::string_view reason) = 0;
  /// True once the socket is closing: a close frame was sent or received, its send queue went
  /// over the bound, its module stopped or the connection failed. Send then returns false and
  /// drops the message; OnClose follows. Lets a module tell "already closing" from "too slow".
  virtual bool Closing() const = 0;
  virtual uint64_t Id() const = 0;
  virtual const std::string& Peer() const = 0;
  /// The upgrade request: complete (headers too) in the handler's Accept and OnOpen. After
  /// OnOpen returns the host keeps only its method, path, query, host, peer and listener (an
  /// idle socket should not hold the headers, cookies among them, for its lifetime); a handler
  /// that needs a header later copies it in OnOpen. A reference taken in Accept or OnOpen is not
  /// valid after OnOpen returns: call UpgradeRequest() again (it stays valid from then on).
  virtual const Request& UpgradeRequest() const = 0;
  virtual size_t QueuedBytes() const = 0;
};

/// Receives the events of one endpoint's sockets. Thread: net loop only.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  /// Decides on the upgrade before it is accepted; an error refuses it.
  virtual Status Accept(const Request& request) {
    (void)request;
    return OkStatus();
  }
  virtual void OnOpen(WebSocket& socket) = 0;
  virtual void OnMessage(WebSocket& socket, std::string_view data, bool binary) = 0;
  /// After this returns the WebSocket object is gone.
  virtual void OnClose(WebSocket& socket) = 0;
};

}  // namespace palaver::sdk
