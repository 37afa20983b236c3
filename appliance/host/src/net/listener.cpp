#include "net/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "net_server.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"

namespace palaver::host::net {

namespace {

int SslCertCallback(SSL* ssl, void* arg) { return static_cast<NetServer*>(arg)->CertCallback(ssl); }

// ALPN: h2 when offered, else http/1.1; a client offering neither (TURN clients may offer
// "stun.turn") gets no ALPN and is served by what its first bytes say. An ACME CA validating
// TLS-ALPN-01 offers only "acme-tls/1" and gets it (with the challenge certificate, see
// sdk::NoteAcmeTlsAlpnOffer); it closes the connection after the handshake.
int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kAcme[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
  static const unsigned char kH2[] = {2, 'h', '2'};
  static const unsigned char kH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (const unsigned char* want : {kAcme, kH2, kH1}) {
    if (want == kAcme && !sdk::IsAcmeTlsAlpnHandshake(ssl)) continue;
    for (unsigned int i = 0; i < inlen;) {
      unsigned int n = in[i];
      if (i + 1 + n > inlen) break;
      if (n == want[0] && std::memcmp(in + i + 1, want + 1, n) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + n;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

SSL_CTX* NewTlsContext(NetServer& server) {
  SSL_CTX* ctx = sdk::NewServerTlsContext();
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_cert_cb(ctx, SslCertCallback, &server);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  SSL_CTX_set_client_hello_cb(ctx, sdk::NoteAcmeTlsAlpnOffer, nullptr);
  static const unsigned char kSessionContext[] = "palaver";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

Status Listener::Open() {
  in_addr v4{};
  in6_addr v6{};
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET6;
  if (!spec_.address.empty() && inet_pton(AF_INET, spec_.address.c_str(), &v4) == 1) {
    family = AF_INET;
    auto& sin = reinterpret_cast<sockaddr_in&>(ss);
    sin.sin_family = AF_INET;
    sin.sin_addr = v4;
    sin.sin_port = htons(static_cast<uint16_t>(spec_.port));
    len = sizeof sin;
  } else {
    if (!spec_.address.empty() && inet_pton(AF_INET6, spec_.address.c_str(), &v6) != 1) {
      return Fail(ErrorCode::kInvalidArgument, "listen address " + spec_.address + " is not an IP address");
    }
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = spec_.address.empty() ? in6addr_any : v6;
    sin6.sin6_port = htons(static_cast<uint16_t>(spec_.port));
    len = sizeof sin6;
  }
  fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Fail(ErrorCode::kUnavailable, std::string("socket: ") + std::strerror(errno));
  int one = 1, zero = 0;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // "All addresses" means IPv4 too; an explicit IPv6 address only that one.
  if (family == AF_INET6) setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, spec_.address.empty() ? &zero : &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, 1024) != 0) {
    int err = errno;
    return Fail(ErrorCode::kUnavailable, "cannot listen on " +
                                             (spec_.address.empty() ? std::string("*") : spec_.address) + ":" +
                                             std::to_string(spec_.port) + " (" + spec_.name + "): " +
                                             std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                           : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  return server_.loop().Add(fd_, this, EPOLLIN);
}

void Listener::Stop() {
  if (fd_ < 0) return;
  server_.loop().Remove(fd_);
  ::close(fd_);
  fd_ = -1;
}

void Listener::OnIo(uint32_t) {
  for (int i = 0; i < 256 && fd_ >= 0; ++i) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        server_.log().warn("accept failed: {} (raise the open-files limit)", std::strerror(errno));
      }
      return;
    }
    server_.Accept(fd, spec_, ctx_);
  }
  // More may be waiting: take them on the next round so one listener cannot starve the others.
  if (fd_ >= 0) server_.Post([this] { OnIo(EPOLLIN); });
}

}  // namespace palaver::host::net
