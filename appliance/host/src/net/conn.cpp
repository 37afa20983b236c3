#include "net/conn.hpp"

#include <openssl/err.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "net/sessions.hpp"
#include "net_server.hpp"

namespace palaver::host::net {

namespace {
// Input held for a session that is not consuming (a pipelined request waiting for the previous
// answer): past this the connection stops reading until the session catches up.
constexpr size_t kMaxUnconsumedInput = 256 * 1024;
// Bytes one connection reads or writes per turn; then the others get theirs and it goes on in
// the next round.
constexpr size_t kMaxBytesPerTurn = 1024 * 1024;
// Output is compacted once this much of it was written.
constexpr size_t kCompactAfter = 64 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
// A connection closing after its last answer: how long a write may make no progress.
constexpr auto kCloseStall = std::chrono::seconds(10);
}  // namespace

Conn::Conn(NetServer& server, int fd, uint64_t id, const ListenerSpec& spec, SSL* ssl, std::string peer)
    : server_(server), fd_(fd), id_(id), spec_(spec), ssl_(ssl), peer_(std::move(peer)) {
  handshaking_ = ssl_ != nullptr;
  if (!handshaking_) StartSession();
}

Conn::~Conn() {
  retired_.clear();
  session_.reset();
  next_session_.reset();
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

void Conn::OnIo(uint32_t events) {
  if (closed_) return;
  if (handshaking_) {
    if (!Handshake()) return;
  }
  // Also on EPOLLIN: a TLS write may have waited for the peer's bytes.
  if ((events & EPOLLOUT) || Pending() > 0) {
    Flush();
    if (closed_) return;
  }
  ReadAvailable();
  if (!closed_ && (events & (EPOLLHUP | EPOLLERR))) Close("connection reset");
}

bool Conn::Handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshaking_ = false;
    StartSession();
    return !closed_;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
  unsigned long err = ERR_peek_last_error();
  char buf[160] = {0};
  if (err != 0) ERR_error_string_n(err, buf, sizeof buf);
  ERR_clear_error();
  Close(std::string("tls handshake failed: ") + (err != 0 ? buf : "connection closed"));
  return false;
}

void Conn::StartSession() {
  if (ssl_ != nullptr) {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
    if (alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0) {
      session_ = MakeHttp2Session(*this);
      return;
    }
    // Without h2 the first bytes decide between HTTP/1.1 and a raw (TURN) connection.
    if (server_.raw_handler() != nullptr) return;
  }
  session_ = MakeHttp1Session(*this);
}

void Conn::ReadAvailable() {
  static thread_local char buf[64 * 1024];
  bool got = false;
  size_t taken = 0;
  while (!closed_ && !read_paused_) {
    if (taken >= kMaxBytesPerTurn) {
      // Enough for this turn: the rest in a later round (edge-triggered: no new event would come).
      server_.ReadLater(id_);
      break;
    }
    ssize_t n;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int r = SSL_read(ssl_, buf, sizeof buf);
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        ERR_clear_error();
        eof_ = true;
        break;
      }
      n = r;
    } else {
      n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        eof_ = true;
        break;
      }
      if (n == 0) {
        eof_ = true;
        break;
      }
    }
    taken += static_cast<size_t>(n);
    if (lingering_) continue;  // closing: what the client still sends is dropped
    in.append(buf, static_cast<size_t>(n));
    got = true;
    if (in.size() >= kMaxUnconsumedInput) {
      DeliverInput();
      got = false;
      if (in.size() >= kMaxUnconsumedInput) PauseReading();
    }
  }
  if (got && !closed_) DeliverInput();
  if (closed_ || !eof_) return;
  if (lingering_) {
    Close("closed after the last response");
    return;
  }
  // The client closed (or half-closed) its side. What is being answered or written is finished
  // first (the session closes once its answer is out: it sees eof()); otherwise we are done.
  if (session_ != nullptr && session_->Busy()) {
    PauseReading();
    return;
  }
  if (closing_ || Pending() > 0) {
    PauseReading();
    CloseAfterFlush();
    return;
  }
  Close("peer closed");
}

void Conn::DeliverInput() {
  if (session_ == nullptr) {
    if (in.empty()) return;
    // The first byte of a STUN message is 0x00 or 0x01; no HTTP request line starts with it.
    const auto first = static_cast<unsigned char>(in[0]);
    session_ = (first <= 0x01 && server_.raw_handler() != nullptr) ? MakeRawSession(*this) : MakeHttp1Session(*this);
  }
  session_->OnData();
  while (next_session_ != nullptr && !closed_) {
    retired_.push_back(std::move(session_));
    session_ = std::move(next_session_);
    if (!in.empty()) session_->OnData();
  }
}

void Conn::SwitchSession(std::unique_ptr<Session> next) { next_session_ = std::move(next); }

void Conn::Kick() {
  if (closed_) return;
  if (!in.empty()) DeliverInput();
  if (!closed_ && read_paused_ && !eof_ && in.size() < kMaxUnconsumedInput) {
    read_paused_ = false;
    ReadAvailable();
  }
}

