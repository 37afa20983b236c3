// The relay engine's palaver_turn_* metrics. Each relay thread counts in plain integers (its Server's
// counters, its own drop counters) and exports the differences once a second (MetricsExport),
// so that nothing on the data path touches a shared metric.
#pragma once

#include <cstddef>
#include <cstdint>

#include "allocations.hpp"
#include "palaver/sdk/metrics.hpp"
#include "server.hpp"

namespace palaver::turn {

// Why the engine dropped something: the Server's reasons first, then the engine's own.
enum Drop {
  kDropMalformed,
  kDropNoAllocation,
  kDropNoChannel,
  kDropNoPermission,
  kDropForbidden,
  kDropBandwidth,
  kDropUnauthenticated,
  kDropTooBig,
  kDropSendFailed,
  kDropQueueFull,
  kDropStreamGarbage,
  kDropCount,
};

// Drops counted by the engine itself (kDropTooBig and after), per thread.
struct EngineDrops {
  uint64_t count[kDropCount] = {};
  void Add(Drop d, uint64_t n = 1) { count[d] += n; }
};

// Metric objects shared by the threads (null members when there is no registry).
struct EngineMetrics {
  sdk::Gauge* allocations = nullptr;
  sdk::Gauge* permissions = nullptr;
  sdk::Gauge* channels = nullptr;
  sdk::Gauge* streams = nullptr;
  sdk::Counter* requests[5] = {};
  sdk::Counter* indications = nullptr;
  sdk::Counter* channel_data = nullptr;
  sdk::Counter* peer_data = nullptr;
  sdk::Counter* challenges = nullptr;
  sdk::Counter* auth_failures = nullptr;
  sdk::Counter* stale_nonces = nullptr;
  sdk::Counter* forbidden = nullptr;
  sdk::Counter* quota = nullptr;
  sdk::Counter* relay_failures = nullptr;
  sdk::Counter* errors = nullptr;
  sdk::Counter* packets[2] = {};  // to_peer, to_client
  sdk::Counter* bytes[2] = {};
  sdk::Counter* drops[kDropCount] = {};
};

// The metric objects of `registry` (made once per registry, kept as long as the process: metric
// objects live as long as their registry). `registry` may be null. Thread-safe.
const EngineMetrics& SharedMetrics(sdk::Metrics* registry);

// One relay thread's export: adds what changed since the last call.
// Thread: the relay thread (RetractGauges: after it stopped).
class MetricsExport {
 public:
  explicit MetricsExport(const EngineMetrics& metrics) : metrics_(metrics) {}
  void Publish(const ServerCounters& counters, const EngineDrops& drops, const TableStats& table, size_t streams);
  // Takes this thread's share out of the gauges (at stop).
  void RetractGauges();

 private:
  const EngineMetrics& metrics_;
  ServerCounters published_;
  uint64_t published_drops_[kDropCount] = {};
  int64_t last_allocations_ = 0, last_permissions_ = 0, last_channels_ = 0, last_streams_ = 0;
};

}  // namespace palaver::turn
