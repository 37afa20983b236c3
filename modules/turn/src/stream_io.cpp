// The relay thread's TCP and TLS connections: accepting, the TLS handshake, reading and cutting
// frames (RFC 8656 §10: STUN messages and ChannelData back to back), queued writes with a bound,
// idle cut-off, and streams attached from outside (TURN over TLS on the HTTPS port).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "relay_thread.hpp"
#include "sockets.hpp"

namespace palaver::turn {
namespace {

constexpr size_t kStreamReadPerEvent = 256 * 1024;

}  // namespace

// --- streams attached from outside ----------------------------------------------------------------

void RelayThread::Attach(uint64_t id, ExternalStream ext) {
  auto s = std::make_unique<Stream>();
  s->external = true;
  s->external_id = id;
  s->tuple = FiveTuple{ext.client, ext.server, ext.transport};
  s->ext = std::move(ext);
  s->created_ms = s->last_ms = NowMs();
  Stream* raw = s.get();
  if (streams_.count(raw->tuple) != 0) {  // the same client address twice: refuse the newcomer
    if (raw->ext.close) raw->ext.close();
    return;
  }
  external_[id] = raw;
  streams_.emplace(raw->tuple, std::move(s));
  shared_.streams.fetch_add(1, std::memory_order_relaxed);
}

void RelayThread::ExternalData(uint64_t id, const std::vector<uint8_t>& bytes) {
  auto it = external_.find(id);
  if (it == external_.end()) return;
  now_ = NowMs();
  Stream& s = *it->second;
  s.in.insert(s.in.end(), bytes.begin(), bytes.end());
  s.last_ms = now_;
  if (!ProcessStreamInput(s)) {
    CloseStream(s, /*tell_external=*/true);
  }
  batch_.Flush();
}

void RelayThread::ExternalClosed(uint64_t id) {
  auto it = external_.find(id);
  if (it == external_.end()) return;
  now_ = NowMs();
  CloseStream(*it->second, /*tell_external=*/false);
  batch_.Flush();
}

// --- our own listeners ---------------------------------------------------------------------------

void RelayThread::OnAccept(StreamListener& l) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    auto client = FromSockaddr(ss);
    if (!client || shared_.streams.load(std::memory_order_relaxed) >= opt_.max_streams) {
      ::close(fd);
      continue;
    }
    sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    Address server = l.bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      server = FromSockaddr(local).value_or(server);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto s = std::make_unique<Stream>();
    s->fd = fd;
    s->tuple = FiveTuple{*client, server, l.tls ? Transport::kTls : Transport::kTcp};
    s->created_ms = s->last_ms = now_;
    if (l.tls) {
      s->ssl = SSL_new(opt_.tls_context);
      if (s->ssl == nullptr || SSL_set_fd(s->ssl, fd) != 1) {
        if (s->ssl != nullptr) SSL_free(s->ssl);
        ::close(fd);
        continue;
      }
      SSL_set_accept_state(s->ssl);
      s->handshaking = true;
    }
    if (streams_.count(s->tuple) != 0) {  // cannot happen with real sockets; be safe
      if (s->ssl != nullptr) SSL_free(s->ssl);
      ::close(fd);
      continue;
    }
    Stream* raw = s.get();
    streams_.emplace(raw->tuple, std::move(s));
    shared_.streams.fetch_add(1, std::memory_order_relaxed);
    Watch(*raw, EPOLLIN | EPOLLRDHUP);
  }
}

bool RelayThread::ContinueHandshake(Stream& s) {
  ERR_clear_error();
  int r = SSL_do_handshake(s.ssl);
  if (r == 1) {
    s.handshaking = false;
    SetWantOut(s, false);
    return true;
  }
  int e = SSL_get_error(s.ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    SetWantOut(s, false);  // level-triggered EPOLLOUT would spin while we wait for the client
    return true;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    SetWantOut(s, true);
    return true;
  }
  return false;
}

void RelayThread::OnStream(Stream& s, uint32_t events) {
  if ((events & (EPOLLERR | EPOLLHUP)) != 0 && (events & EPOLLIN) == 0) {
    CloseStream(s, false);
    return;
  }
  if (s.handshaking) {
    if (!ContinueHandshake(s)) {
      CloseStream(s, false);
      return;
    }
    if (s.handshaking) return;
  }
  if ((events & EPOLLOUT) != 0) {
    if (!FlushStream(s)) {
      CloseStream(s, false);
      return;
    }
  }
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 || (s.ssl != nullptr && SSL_pending(s.ssl) > 0)) {
    uint8_t buf[16384];
    size_t total = 0;
    bool eof = false;
    while (total < kStreamReadPerEvent) {
      ssize_t n;
      if (s.ssl != nullptr) {
        ERR_clear_error();
        int r = SSL_read(s.ssl, buf, sizeof(buf));
        if (r <= 0) {
          int e = SSL_get_error(s.ssl, r);
          if (e == SSL_ERROR_WANT_READ) break;
          if (e == SSL_ERROR_WANT_WRITE) {
            SetWantOut(s, true);
            break;
          }
          eof = true;
          break;
        }
        n = r;
      } else {
        n = ::read(s.fd, buf, sizeof(buf));
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == EINTR) continue;
          eof = true;
          break;
        }
        if (n == 0) {
          eof = true;
          break;
        }
      }
      total += static_cast<size_t>(n);
      s.in.insert(s.in.end(), buf, buf + n);
      s.last_ms = now_;
      if (!ProcessStreamInput(s)) {
        CloseStream(s, false);
        return;
      }
      if (Retired(&s)) return;
    }
    if (eof) CloseStream(s, false);
  }
}

