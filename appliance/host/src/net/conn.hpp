// One client connection (TCP, optionally TLS) and the protocol session that runs on it
// (HTTP/1.1, HTTP/2, WebSocket, raw). Loop thread only.
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/event_loop.hpp"
#include "palaver/sdk/http.hpp"

namespace palaver::host {
class NetServer;
struct ListenerSpec;
struct RouteEntry;
}  // namespace palaver::host

namespace palaver::host::net {

class Conn;
class Session;
struct OpenFile;

/// One request and its response, on an HTTP/1.1 connection or an HTTP/2 stream.
struct Exchange {
  Conn* conn = nullptr;        // null once the connection or stream is gone
  Session* session = nullptr;  // ditto
  int32_t stream_id = 0;       // HTTP/2 stream, 0 on HTTP/1.1
  Clock::time_point started = Clock::now();  // for the access log
  sdk::Request request;
  std::shared_ptr<const RouteEntry> route;
  std::string route_class = "none";
  int64_t max_body = 0;
  int64_t content_length = -1;  // declared body length, -1 unknown
  bool reading_body = false;
  bool discarding = false;  // the answer is given: further body bytes are dropped
  bool responded = false;
  bool close_after = false;
  bool finished = false;
  sdk::Response response;
  uint64_t body_pos = 0;
  // A file body (sdk::FileBody) is opened and read by the file threads (net/file_reader.hpp),
  // one chunk ahead of what the client takes: `file_buf` holds body bytes from
  // `file_buf_start`, `file_next` the chunk after it.
  std::shared_ptr<OpenFile> file;
  std::string file_buf;
  uint64_t file_buf_start = 0;
  std::string file_next;
  bool file_opening = false;  // the response waits for the file's first chunk
  bool file_reading = false;  // a chunk is being read
  bool file_failed = false;
  std::weak_ptr<Exchange> self;
  size_t budget_held = 0;  // bytes of the server-wide request-body budget this body holds
  size_t response_held = 0;  // bytes of this response's own body counted as held
  Clock::time_point body_started{};
  uint64_t body_received = 0;  // body bytes that arrived (kept or dropped)
  Clock::time_point rate_mark{};
  uint64_t rate_mark_bytes = 0;

  /// Checked when the body deadline passes, then every few seconds: true while the body arrived
  /// at `min_rate` bytes/s at least since the last check (the first check: since it started).
  bool BodyInTime(Clock::time_point now, std::chrono::seconds timeout, int64_t min_rate) {
    if (now - body_started < timeout) return true;
    Clock::time_point since = rate_mark == Clock::time_point{} ? body_started : rate_mark;
    const double secs = std::chrono::duration<double>(now - since).count();
    const bool ok = static_cast<double>(body_received - rate_mark_bytes) >= secs * static_cast<double>(min_rate);
    rate_mark = now;
    rate_mark_bytes = body_received;
    return ok;
  }
  NetServer* server = nullptr;

  ~Exchange();
  /// Whether the response carries body bytes on the wire.
  bool SendsBody() const;
  uint64_t BodyTotal() const { return response.ContentLength(); }
  /// ReadBody's answer when a file chunk is still being read: Session::OnBodyReady follows.
  static constexpr long kWouldBlock = -2;
  /// Copies up to `max` response-body bytes from body_pos on; advances body_pos. -1 on error,
  /// kWouldBlock while the next bytes of a file are being read.
  long ReadBody(uint8_t* dst, size_t max);
  /// Starts reading the next chunk of a file body unless one is read or buffered already.
  void ReadAhead();
};

/// A protocol running on a connection.
class Session {
 public:
  virtual ~Session() = default;
  /// New bytes are in the connection's input buffer.
  virtual void OnData() = 0;
  /// End of a loop round, or the output buffer drained: produce more output.
  virtual void Produce() {}
  /// The exchange's response is set (Deliver).
  virtual void OnResponse(Exchange& ex) = 0;
  /// More of the exchange's file body was read (after ReadBody said kWouldBlock).
  virtual void OnBodyReady(Exchange&) {}
  /// The server drains: finish what is in flight and close.
  virtual void OnDrain() {}
  /// The connection is gone: release exchanges, tell handlers.
  virtual void OnClosed() {}
  /// The connection's deadline passed.
  virtual void OnDeadline() = 0;
  /// A request is in flight (drain waits for it).
  virtual bool Busy() const { return false; }
};

class Conn final : public IoHandler {
 public:
  Conn(NetServer& server, int fd, uint64_t id, const ListenerSpec& spec, SSL* ssl, std::string peer);
  ~Conn() override;