void Conn::Write(std::string_view bytes) {
  if (closed_ || lingering_) return;
  out_.append(bytes);
  MarkDirty();
}

void Conn::MarkDirty() {
  if (dirty_ || closed_) return;
  dirty_ = true;
  server_.MarkDirty(this);
}

void Conn::ArmWriteDeadline(Clock::time_point when) {
  write_deadline_ = when;
  if (when < heap_when) server_.ArmDeadline(this, when);
}

void Conn::Flush() {
  dirty_ = false;
  if (closed_ || handshaking_) return;
  std::vector<std::unique_ptr<Session>>().swap(retired_);  // top level: no frame of a replaced
                                                           // session is on the stack; capacity too
  if (session_ != nullptr && !lingering_) {
    session_->Produce();
    if (closed_) return;
  }
  size_t written = 0;
  for (;;) {
    while (Pending() > 0) {
      if (written >= kMaxBytesPerTurn) {
        MarkDirty();  // the rest in the next round; others write theirs first
        return;
      }
      const char* p = out_.data() + out_off_;
      size_t len = Pending();
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(len, 1 << 30)));
        if (r <= 0) {
          int e = SSL_get_error(ssl_, r);
          if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
          ERR_clear_error();
          Close("write failed");
          return;
        }
        n = r;
      } else {
        n = ::send(fd_, p, len, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          Close(std::string("write failed: ") + std::strerror(errno));
          return;
        }
      }
      out_off_ += static_cast<size_t>(n);
      written += static_cast<size_t>(n);
      // Unsent bytes stay first (a TLS write retry may move but not shrink its buffer).
      if (out_off_ >= kCompactAfter && out_off_ * 2 >= out_.size()) {
        out_.erase(0, out_off_);
        out_off_ = 0;
      }
    }
    if (Pending() > 0) {
      // Blocked: the client has until the write deadline to take more; progress moves it on.
      if (written > 0 || write_deadline_ == Clock::time_point::max()) {
        ArmWriteDeadline(Clock::now() + (closing_ ? Clock::duration(kCloseStall) : Clock::duration(server_.limits().idle_timeout)));
      }
      return;
    }
    out_.clear();
    out_off_ = 0;
    if (out_.capacity() > 256 * 1024) out_.shrink_to_fit();
    if (closing_ || lingering_) break;
    // Drained: a streaming response may write more now.
    if (session_ == nullptr) break;
    session_->Produce();
    if (closed_) return;
    if (Pending() == 0) break;
  }
  write_deadline_ = Clock::time_point::max();
  if (closing_ && !lingering_ && !closed_ && Pending() == 0) {
    if (eof_) {
      Close("done");
      return;
    }
    Linger();
  }
}

void Conn::ReleaseIdleBuffers() {
  if (Pending() == 0 && out_.capacity() > 0 && !dirty_) {
    std::string().swap(out_);
    out_off_ = 0;
  }
  if (in.empty()) std::string().swap(in);
}

void Conn::CloseAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  flush_counted_ = true;
  server_.FlushBegan();
  MarkDirty();
}

void Conn::EndFlush() {
  if (!flush_counted_) return;
  flush_counted_ = false;
  server_.FlushEnded();
}

void Conn::Linger() {
  lingering_ = true;
  read_paused_ = false;
  if (ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify; the answer is not awaited
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
  in.clear();
  SetDeadline(Clock::now() + kLingerTime);
  ReadAvailable();
}

void Conn::SetDeadline(Clock::time_point when) {
  deadline_ = when;
  if (when < heap_when) server_.ArmDeadline(this, when);
}

void Conn::Expire() {
  if (closed_) return;
  auto now = Clock::now();
  if (write_deadline_ <= now) {
    server_.log().debug("closing connection client={} reason=client does not read", peer_);
    Close("write stalled");
    return;
  }
  if (deadline_ > now) return;
  deadline_ = Clock::time_point::max();
  if (lingering_) {
    // Bytes the kernel still has to send (a download's tail in the socket buffer): closing now
    // could reset the connection and lose them. Linger on while the client keeps taking them.
    int unsent = 0;
    if (::ioctl(fd_, SIOCOUTQ, &unsent) == 0 && unsent > 0 && unsent != linger_unsent_) {
      linger_unsent_ = unsent;
      SetDeadline(now + kLingerTime);
      return;
    }
    Close("linger timeout");
  } else if (session_ == nullptr || handshaking_) {
    server_.header_timeouts_->Inc();
    server_.log().debug("closing connection client={} reason=header_timeout", peer_);
    Close("header timeout");
  } else {
    session_->OnDeadline();
  }
}

void Conn::Close(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  EndFlush();
  if (server_.log().should_log(spdlog::level::trace)) {
    server_.log().trace("connection closed client={} id={} reason={}", peer_, id_, reason);
  }
  server_.loop().Remove(fd_);
  if (session_ != nullptr) session_->OnClosed();
  if (next_session_ != nullptr) next_session_->OnClosed();
  server_.Closed(this);
}

}  // namespace palaver::host::net