bool RelayThread::ProcessStreamInput(Stream& s) {
  size_t off = 0;
  bool ok = true;
  while (off < s.in.size()) {
    Frame f = NextFrame({s.in.data() + off, s.in.size() - off});
    if (f.status == FrameStatus::kNeedMore) break;
    if (f.status != FrameStatus::kComplete) {
      drops_.Add(kDropStreamGarbage);
      ok = false;
      break;
    }
    Output o = server_->HandleClient({s.in.data() + off, f.size}, s.tuple, now_);
    Dispatch(o, /*peer_bytes_in_batch=*/false);
    off += f.size;
    if (Retired(&s)) return true;
  }
  if (ok && off > 0) s.in.erase(s.in.begin(), s.in.begin() + static_cast<ptrdiff_t>(off));
  return ok;
}

// --- writing -------------------------------------------------------------------------------------

void RelayThread::SetWantOut(Stream& s, bool want) {
  if (s.external || s.want_out == want) return;
  s.want_out = want;
  Modify(s, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
}

bool RelayThread::FlushStream(Stream& s) {
  while (s.out_off < s.out.size()) {
    const uint8_t* p = s.out.data() + s.out_off;
    size_t len = s.out.size() - s.out_off;
    ssize_t n;
    if (s.ssl != nullptr) {
      ERR_clear_error();
      int r = SSL_write(s.ssl, p, static_cast<int>(std::min<size_t>(len, 1 << 20)));
      if (r <= 0) {
        int e = SSL_get_error(s.ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          SetWantOut(s, true);
          return true;
        }
        return false;
      }
      n = r;
    } else {
      n = ::send(s.fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          SetWantOut(s, true);
          return true;
        }
        if (errno == EINTR) continue;
        return false;
      }
    }
    s.out_off += static_cast<size_t>(n);
  }
  s.out.clear();
  s.out_off = 0;
  SetWantOut(s, false);
  return true;
}

void RelayThread::StreamSend(Stream& s, std::span<const uint8_t> bytes) {
  if (s.external) {
    if (s.ext.send) s.ext.send(bytes);
    return;
  }
  if (s.handshaking) return;  // nothing can be for a client that has not finished TLS
  if (s.out.size() - s.out_off + bytes.size() > opt_.stream_send_queue_bytes) {
    drops_.Add(kDropQueueFull);
    return;
  }
  s.out.insert(s.out.end(), bytes.begin(), bytes.end());
  if (!s.want_out && !FlushStream(s)) CloseStream(s, false);
}

// --- closing -------------------------------------------------------------------------------------

void RelayThread::CloseStream(Stream& s, bool tell_external) {
  if (Retired(&s)) return;
  // RFC 8656 §3.1/§5: an allocation made over a TCP/TLS connection ends with the connection.
  server_->ConnectionClosed(s.tuple, now_);
  stale_.insert(&s);
  if (s.external) {
    external_.erase(s.external_id);
    if (tell_external && s.ext.close) s.ext.close();
  } else {
    epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
    if (s.ssl != nullptr) {
      SSL_free(s.ssl);
      s.ssl = nullptr;
    }
    ::close(s.fd);
  }
  auto it = streams_.find(s.tuple);
  if (it != streams_.end() && it->second.get() == &s) {
    Retire(std::move(it->second));
    streams_.erase(it);
  }
  shared_.streams.fetch_sub(1, std::memory_order_relaxed);
}

void RelayThread::CloseIdleStreams() {
  std::vector<Stream*> idle;
  for (auto& [tuple, s] : streams_) {
    if (s->handshaking && now_ - s->created_ms > opt_.tls_handshake_timeout_ms) {
      idle.push_back(s.get());
    } else if (now_ - s->last_ms > opt_.stream_idle_timeout_ms && server_->allocations().Find(tuple, now_) == nullptr) {
      idle.push_back(s.get());
    }
  }
  for (Stream* s : idle) CloseStream(*s, /*tell_external=*/true);
}

}  // namespace palaver::turn