  void OnIo(uint32_t events) override;
  /// Reads what the socket has (up to a per-call bound; the rest in a later round).
  void ReadAvailable();

  /// Queues bytes for sending (written at the end of the loop round).
  void Write(std::string_view bytes);
  std::string& OutBuffer() { return out_; }
  size_t Pending() const { return out_.size() - out_off_; }
  /// Marks the connection for Produce() + flush at the end of this loop round.
  void MarkDirty();
  /// Writes what is queued; called by the server at the end of a round and on EPOLLOUT.
  void Flush();
  /// Writes what is queued, then shuts the write side and reads (and drops) what the client still
  /// sends for a short while before closing, so that the last response is not lost to a reset.
  void CloseAfterFlush();
  /// Closes now. `reason` is logged at debug.
  void Close(std::string_view reason);
  /// Replaces the session after the current callback returns (HTTP/1.1 → WebSocket).
  void SwitchSession(std::unique_ptr<Session> next);
  Session* session() const { return session_.get(); }
  /// Stops reading while the session cannot take more input (pipelining); Resume reads again.
  void PauseReading() { read_paused_ = true; }
  /// The session can take input again: hands it what is buffered and reads on.
  void Kick();

  /// Gives the input and output buffers' memory back when they hold nothing (an idle
  /// WebSocket keeps none between messages).
  void ReleaseIdleBuffers();

  /// The session's deadline (header, idle, body or linger timeout); see NetServer.
  void SetDeadline(Clock::time_point when);
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }
  /// A deadline passed: output that made no progress for too long closes the connection; a
  /// lingering close ends; otherwise the session decides.
  void Expire();
  bool eof() const { return eof_; }
  Clock::time_point deadline() const { return std::min(deadline_, write_deadline_); }
  Clock::time_point heap_when = Clock::time_point::max();

  bool closed() const { return closed_; }
  bool closing() const { return closing_; }
  bool is_tls() const { return ssl_ != nullptr; }
  SSL* ssl() const { return ssl_; }
  NetServer& server() { return server_; }
  const ListenerSpec& spec() const { return spec_; }
  uint64_t id() const { return id_; }
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }
  std::string in;          // received plaintext not yet consumed by the session
  bool got_request = false;  // the header timeout no longer applies
  bool counted = true;       // in the per-address and open-connection counts
  int64_t response_bytes_held = 0;  // response bodies of this connection's exchanges, not yet sent

 private:
  void EndFlush();  // at Close: uncounts a connection CloseAfterFlush counted
  bool Handshake();
  void ArmWriteDeadline(Clock::time_point when);
  void StartSession();
  void DeliverInput();
  void Linger();

  NetServer& server_;
  int fd_;
  uint64_t id_;
  const ListenerSpec& spec_;
  SSL* ssl_;
  std::string peer_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Session> next_session_;
  // Sessions replaced during a callback; freed at the next top-level Flush, when no frame of
  // theirs can be on the stack.
  std::vector<std::unique_ptr<Session>> retired_;
  std::string out_;
  size_t out_off_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  // Output waiting for the client: set when a write blocks, moved on by every write that makes
  // progress, cleared when everything is written.
  Clock::time_point write_deadline_ = Clock::time_point::max();
  bool handshaking_ = false;
  bool closed_ = false;
  bool closing_ = false;   // CloseAfterFlush called
  int linger_unsent_ = -1;  // the kernel's unsent bytes at the last linger deadline
  bool flush_counted_ = false;  // counted in the server's flushing_ until closed (a close while
                                // the kernel still sends would reset the connection and lose it)
  bool lingering_ = false;  // write side shut, draining input
  bool dirty_ = false;
  bool read_paused_ = false;
  bool eof_ = false;
};

}  // namespace palaver::host::net
