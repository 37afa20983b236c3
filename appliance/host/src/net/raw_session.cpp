// Raw connections: TURN over TLS on the HTTPS port. A TLS connection without ALPN h2 whose first
// byte is 0x00 or 0x01 (a STUN message; no HTTP request line starts so) is handed to the raw
// handler the turn module registered (sdk::RawConnectionHandler).
#include <deque>

#include <spdlog/spdlog.h>

#include "net/conn.hpp"
#include "net/sessions.hpp"
#include "net/util.hpp"
#include "net_server.hpp"

namespace palaver::host::net {

namespace {

class RawSession final : public Session, public sdk::RawConnection {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;

  explicit RawSession(Conn& conn) : conn_(conn), id_(conn.server().NextRawId()) {
    conn_.got_request = true;
    conn_.ClearDeadline();  // the raw handler decides how long an idle connection may live
    peer_endpoint_ = Endpoint(conn.fd(), true);
    local_endpoint_ = Endpoint(conn.fd(), false);
    conn_.server().raw_handler()->OnOpen(*this);
    opened_ = true;
  }

  void OnData() override {
    std::string data;
    data.swap(conn_.in);
    if (!data.empty()) {
      conn_.server().raw_handler()->OnData(
          *this, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    }
  }
  void OnResponse(Exchange&) override {}
  void OnClosed() override {
    if (opened_ && !conn_.server().destroying()) conn_.server().raw_handler()->OnClose(*this);
    opened_ = false;
  }
  void OnDeadline() override { conn_.Close("raw timeout"); }

  // Each Send is one message of the raw protocol (TURN: a STUN message or ChannelData), written
  // as a TLS record of its own: coturn's clients (turnutils_uclient, the documented check) take
  // one SSL_read as one message and lose the rest of a record that holds two. Produce() hands the
  // connection one message at a time; Conn::Flush writes it, drains, and asks for the next.
  bool Send(std::span<const uint8_t> bytes) override {
    if (conn_.closed() || conn_.closing()) return false;
    if (conn_.Pending() + queued_bytes_ + bytes.size() > kMaxQueuedBytes) return false;
    queue_.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    queued_bytes_ += bytes.size();
    conn_.MarkDirty();
    return true;
  }
  void Produce() override {
    if (queue_.empty() || conn_.Pending() > 0) return;
    conn_.Write(queue_.front());
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  void Close() override {
    for (const auto& m : queue_) conn_.Write(m);  // what was sent before the close still goes out
    queue_.clear();
    queued_bytes_ = 0;
    conn_.CloseAfterFlush();
  }
  const std::string& Peer() const override { return conn_.peer(); }
  const std::string& PeerEndpoint() const override { return peer_endpoint_; }
  const std::string& LocalEndpoint() const override { return local_endpoint_; }
  uint64_t Id() const override { return id_; }

 private:
  Conn& conn_;
  uint64_t id_;
  std::string peer_endpoint_;
  std::string local_endpoint_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool opened_ = false;
};

}  // namespace

std::unique_ptr<Session> MakeRawSession(Conn& conn) { return std::make_unique<RawSession>(conn); }

}  // namespace palaver::host::net
