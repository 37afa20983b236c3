// The seam through which a module takes over non-HTTP connections on the TLS listener.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace palaver::sdk {

/// One raw (non-HTTP) connection that arrived on the TLS listener, after TLS.
/// Thread: net loop only.
class RawConnection {
 public:
  virtual ~RawConnection() = default;
  /// Queues bytes for sending. Returns false when the connection's send queue is full
  /// (the bytes are dropped; the caller decides whether to close).
  virtual bool Send(std::span<const uint8_t> bytes) = 0;
  virtual void Close() = 0;
  virtual const std::string& Peer() const = 0;  // the client's IP
  /// Transport addresses: "192.0.2.1:50123" / "[2001:db8::1]:443" (IPv4-mapped shown as IPv4).
  virtual const std::string& PeerEndpoint() const = 0;
  virtual const std::string& LocalEndpoint() const = 0;
  virtual uint64_t Id() const = 0;
};

/// Receives raw connections. The bytes that made the host give up on HTTP are the first
/// OnData. Thread: net loop only.
class RawConnectionHandler {
 public:
  virtual ~RawConnectionHandler() = default;
  virtual void OnOpen(RawConnection& conn) = 0;
  virtual void OnData(RawConnection& conn, std::span<const uint8_t> bytes) = 0;
  virtual void OnClose(RawConnection& conn) = 0;
};

}  // namespace palaver::sdk
