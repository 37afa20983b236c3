#include "engine_metrics.hpp"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace palaver::turn {
namespace {

constexpr const char* kDropNames[kDropCount] = {
    "malformed",   "no_allocation", "no_channel",        "no_permission", "forbidden_peer", "bandwidth",
    "unauthenticated_rate", "too_big", "send_failed", "stream_queue_full", "stream_garbage"};

void Add(sdk::Counter* c, uint64_t n) {
  if (c != nullptr && n != 0) c->Inc(n);
}

EngineMetrics MakeMetrics(sdk::Metrics* m) {
  EngineMetrics e;
  if (m == nullptr) return e;
  e.allocations = &m->GetGauge("palaver_turn_allocations", "TURN allocations.");
  e.permissions = &m->GetGauge("palaver_turn_permissions", "TURN permissions (all allocations).");
  e.channels = &m->GetGauge("palaver_turn_channels", "TURN channel bindings (all allocations).");
  e.streams = &m->GetGauge("palaver_turn_stream_connections", "TURN connections over TCP and TLS.");
  const char* methods[] = {"binding", "allocate", "refresh", "create_permission", "channel_bind"};
  for (int i = 0; i < 5; ++i) {
    e.requests[i] = &m->GetCounter("palaver_turn_requests_total", "STUN/TURN requests.", {{"method", methods[i]}});
  }
  e.indications = &m->GetCounter("palaver_turn_send_indications_total", "Send indications from clients.");
  e.channel_data = &m->GetCounter("palaver_turn_channel_data_total", "ChannelData messages from clients.");
  e.peer_data = &m->GetCounter("palaver_turn_peer_datagrams_total", "Datagrams from peers at relayed addresses.");
  e.challenges = &m->GetCounter("palaver_turn_challenges_total", "401 challenges to requests without credentials.");
  e.auth_failures = &m->GetCounter("palaver_turn_auth_failures_total", "Requests whose credentials did not hold.");
  e.stale_nonces = &m->GetCounter("palaver_turn_stale_nonces_total", "438 Stale Nonce answers.");
  e.forbidden = &m->GetCounter("palaver_turn_forbidden_peers_total", "403 answers for peers the policy refuses.");
  e.quota = &m->GetCounter("palaver_turn_quota_rejections_total", "Allocations refused by a quota (486, 508).");
  e.relay_failures = &m->GetCounter("palaver_turn_relay_failures_total", "Allocations without a relay port or family.");
  e.errors = &m->GetCounter("palaver_turn_error_responses_total", "Error responses of any kind.");
  e.packets[0] = &m->GetCounter("palaver_turn_relayed_packets_total", "Packets relayed.", {{"direction", "to_peer"}});
  e.packets[1] = &m->GetCounter("palaver_turn_relayed_packets_total", "Packets relayed.", {{"direction", "to_client"}});
  e.bytes[0] = &m->GetCounter("palaver_turn_relayed_bytes_total", "Payload bytes relayed.", {{"direction", "to_peer"}});
  e.bytes[1] = &m->GetCounter("palaver_turn_relayed_bytes_total", "Payload bytes relayed.", {{"direction", "to_client"}});
  for (int i = 0; i < kDropCount; ++i) {
    e.drops[i] = &m->GetCounter("palaver_turn_dropped_total", "Messages dropped.", {{"reason", kDropNames[i]}});
  }
  return e;
}

}  // namespace

const EngineMetrics& SharedMetrics(sdk::Metrics* registry) {
  static std::mutex mu;
  static std::vector<std::pair<sdk::Metrics*, std::unique_ptr<EngineMetrics>>> all;
  std::lock_guard lock(mu);
  for (auto& [reg, em] : all) {
    if (reg == registry) return *em;
  }
  all.emplace_back(registry, std::make_unique<EngineMetrics>(MakeMetrics(registry)));
  return *all.back().second;
}

void MetricsExport::Publish(const ServerCounters& c, const EngineDrops& drops, const TableStats& t, size_t streams) {
  const ServerCounters& p = published_;
  const EngineMetrics& m = metrics_;
  Add(m.requests[0], c.binding_requests - p.binding_requests);
  Add(m.requests[1], c.allocate_requests - p.allocate_requests);
  Add(m.requests[2], c.refresh_requests - p.refresh_requests);
  Add(m.requests[3], c.create_permission_requests - p.create_permission_requests);
  Add(m.requests[4], c.channel_bind_requests - p.channel_bind_requests);
  Add(m.indications, c.send_indications - p.send_indications);
  Add(m.channel_data, c.channel_data_in - p.channel_data_in);
  Add(m.peer_data, c.peer_data_in - p.peer_data_in);
  Add(m.challenges, c.challenges - p.challenges);
  Add(m.auth_failures, c.auth_failures - p.auth_failures);
  Add(m.stale_nonces, c.stale_nonces - p.stale_nonces);
  Add(m.forbidden, c.forbidden_peers - p.forbidden_peers);
  Add(m.quota, c.quota_rejections - p.quota_rejections);
  Add(m.relay_failures, c.relay_failures - p.relay_failures);
  Add(m.errors, c.error_responses - p.error_responses);
  Add(m.packets[0], c.packets_to_peer - p.packets_to_peer);
  Add(m.packets[1], c.packets_to_client - p.packets_to_client);
  Add(m.bytes[0], c.bytes_to_peer - p.bytes_to_peer);
  Add(m.bytes[1], c.bytes_to_client - p.bytes_to_client);
  Add(m.drops[kDropMalformed], c.dropped_malformed - p.dropped_malformed);
  Add(m.drops[kDropNoAllocation], c.dropped_no_allocation - p.dropped_no_allocation);
  Add(m.drops[kDropNoChannel], c.dropped_no_channel - p.dropped_no_channel);
  Add(m.drops[kDropNoPermission], c.dropped_no_permission - p.dropped_no_permission);
  Add(m.drops[kDropForbidden], c.dropped_forbidden - p.dropped_forbidden);
  Add(m.drops[kDropBandwidth], c.dropped_rate_limited - p.dropped_rate_limited);
  Add(m.drops[kDropUnauthenticated], c.dropped_unauthenticated_limit - p.dropped_unauthenticated_limit);
  for (int d = kDropTooBig; d < kDropCount; ++d) {
    Add(m.drops[d], drops.count[d] - published_drops_[d]);
    published_drops_[d] = drops.count[d];
  }
  published_ = c;
  auto gauge = [](sdk::Gauge* g, int64_t& last, int64_t now) {
    if (g != nullptr) g->Add(now - last);
    last = now;
  };
  gauge(m.allocations, last_allocations_, static_cast<int64_t>(t.allocations));
  gauge(m.permissions, last_permissions_, static_cast<int64_t>(t.permissions));
  gauge(m.channels, last_channels_, static_cast<int64_t>(t.channels));
  gauge(m.streams, last_streams_, static_cast<int64_t>(streams));
}

void MetricsExport::RetractGauges() {
  auto retract = [](sdk::Gauge* g, int64_t& last) {
    if (g != nullptr) g->Add(-last);
    last = 0;
  };
  retract(metrics_.allocations, last_allocations_);
  retract(metrics_.permissions, last_permissions_);
  retract(metrics_.channels, last_channels_);
  retract(metrics_.streams, last_streams_);
}

}  // namespace palaver::turn
