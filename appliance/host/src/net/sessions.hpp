// The protocol sessions a connection can run, and the WebSocket session the server keeps a list
// of (keepalive sweep, CloseWebSockets). Loop thread only.
#pragma once

#include <memory>
#include <string>

#include "net/conn.hpp"
#include "palaver/sdk/websocket.hpp"

namespace palaver::host {
struct WebSocketEntry;
}

namespace palaver::host::net {

std::unique_ptr<Session> MakeHttp1Session(Conn& conn);
std::unique_ptr<Session> MakeHttp2Session(Conn& conn);
std::unique_ptr<Session> MakeRawSession(Conn& conn);

/// Decides whether an HTTP/1.1 request is a WebSocket upgrade this server takes; answers a
/// refused upgrade with a status. On success the connection switches to a WsSession.
/// Returns false when the request is not an upgrade at all (serve it as HTTP).
bool TryWebSocketUpgrade(Conn& conn, const std::shared_ptr<Exchange>& ex);

class WsReader;

/// One WebSocket over an HTTP/1.1 connection.
class WsSession final : public Session, public sdk::WebSocket {
 public:
  WsSession(Conn& conn, uint64_t id, std::shared_ptr<const WebSocketEntry> entry, sdk::Request request);
  ~WsSession() override;

  // Session
  void OnData() override;
  void OnResponse(Exchange&) override {}
  void OnClosed() override;
  void OnDeadline() override;

  // sdk::WebSocket
  bool Send(std::string_view text) override;
  bool SendBinary(std::span<const uint8_t> bytes) override;
  void Close(int code, std::string_view reason) override;
  bool Closing() const override;
  uint64_t Id() const override { return id_; }
  const std::string& Peer() const override { return peer_; }
  const sdk::Request& UpgradeRequest() const override;
  size_t QueuedBytes() const override;

  /// Opens: the handler's OnOpen (after the 101 is queued).
  void Open();
  /// Keepalive: a PING when silent for `ping_after`, dropped when silent for `drop_after`.
  void Sweep(Clock::time_point now, Clock::duration ping_after, Clock::duration drop_after);
  /// The owning module stopped: close with 1001, no more handler calls.
  void Detach(const std::string& owner);

 private:
  bool Queue(int opcode, std::string_view payload);
  void Fail(int code, std::string_view reason);
  template <typename F>
  void Call(const char* what, F&& fn);

  /// After OnOpen: keeps what UpgradeRequest() promises in `kept_` and lets the Request go.
  void KeepRequestLine();

  Conn& conn_;
  uint64_t id_;
  std::shared_ptr<const WebSocketEntry> entry_;
  std::string peer_;
  // The whole upgrade request until OnOpen returns. After it an idle socket keeps only the
  // method, path, query and host, back to back in `kept_` (their lengths in `kept_len_`), and
  // the listener; UpgradeRequest() makes a Request of them again when a module asks (rare), so
  // an idle socket holds ~100 bytes instead of a 256-byte Request and its strings.
  mutable std::unique_ptr<sdk::Request> request_;
  std::string kept_;
  uint32_t kept_len_[3] = {0, 0, 0};  // method, path, query; the host is the rest
  sdk::Listener listener_;
  uint8_t http_version_ = 1;
  std::unique_ptr<WsReader> reader_;  // null while idle (Sweep), made again by OnData
  Clock::time_point last_rx_ = Clock::now();
  bool open_ = false;
  bool detached_ = false;
  bool closing_ = false;
  bool ping_outstanding_ = false;
  uint64_t pings_sent_ = 0;
};

}  // namespace palaver::host::net
