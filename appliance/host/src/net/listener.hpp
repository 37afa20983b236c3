// The listening sockets and the TLS context they hand to new connections (ALPN, SNI via the
// certificate provider, session resumption). Loop thread, except NewTlsContext (control thread).
#pragma once

#include <openssl/ssl.h>

#include "net/event_loop.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::host {
class NetServer;
struct ListenerSpec;
}  // namespace palaver::host

namespace palaver::host::net {

/// The server's TLS context: TLS 1.2+, ALPN (acme-tls/1, h2, http/1.1), certificates chosen per
/// SNI by `server.CertCallback`, SSL_MODE_RELEASE_BUFFERS. Null when OpenSSL cannot make one.
SSL_CTX* NewTlsContext(NetServer& server);

/// A listening socket; accepts on the loop and hands each new socket to NetServer::Accept.
class Listener final : public IoHandler {
 public:
  Listener(NetServer& server, const ListenerSpec& spec, SSL_CTX* ctx) : server_(server), spec_(spec), ctx_(ctx) {}
  ~Listener() override { Stop(); }

  /// Binds and listens (backlog 1024); watches the socket on the loop.
  Status Open();
  void Stop();
  void OnIo(uint32_t) override;
  int port() const { return port_; }

 private:
  NetServer& server_;
  const ListenerSpec& spec_;
  SSL_CTX* ctx_;
  int fd_ = -1;
  int port_ = -1;
};

}  // namespace palaver::host::net
