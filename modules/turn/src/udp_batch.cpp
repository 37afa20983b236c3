#include "udp_batch.hpp"

#include <cerrno>
#include <cstring>
#include <algorithm>

#include "sockets.hpp"

namespace palaver::turn {

void UdpBatch::RecvPool::Prepare(size_t n, bool want_control) {
  for (size_t i = used; i < used + n; ++i) {
    iov[i] = {data.data() + i * kSlot, kSlot};
    msghdr& h = msgs[i].msg_hdr;
    h.msg_name = &from[i];
    h.msg_namelen = sizeof(from[i]);
    h.msg_iov = &iov[i];
    h.msg_iovlen = 1;
    h.msg_control = want_control ? control[i] : nullptr;
    h.msg_controllen = want_control ? sizeof(control[i]) : 0;
    h.msg_flags = 0;
    msgs[i].msg_len = 0;
  }
}

size_t UdpBatch::NextRecvSlots(bool want_control) {
  if (tx_count_ == 0) rx_.used = 0;
  if (kPool - rx_.used < kBatch) {
    Flush();
    rx_.used = 0;
  }
  rx_.Prepare(kBatch, want_control);
  return rx_.used;
}

UdpBatch::Received UdpBatch::Receive(int fd, bool want_control) {
  size_t first = NextRecvSlots(want_control);
  int n = ::recvmmsg(fd, rx_.msgs + first, kBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return {first, 0};
  rx_.used += static_cast<size_t>(n);
  return {first, static_cast<size_t>(n)};
}

Address UdpBatch::Destination(size_t slot, const Address& bound) const {
  Address server = bound;
  auto* h = const_cast<msghdr*>(&rx_.msgs[slot].msg_hdr);
  for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      server = Address::FromBytes({reinterpret_cast<const uint8_t*>(&info.ipi_addr), 4}, bound.port()).value_or(server);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      server = Address::FromBytes({reinterpret_cast<const uint8_t*>(&info.ipi6_addr), 16}, bound.port()).value_or(server);
    }
  }
  return server;
}

void UdpBatch::Queue(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes, bool copy) {
  if (copy && bytes.size() > kSendSlot) {
    Flush();
    SendOne(fd, to, src, bytes);
    return;
  }
  if (tx_count_ == kSendBatch) Flush();
  SendEntry& e = tx_[tx_count_];
  e.fd = fd;
  e.to_len = ToSockaddr(to, e.to);
  e.has_src = src != nullptr;
  if (src != nullptr) e.src = *src;
  if (copy) {
    uint8_t* slot = tx_data_.data() + tx_count_ * kSendSlot;
    std::memcpy(slot, bytes.data(), bytes.size());
    e.data = slot;
  } else {
    e.data = bytes.data();
  }
  e.size = bytes.size();
  ++tx_count_;
}

size_t UdpBatch::FillSource(const Address& src, uint8_t* control) {
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (src.is_v4()) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, src.ip().data(), 4);
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    return CMSG_SPACE(sizeof(in_pktinfo));
  }
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, src.ip().data(), 16);
  std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  return CMSG_SPACE(sizeof(in6_pktinfo));
}

void UdpBatch::SendOne(int fd, const Address& to, const Address* src, std::span<const uint8_t> bytes) {
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(to, ss);
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr h{};
  h.msg_name = &ss;
  h.msg_namelen = len;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) uint8_t control[kCmsgSpace]{};
  if (src != nullptr) {
    h.msg_control = control;
    h.msg_controllen = FillSource(*src, control);
  }
  if (::sendmsg(fd, &h, MSG_DONTWAIT) < 0) drops_.Add(kDropSendFailed);
}

void UdpBatch::Flush() {
  if (tx_count_ == 0) return;
  for (size_t k = 0; k < tx_count_; ++k) tx_order_[k] = static_cast<uint16_t>(k);
  std::stable_sort(tx_order_, tx_order_ + tx_count_, [this](uint16_t a, uint16_t b) { return tx_[a].fd < tx_[b].fd; });
  size_t i = 0;
  while (i < tx_count_) {
    size_t j = i;
    while (j < tx_count_ && tx_[tx_order_[j]].fd == tx_[tx_order_[i]].fd) ++j;
    size_t n = j - i;
    int fd = tx_[tx_order_[i]].fd;
    for (size_t k = 0; k < n; ++k) {
      SendEntry& e = tx_[tx_order_[i + k]];
      tx_iov_[k] = {const_cast<uint8_t*>(e.data), e.size};
      msghdr& h = tx_msgs_[k].msg_hdr;
      h = msghdr{};
      h.msg_name = &e.to;
      h.msg_namelen = e.to_len;
      h.msg_iov = &tx_iov_[k];
      h.msg_iovlen = 1;
      if (e.has_src) {
        h.msg_control = tx_control_[k];
        h.msg_controllen = FillSource(e.src, tx_control_[k]);
      }
    }
    size_t sent = 0;
    while (sent < n) {
      int r = ::sendmmsg(fd, tx_msgs_ + sent, static_cast<unsigned>(n - sent), MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        drops_.Add(kDropSendFailed, n - sent);  // the socket buffer is full: UDP drops
        break;
      }
      drops_.Add(kDropSendFailed);  // this destination failed; go on with the rest
      ++sent;
    }
    i = j;
  }
  tx_count_ = 0;
}

}  // namespace palaver::turn
