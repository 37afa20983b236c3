// Batched UDP I/O of a relay thread: receive slots for recvmmsg and a send queue flushed with one
// sendmmsg per socket.
//
// The receive slots serve a whole round of epoll events: data to peers is sent straight from its
// slot (no copy), so slots stay in use until the round's sends are flushed, and sends to one
// socket from many events go out in one sendmmsg. Sends whose bytes live elsewhere (the Server's
// output buffer, reused by its next call) are copied into a send slot.
// Thread: the owning relay thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "address.hpp"
#include "engine_metrics.hpp"

namespace palaver::turn {

class UdpBatch {
 public:
  static constexpr size_t kBatch = 32;     // datagrams per recvmmsg
  static constexpr size_t kPool = 256;     // receive slots shared by one round of epoll events
  static constexpr size_t kSlot = 4096;    // bytes per receive slot (bigger datagrams are dropped)
  static constexpr size_t kSendBatch = 256;  // datagrams queued before sendmmsg
  static constexpr size_t kSendSlot = 2048;  // copied output up to this size is batched
  static constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

  // Caller keeps ownership of `drops` (send failures are counted there); it must outlive this.
  explicit UdpBatch(EngineDrops& drops) : drops_(drops) {}
  UdpBatch(const UdpBatch&) = delete;
  UdpBatch& operator=(const UdpBatch&) = delete;

  // Receives up to kBatch datagrams from `fd` into fresh slots (with IP_PKTINFO control data
  // when `want_control`). Returns the first slot and the number received (0 on EAGAIN/error).
  struct Received {
    size_t first = 0;
    size_t count = 0;
  };
  Received Receive(int fd, bool want_control);
  bool Truncated(size_t slot) const { return (rx_.msgs[slot].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
  std::span<const uint8_t> Data(size_t slot) const { return {rx_.data.data() + slot * kSlot, rx_.msgs[slot].msg_len}; }
  const sockaddr_storage& From(size_t slot) const { return rx_.from[slot]; }
  // The address the datagram in `slot` was sent to (from IP_PKTINFO), with `bound`'s port;
  // `bound` itself when there is no control data.
  Address Destination(size_t slot, const Address& bound) const;

  // Queues a datagram from `fd` to `to` (from source address `src` when not null: wildcard
  // listeners answer from the address the client used). `copy`: the bytes are copied now;
  // otherwise they must stay valid until Flush (they are in a receive slot).
  void Queue(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes, bool copy);
  // Sends everything queued: one sendmmsg per socket, order kept per socket.
  void Flush();
  bool empty() const { return tx_count_ == 0; }

 private:
  struct RecvPool {
    std::vector<uint8_t> data = std::vector<uint8_t>(kPool * kSlot);
    mmsghdr msgs[kPool]{};
    iovec iov[kPool]{};
    sockaddr_storage from[kPool]{};
    alignas(cmsghdr) uint8_t control[kPool][kCmsgSpace]{};
    size_t used = 0;
    void Prepare(size_t n, bool want_control);  // sets up the next `n` slots from `used`
  };

  struct SendEntry {
    int fd = -1;
    sockaddr_storage to{};
    socklen_t to_len = 0;
    bool has_src = false;
    Address src;
    const uint8_t* data = nullptr;
    size_t size = 0;
  };

  // The first slot for the next recvmmsg of at most kBatch datagrams. Slots are reused only
  // when no queued send points into them.
  size_t NextRecvSlots(bool want_control);
  void SendOne(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes);
  static size_t FillSource(const Address& src, uint8_t* control);

  EngineDrops& drops_;
  RecvPool rx_;
  SendEntry tx_[kSendBatch];
  uint16_t tx_order_[kSendBatch]{};
  size_t tx_count_ = 0;
  std::vector<uint8_t> tx_data_ = std::vector<uint8_t>(kSendBatch * kSendSlot);
  mmsghdr tx_msgs_[kSendBatch]{};
  iovec tx_iov_[kSendBatch]{};
  alignas(cmsghdr) uint8_t tx_control_[kSendBatch][kCmsgSpace]{};
};

}  // namespace palaver::turn
