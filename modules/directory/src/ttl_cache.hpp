// A size-bounded LRU cache whose entries are fresh for a TTL and may be served stale (up to a
// limit) while the source is unavailable. Time is passed in, so tests need no clock.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace palaver::directory {

/// Thread-compatible: the owner serialises calls.
template <typename V>
class TtlCache {
 public:
  struct Hit {
    V value;
    bool fresh;
  };

  /// `max_bytes` bounds the sum of `cost(value) + key size` over entries; the least recently
  /// used go first. An entry costing more than `max_bytes` is not kept.
  TtlCache(size_t max_bytes, int64_t ttl_ms, int64_t max_stale_ms, std::function<size_t(const V&)> cost)
      : max_bytes_(max_bytes), ttl_ms_(ttl_ms), max_stale_ms_(max_stale_ms), cost_(std::move(cost)) {}

  /// The entry if it is younger than the TTL (`fresh`), or, with `allow_stale`, younger than
  /// TTL + max stale. Older entries are dropped.
  std::optional<Hit> Get(const std::string& key, int64_t now_ms, bool allow_stale) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    auto node = it->second;
    int64_t age = now_ms - node->stored_ms;
    if (age >= ttl_ms_ + max_stale_ms_) {
      Drop(it);
      return std::nullopt;
    }
    bool fresh = age < ttl_ms_;
    if (!fresh && !allow_stale) return std::nullopt;
    order_.splice(order_.begin(), order_, node);
    return Hit{node->value, fresh};
  }

  void Put(const std::string& key, V value, int64_t now_ms) {
    Erase(key);
    size_t cost = cost_(value) + key.size() + kOverhead;
    if (cost > max_bytes_) return;
    order_.push_front(Node{key, std::move(value), now_ms, cost});
    index_[key] = order_.begin();
    bytes_ += cost;
    while (bytes_ > max_bytes_ && !order_.empty()) Drop(index_.find(order_.back().key));
  }

  void Erase(const std::string& key) {
    auto it = index_.find(key);
    if (it != index_.end()) Drop(it);
  }

  void Clear() {
    order_.clear();
    index_.clear();
    bytes_ = 0;
  }

  size_t Bytes() const { return bytes_; }
  size_t Size() const { return index_.size(); }

 private:
  static constexpr size_t kOverhead = 64;  // list node + map slot, roughly
  struct Node {
    std::string key;
    V value;
    int64_t stored_ms;
    size_t cost;
  };
  using Iter = typename std::list<Node>::iterator;

  void Drop(typename std::unordered_map<std::string, Iter>::iterator it) {
    bytes_ -= it->second->cost;
    order_.erase(it->second);
    index_.erase(it);
  }

  size_t max_bytes_;
  int64_t ttl_ms_;
  int64_t max_stale_ms_;
  std::function<size_t(const V&)> cost_;
  std::list<Node> order_;
  std::unordered_map<std::string, Iter> index_;
  size_t bytes_ = 0;
};

}  // namespace palaver::directory
