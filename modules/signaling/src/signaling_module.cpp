#include "palaver/signaling/signaling_module.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "guest.hpp"
#include "hub.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/token_issuer.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/turn_credentials.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/websocket.hpp"
#include "palaver/signaling/guest_policy.hpp"
#include "palaver/signaling/live_rooms.hpp"

namespace palaver::signaling {
namespace {

constexpr const char* kPrefix = "/api/kwm/v2";
constexpr const char* kWebSocketPrefix = "/api/kwm/v2/rtm/websocket/";
constexpr int64_t kKeyLifetimeSeconds = 30;
constexpr const char* kGuestsEnabled = "signaling.guests_enabled";
constexpr const char* kPublicRegexp = "signaling.public_guest_access_regexp";
constexpr const char* kGuestOnlyRooms = "signaling.allow_guest_only_channels";
constexpr const char* kGuestNameStyle = "signaling.guest_name_style";

// The typed accessor other modules use instead of reading our keys by name. Thread-safe
// (reads the settings snapshot); `settings` outlives the module.
class SettingsGuestPolicy final : public GuestPolicy {
 public:
  explicit SettingsGuestPolicy(sdk::Settings& settings) : settings_(settings) {}
  GuestPolicyValues Current() const override {
    GuestPolicyValues defaults;
    return {.guests_enabled = settings_.GetBool(kGuestsEnabled, defaults.guests_enabled),
            .public_room_regexp = settings_.GetString(kPublicRegexp, defaults.public_room_regexp),
            .guest_only_rooms = settings_.GetBool(kGuestOnlyRooms, defaults.guest_only_rooms)};
  }

 private:
  sdk::Settings& settings_;
};

HubLimits LimitsOf(const SignalingConfig& c) {
  return {.max_name_bytes = static_cast<size_t>(c.max_name_bytes),
          .max_groups_per_connection = static_cast<size_t>(c.max_groups_per_connection),
          .max_groups_per_user = static_cast<size_t>(c.max_groups_per_user),
          .max_calls_per_connection = static_cast<size_t>(c.max_calls_per_connection),
          .max_calls_per_user = static_cast<size_t>(c.max_calls_per_user)};
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double NowMonotonic() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// kwmserver answers HTTP errors with plain text (Go's http.Error).
sdk::Response PlainError(int status, const std::string& text) {
  auto r = sdk::Response::Text(status, text + "\n");
  r.SetHeader("access-control-allow-origin", "*");
  r.SetHeader("cache-control", "no-store");
  return r;
}

sdk::Response JsonOk(std::string body) {
  auto r = sdk::Response::Json(200, std::move(body) + "\n");
  r.SetHeader("access-control-allow-origin", "*");
  r.SetHeader("cache-control", "no-store");
  return r;
}

std::string TurnJson(const sdk::TurnCredential& t) {
  std::string uris;
  for (const auto& u : t.uris) uris += (uris.empty() ? "" : ",") + Quoted(u);
  return "{\"username\":" + Quoted(t.username) + ",\"password\":" + Quoted(t.password) +
         ",\"ttl\":" + std::to_string(t.ttl) + ",\"uris\":[" + uris + "]}";
}

// The guest's room from kc.authorizedClaims.passthru["kopano/kwm/guest"] (type "1" only).
std::optional<std::string> GuestPath(const std::string& raw_claims) {
  try {
    Poco::JSON::Parser parser;
    auto claims = parser.parse(raw_claims).extract<Poco::JSON::Object::Ptr>();
    auto authorized = claims->getObject("kc.authorizedClaims");
    auto passthru = authorized ? authorized->getObject("passthru") : nullptr;
    auto kwm = passthru ? passthru->getObject("kopano/kwm/guest") : nullptr;
    if (!kwm || kwm->optValue<std::string>("type", "") != "1") return std::nullopt;
    std::string path = kwm->optValue<std::string>("path", "");
    if (path.empty()) return std::nullopt;
    return path;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

class SignalingModule;

// Per-connection token bucket: `rate` messages per second sustained, `burst` at once.
struct Bucket {
  double tokens = 0;
  double last = 0;
  int strikes = 0;
};

class SignalingModule final : public sdk::Module, public sdk::WebSocketHandler, public Sink {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "signaling", .description = "WebRTC signaling (kwmserver-compatible)", .depends_on = {"oidc"}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseSignalingConfig(section);
    return OkStatus();
  }

  void Preflight(const sdk::HostInfo& /*host*/, sdk::ConfigReader& section) override {
    if (auto secret = ReadTurnSecret(pending_); !secret) {
      section.Reject("turn_shared_secret_file", secret.error().message);
    } else {
      sdk::WarnIfReadableByOthers(section, "turn_shared_secret_file", pending_.turn_shared_secret_file);
    }
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    host_ = &host;
    log_ = host.Logger();
    PALAVER_ASSIGN_OR_RETURN(turn_secret_, ReadTurnSecret(config_));
    external_turn_ = !turn_secret_.empty();
    // An unused turn_ttl is a config warning (config.cpp), which the host logs at start.
    auto& settings = host.Policy();
    const GuestPolicyValues defaults;
    PALAVER_RETURN_IF_ERROR(settings.Define({.key = kGuestsEnabled, .default_value = defaults.guests_enabled,
                                             .description = "Guests may join public groups through a link."}));
    PALAVER_RETURN_IF_ERROR(settings.Define(
        {.key = kPublicRegexp, .default_value = defaults.public_room_regexp,
         .description = "Rooms guests may join (ECMAScript regular expression over \"group/<name>\").",
         .validate = [](const sdk::SettingValue& v) -> std::string {
           try {
             std::regex re(std::get<std::string>(v));
           } catch (const std::regex_error& e) {
             return std::string("not a valid regular expression: ") + e.what();
           }
           return {};
         }}));
    PALAVER_RETURN_IF_ERROR(settings.Define(
        {.key = kGuestOnlyRooms, .default_value = defaults.guest_only_rooms,
         .description = "Guests may open a room that no registered user is in yet."}));
    PALAVER_RETURN_IF_ERROR(settings.Define(
        {.key = kGuestNameStyle, .default_value = std::string("prefixed"),
         .description = "How guests are named: prefixed (\"(Guest)Name\"), plain (the name they give) or random "
                        "(always a random \"Adjective Animal\").",
         .validate = [](const sdk::SettingValue& v) -> std::string {
           return ParseGuestNameStyle(std::get<std::string>(v)) ? "" : "must be prefixed, plain or random";
         }}));
    HubOptions options;
    options.hmac_key = sdk::RandomToken(32);
    options.now = NowSeconds;
    options.random = [](size_t n) { return sdk::RandomToken(n).substr(0, n); };
    policy_ = std::make_shared<SettingsGuestPolicy>(settings);
    options.guests_may_create = [this] { return policy_->Current().guest_only_rooms; };
    options.limits = LimitsOf(config_);
    hub_ = std::make_unique<Hub>(*this, std::move(options));
    auto& stats = host.Stats();
    connections_ = &stats.GetGauge("palaver_signaling_connections", "Open RTM WebSocket connections.");
    users_ = &stats.GetGauge("palaver_signaling_users", "Users with at least one connection.");
    channels_ = &stats.GetGauge("palaver_signaling_channels", "Open channels (calls and rooms).");
    guests_ = &stats.GetGauge("palaver_signaling_guests", "Guest connections.");
    messages_in_ = &stats.GetCounter("palaver_signaling_messages_total", "RTM messages.", {{"direction", "in"}});
    messages_out_ = &stats.GetCounter("palaver_signaling_messages_total", "RTM messages.", {{"direction", "out"}});
    drops_ = &stats.GetCounter("palaver_signaling_drops_total", "Messages dropped or connections closed for overload.",
                               {{"reason", "rate_limited"}});
    slow_drops_ = &stats.GetCounter("palaver_signaling_drops_total", "Messages dropped or connections closed for overload.",
                                    {{"reason", "slow_reader"}});
    connects_ok_ = &stats.GetCounter("palaver_signaling_connects_total", "rtm/connect requests.", {{"result", "ok"}});
    connects_refused_ = &stats.GetCounter("palaver_signaling_connects_total", "rtm/connect requests.", {{"result", "refused"}});
    guest_logons_ = &stats.GetCounter("palaver_signaling_guest_logons_total", "Guest logons.", {{"result", "ok"}});
    guest_refused_ = &stats.GetCounter("palaver_signaling_guest_logons_total", "Guest logons.", {{"result", "refused"}});
    fanout_latency_ = &stats.GetHistogram(
        "palaver_signaling_fanout_duration_seconds",
        "Time from an RTM message's arrival to every message it causes being queued to its receivers.",
        sdk::LatencyBuckets());
    PALAVER_RETURN_IF_ERROR(AddRoutes());
    host.Registry().Publish<GuestPolicy>(policy_);
    live_rooms_ = std::make_shared<HubRooms>(*this);
    host.Registry().Publish<LiveRooms>(live_rooms_);
    ScheduleSweep();
    ScheduleStandingCheck();
    log_->info("signaling ready turn={}", TurnSource());
    return OkStatus();
  }

  Status Reload() override {
    // Read and check on the control thread, apply on the net loop (the only reader): limits and
    // the external TURN settings then hold for new connections and requests.
    auto next = pending_;
    PALAVER_ASSIGN_OR_RETURN(std::string secret, ReadTurnSecret(next));
    host_->Loop().Post([this, next, secret] {
      config_ = next;
      turn_secret_ = secret;
      external_turn_ = !secret.empty();
      if (hub_) hub_->SetLimits(LimitsOf(config_));
    });
    return OkStatus();
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (host_ != nullptr && live_rooms_) host_->Registry().Withdraw<LiveRooms>();
    if (host_ == nullptr) return;
    if (policy_) host_->Registry().Withdraw<GuestPolicy>();
    if (timer_ != 0) host_->Loop().Cancel(timer_);
    if (standing_timer_ != 0) host_->Loop().Cancel(standing_timer_);
    host_->Loop().Post([this] {
      if (hub_) hub_->Goodbye();
      for (auto& [id, peer] : sockets_) peer.socket->Close(1001, "server shutting down");
    });
  }

  sdk::Health CheckHealth() const override {
    sdk::Health h;
    h.detail = "connections=" + std::to_string(connections_ ? connections_->Value() : 0) +
               " users=" + std::to_string(users_ ? users_->Value() : 0) +
               " channels=" + std::to_string(channels_ ? channels_->Value() : 0) +
               " guests=" + std::to_string(guests_ ? guests_->Value() : 0) + " turn=" + TurnSource();
    return h;
  }

  // --- WebSocketHandler (net loop) ------------------------------------------------------

  Status Accept(const sdk::Request& request) override {
    std::string key = request.path.substr(std::string(kWebSocketPrefix).size());
    auto it = pending_keys_.find(key);
    if (it == pending_keys_.end()) return Fail(ErrorCode::kNotFound, "unknown or used websocket key", "not found");
    Pending p = std::move(it->second);
    pending_keys_.erase(it);  // single use
    if (NowSeconds() - p.created > kKeyLifetimeSeconds) return Fail(ErrorCode::kNotFound, "expired websocket key", "not found");
    // The access token is checked again at upgrade time (it may have expired since connect).
    auto verifier = host_->Registry().Find<sdk::TokenVerifier>();
    if (!verifier || !verifier->VerifyAccessToken(p.access_token)) {
      return Fail(ErrorCode::kPermissionDenied, "access token no longer valid", "auth failed");
    }
    accepted_[key] = Pending{std::move(p.who), std::string(), NowSeconds()};
    return OkStatus();
  }

  void OnOpen(sdk::WebSocket& socket) override {
    std::string key = socket.UpgradeRequest().path.substr(std::string(kWebSocketPrefix).size());
    auto it = accepted_.find(key);
    if (it == accepted_.end()) return socket.Close(1008, "not authorized");
    Identity who = std::move(it->second.who);
    accepted_.erase(it);
    sockets_[socket.Id()] = Peer{&socket, Bucket{static_cast<double>(config_.message_burst), NowMonotonic(), 0}};
    // The hub has no use for the directory id: it moves here rather than being kept twice.
    if (!who.directory_id.empty()) standing_[socket.Id()] = Standing{std::move(who.directory_id), who.session_epoch};
    log_->debug("rtm connected user={} conn={} guest={}", who.user_id, socket.Id(), who.guest);
    hub_->Open(socket.Id(), std::move(who));
    UpdateGauges();
  }

  void OnMessage(sdk::WebSocket& socket, std::string_view data, bool binary) override {
    if (binary) return;  // ignored, as kwmserver does
    auto peer = sockets_.find(socket.Id());
    if (peer == sockets_.end()) return;  // refused in OnOpen
    Bucket& b = peer->second.bucket;
    double now = NowMonotonic();
    b.tokens = std::min<double>(static_cast<double>(config_.message_burst),
                                b.tokens + (now - b.last) * static_cast<double>(config_.messages_per_second));
    b.last = now;
    if (b.tokens < 1) {
      drops_->Inc();
      if (++b.strikes == 1) {
        socket.Send(ErrorMessage(0, "bad_message", "rate limit exceeded"));
      } else if (b.strikes > config_.message_burst) {
        socket.Close(1008, "rate limit exceeded");
      }
      return;
    }
    b.tokens -= 1;
    b.strikes = 0;
    uint64_t in = hub_->messages_in(), out = hub_->messages_out();
    sdk::ScopedTimer fanout(*fanout_latency_);
    hub_->Message(socket.Id(), data);
    fanout.Stop();
    messages_in_->Inc(hub_->messages_in() - in);
    messages_out_->Inc(hub_->messages_out() - out);
    UpdateGauges();
  }

  void OnClose(sdk::WebSocket& socket) override {
    uint64_t out = hub_->messages_out();
    hub_->Closed(socket.Id());
    messages_out_->Inc(hub_->messages_out() - out);
    sockets_.erase(socket.Id());
    standing_.erase(socket.Id());
    UpdateGauges();
  }

  // --- Sink (net loop) -------------------------------------------------------------------

  void Send(ConnId conn, std::string text) override {
    auto it = sockets_.find(conn);
    if (it == sockets_.end()) return;
    sdk::WebSocket& socket = *it->second.socket;
    // Closing already (its client sent a close frame, it was closed for a reason of its own):
    // the message has nobody to go to, and that is no overload.
    if (socket.Closing()) return;
    // A reader too far behind is disconnected by the host (bounded queue), never buffered
    // without limit: counted once, for the send that went over the bound.
    if (!socket.Send(text)) slow_drops_->Inc();
  }

  void Close(ConnId conn, int code, std::string reason) override {
    auto it = sockets_.find(conn);
    if (it != sockets_.end()) it->second.socket->Close(code, reason);
  }

 private:
  struct Pending {
    Identity who;
    std::string access_token;
    int64_t created = 0;
  };

  // The external TURN server's secret named by `config` (empty when none is configured).
  static Result<std::string> ReadTurnSecret(const SignalingConfig& config) {
    if (config.turn_shared_secret_file.empty()) return std::string();
    std::ifstream in(config.turn_shared_secret_file);
    if (!in) {
      return Fail(ErrorCode::kFailedPrecondition, "cannot read " + config.turn_shared_secret_file,
                  "signaling: cannot read turn_shared_secret_file " + config.turn_shared_secret_file);
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    secret.erase(secret.find_last_not_of(" \t\r\n") + 1);
    secret.erase(0, secret.find_first_not_of(" \t\r\n"));
    if (secret.empty()) {
      return Fail(ErrorCode::kFailedPrecondition, "empty TURN secret",
                  "signaling: turn_shared_secret_file " + config.turn_shared_secret_file + " is empty");
    }
    return secret;
  }

  // An external TURN server configured here wins (an administrator asked for it explicitly);
  // otherwise the built-in `turn` module's credentials, when it runs.
  std::string TurnSource() const {
    if (external_turn_) return "external";
    if (host_ && host_->Registry().Find<sdk::TurnCredentials>()) return "builtin";
    return "none";
  }

  std::optional<sdk::TurnCredential> Turn(const std::string& user, sdk::TurnUser who) const {
    if (turn_secret_.empty()) {
      auto service = host_->Registry().Find<sdk::TurnCredentials>();
      if (!service) return std::nullopt;
      auto c = service->Issue(user, who);
      if (c) return *c;
      log_->error("TURN credentials failed err={}", c.error().message);
      return std::nullopt;
    }
    return sdk::MakeTurnCredential(turn_secret_, user, NowSeconds(), config_.turn_ttl.count(), config_.turn_uris, who);
  }

  void UpdateGauges() {
    auto s = hub_->Stats();
    connections_->Set(static_cast<int64_t>(s.connections));
    users_->Set(static_cast<int64_t>(s.users));
    channels_->Set(static_cast<int64_t>(s.channels));
    guests_->Set(static_cast<int64_t>(s.guests));
  }

  // Open connections of users who were removed or disabled, or whose sessions ended (a password
  // change), are closed (1008): every session_check_interval, one directory lookup per distinct
  // user, on a worker. A directory that cannot answer keeps the connections.
  void ScheduleStandingCheck() {
    standing_timer_ = host_->Loop().Schedule(
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.session_check_interval), [this] {
          if (stopped_) return;
          CheckStanding();
          ScheduleStandingCheck();
        });
  }

  void CheckStanding() {
    if (standing_check_running_ || standing_.empty()) return;
    auto directory = host_->Registry().Find<sdk::UserDirectory>();
    if (!directory) return;
    std::vector<std::string> ids;
    std::unordered_set<std::string> seen;
    for (const auto& [conn, st] : standing_) {
      if (seen.insert(st.directory_id).second) ids.push_back(st.directory_id);
    }
    standing_check_running_ = true;
    // id → standing; nullopt: the user is gone; absent: the directory could not answer.
    using Answers = std::unordered_map<std::string, std::optional<sdk::UserStanding>>;
    host_->Pool().SubmitFor<Answers>(
        [directory, ids = std::move(ids)] {
          Answers out;
          for (const auto& id : ids) {
            auto standing = directory->Standing(id);
            if (standing) out[id] = *standing;
            else if (standing.error().code == ErrorCode::kNotFound) out[id] = std::nullopt;
          }
          return out;
        },
        [this](Answers answers) {
          standing_check_running_ = false;
          if (stopped_) return;
          std::vector<ConnId> ended;
          for (const auto& [conn, st] : standing_) {
            auto it = answers.find(st.directory_id);
            if (it == answers.end()) continue;
            if (!it->second || !it->second->enabled || it->second->session_epoch > st.epoch) ended.push_back(conn);
          }
          for (ConnId conn : ended) {
            auto socket = sockets_.find(conn);
            if (socket == sockets_.end()) continue;
            log_->info("rtm connection closed user={} conn={} reason=signed out (user removed, disabled or sessions ended)",
                       standing_[conn].directory_id, conn);
            standing_.erase(conn);
            socket->second.socket->Close(1008, "signed out");
          }
        });
  }

  void ScheduleSweep() {
    timer_ = host_->Loop().Schedule(std::chrono::seconds(60), [this] {
      if (stopped_) return;
      hub_->Sweep();
      int64_t now = NowSeconds();
      for (auto* keys : {&pending_keys_, &accepted_}) {
        for (auto it = keys->begin(); it != keys->end();) {
          it = now - it->second.created > kKeyLifetimeSeconds ? keys->erase(it) : std::next(it);
        }
      }
      guest_limiter_.clear();
      UpdateGauges();
      ScheduleSweep();
    });
  }

  Status AddRoutes() {
    auto& http = host_->Http();
    auto cors_preflight = [](const sdk::Request&, sdk::Responder respond) {
      sdk::Response r;
      r.status = 204;
      r.SetHeader("access-control-allow-origin", "*");
      r.SetHeader("access-control-allow-methods", "POST, GET, OPTIONS");
      r.SetHeader("access-control-allow-headers", "Accept, Content-Type, Authorization");
      r.SetHeader("access-control-max-age", "600");
      respond(std::move(r));
    };
    PALAVER_RETURN_IF_ERROR(http.Add(
        {.methods = {"POST", "GET", "OPTIONS"}, .path = std::string(kPrefix) + "/rtm/connect", .max_body_bytes = 32 * 1024,
         .route_class = "signaling"},
        [this, cors_preflight](const sdk::Request& req, sdk::Responder respond) {
          if (req.method == "OPTIONS") return cors_preflight(req, respond);
          WhenUserActive(req, respond, [this, req, respond] { HandleConnect(req, respond, false); });
        }));
    PALAVER_RETURN_IF_ERROR(http.Add(
        {.methods = {"POST", "GET", "OPTIONS"}, .path = std::string(kPrefix) + "/rtm/turn", .max_body_bytes = 32 * 1024,
         .route_class = "signaling"},
        [this, cors_preflight](const sdk::Request& req, sdk::Responder respond) {
          if (req.method == "OPTIONS") return cors_preflight(req, respond);
          WhenUserActive(req, respond, [this, req, respond] { HandleConnect(req, respond, true); });
        }));
    PALAVER_RETURN_IF_ERROR(http.Add(
        {.methods = {"POST", "OPTIONS"}, .path = std::string(kPrefix) + "/guest/logon", .max_body_bytes = 16 * 1024,
         .route_class = "signaling"},
        [this, cors_preflight](const sdk::Request& req, sdk::Responder respond) {
          if (req.method == "OPTIONS") return cors_preflight(req, respond);
          HandleGuestLogon(req, respond);
        }));
    return http.AddWebSocket({.path = kWebSocketPrefix, .match = sdk::Match::kPrefix,
                              .max_message_bytes = static_cast<size_t>(config_.max_message_bytes),
                              .max_queued_bytes = static_cast<size_t>(config_.max_queued_bytes),
                              .route_class = "signaling"},
                             std::shared_ptr<sdk::WebSocketHandler>(this, [](sdk::WebSocketHandler*) {}));
  }

  // Runs `then` on the net loop when the bearer token's user is still active (not removed or
  // disabled, sessions not ended): that takes a directory lookup, so it runs on a worker.
  void WhenUserActive(const sdk::Request& req, const sdk::Responder& respond, std::function<void()> then) {
    std::string header(req.Header("authorization").value_or(""));
    auto verifier = host_->Registry().Find<sdk::TokenVerifier>();
    if (!verifier || header.rfind("Bearer ", 0) != 0) return then();  // HandleConnect refuses these
    host_->Pool().SubmitFor<Result<sdk::TokenClaims>>(
        [verifier, token = header.substr(7)] { return verifier->VerifyActiveAccessToken(token); },
        [this, respond, then = std::move(then)](Result<sdk::TokenClaims> claims) {
          if (claims) return then();
          connects_refused_->Inc();
          respond(PlainError(claims.error().code == ErrorCode::kUnavailable ? 503 : 403, "auth failed"));
        });
  }

  // rtm/connect and rtm/turn (spec §2.2, §2.5). Net loop (token checks are in memory).
  void HandleConnect(const sdk::Request& req, const sdk::Responder& respond, bool turn_only) {
    auto refuse = [this, &respond](int status, const std::string& text) {
      connects_refused_->Inc();
      respond(PlainError(status, text));
    };
    auto form = sdk::ParseForm(req.body.empty() ? std::string_view(req.query) : std::string_view(req.body));
    if (!form) return refuse(400, form.error().public_message);
    std::string header(req.Header("authorization").value_or(""));
    size_t space = header.find(' ');
    if (space == std::string::npos || header.substr(0, space) != "Bearer") return refuse(403, "auth failed");
    std::string token = header.substr(space + 1);
    auto verifier = host_->Registry().Find<sdk::TokenVerifier>();
    if (!verifier) return refuse(503, "token service unavailable");
    auto claims = verifier->VerifyAccessToken(token);
    if (!claims) return refuse(403, "auth failed");
    for (const auto& scope : config_.required_scopes) {
      if (!claims->HasScope(scope)) return refuse(403, "auth failed");
    }
    Identity who;
    who.user_id = claims->user_id.empty() ? claims->subject : claims->user_id;
    if (!claims->guest && !claims->external) {
      who.directory_id = who.user_id;
      who.session_epoch = claims->session_epoch;
    }
    who.name = claims->display_name;
    if (std::string id_token = sdk::FormValue(*form, "id_token"); !id_token.empty()) {
      auto idt = verifier->VerifyIdToken(id_token, claims->audience);
      if (!idt || idt->subject != claims->subject || idt->issuer != claims->issuer) return refuse(403, "auth failed");
      if (!idt->name.empty()) who.name = idt->name;
    }
    std::string auth = sdk::FormValue(*form, "auth");
    if (auth == "1") {
      if (!claims->username.empty()) who.user_id = claims->username;
    } else if (!auth.empty() && auth != "0") {
      return refuse(403, "auth failed");
    }
    who.auth = auth;
    if (claims->guest) {
      if (!policy_->Current().guests_enabled) return refuse(403, "guest access is disabled");
      auto path = GuestPath(claims->raw_claims);
      if (!path) return refuse(403, "auth failed");
      who.guest = true;
      who.guest_path = *path;
      who.may_create = false;
    }
    if (std::string user = sdk::FormValue(*form, "user"); !user.empty() && user != who.user_id) {
      return refuse(403, "user does not match auth");
    }
    auto turn = Turn(who.user_id, who.guest ? sdk::TurnUser::kGuest : sdk::TurnUser::kMember);
    if (turn_only) {
      if (!turn) return refuse(404, "TURN is not configured");
      connects_ok_->Inc();
      return respond(JsonOk("{\"ok\":true,\"turn\":" + TurnJson(*turn) + "}"));
    }
    std::string key = sdk::RandomToken(24);  // 32 characters
    std::string body = "{\"ok\":true,\"url\":" + Quoted(std::string(kWebSocketPrefix) + key) + ",\"self\":{\"id\":" +
                       Quoted(who.user_id) + ",\"name\":" + Quoted(who.name) + ",\"auth\":" + Quoted(who.auth) + "}";
    if (turn) body += ",\"turn\":" + TurnJson(*turn);
    body += ",\"server_status\":{}}";
    pending_keys_[key] = Pending{std::move(who), std::move(token), NowSeconds()};
    if (pending_keys_.size() > 100000) {  // bounded: drop the oldest half of stale keys
      int64_t now = NowSeconds();
      for (auto it = pending_keys_.begin(); it != pending_keys_.end();) {
        it = now - it->second.created > 5 ? pending_keys_.erase(it) : std::next(it);
      }
    }
    connects_ok_->Inc();
    respond(JsonOk(std::move(body)));
  }

  // guest/logon (spec §2.6): a request object signed in-process by the OpenID provider.
  void HandleGuestLogon(const sdk::Request& req, const sdk::Responder& respond) {
    auto refuse = [this, &respond](int status, const std::string& text) {
      guest_refused_->Inc();
      respond(PlainError(status, text));
    };
    const GuestPolicyValues guests = policy_->Current();
    if (!guests.guests_enabled) return refuse(403, "guest access is disabled");
    if (++guest_limiter_[req.peer] > config_.guest_logons_per_minute) return refuse(429, "too many guest logons");
    auto form = sdk::ParseForm(req.body);
    if (!form) return refuse(400, form.error().public_message);
    GuestLogon logon;
    logon.client_id = sdk::FormValue(*form, "client_id");
    logon.scope = sdk::FormValue(*form, "scope");
    logon.guest = sdk::FormValue(*form, "guest");
    logon.path = sdk::FormValue(*form, "path");
    logon.token = sdk::FormValue(*form, "token");
    logon.name = sdk::FormValue(*form, "name");
    auto checked = CheckGuestLogon(logon, guests.public_room_regexp);
    if (!checked) {
      return refuse(checked.error().code == ErrorCode::kUnimplemented ? 501
                    : checked.error().code == ErrorCode::kPermissionDenied ? 403 : 400,
                    checked.error().public_message);
    }
    auto issuer = host_->Registry().Find<sdk::TokenIssuer>();
    if (!issuer) return refuse(503, "guest access is not set up");
    sdk::GuestRequest g{.client_id = logon.client_id, .scope = logon.scope, .guest_id = NewGuestId(),
                        .name = GuestDisplayName(logon.name, [](size_t n) { return sdk::RandomToken(n); },
                                                 ParseGuestNameStyle(host_->Policy().GetString(kGuestNameStyle, ""))
                                                     .value_or(GuestNameStyle::kPrefixed)),
                        .path = *checked};
    auto jwt = issuer->IssueGuestRequest(g);
    if (!jwt) {
      log_->error("guest request signing failed err={}", jwt.error().message);
      return refuse(500, "guest logon failed");
    }
    guest_logons_->Inc();
    log_->info("guest logon path={} client_id={} client={}", *checked, logon.client_id, req.peer);
    respond(JsonOk("{\"ok\":true,\"eqp\":{\"request\":" + Quoted(*jwt) + "},\"id\":" + Quoted(g.guest_id) +
                   ",\"name\":" + Quoted(logon.name) + "}"));
  }

  // LiveRooms for the admin console: the hub is read on the net loop only.
  class HubRooms final : public LiveRooms {
   public:
    explicit HubRooms(SignalingModule& m) : m_(m) {}
    void Snapshot(std::function<void(std::vector<LiveRoom>)> done) override {
      if (m_.stopped_) return;
      m_.host_->Loop().Post([this, done = std::move(done)] {
        if (m_.stopped_ || !m_.hub_) return;
        done(m_.hub_->Rooms());
      });
    }

   private:
    SignalingModule& m_;
  };

  std::shared_ptr<HubRooms> live_rooms_;
  SignalingConfig pending_;
  SignalingConfig config_;  // net loop (set in Start, then only there)
  sdk::Host* host_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;
  std::string turn_secret_;             // net loop (set in Start, then only there)
  std::atomic<bool> external_turn_{false};  // for CheckHealth on any thread
  std::unique_ptr<Hub> hub_;
  std::shared_ptr<SettingsGuestPolicy> policy_;
  std::atomic<bool> stopped_{false};
  sdk::NetLoop::TimerId timer_ = 0;
  // Net loop only.
  std::unordered_map<std::string, Pending> pending_keys_;
  std::unordered_map<std::string, Pending> accepted_;  // upgrade accepted, not yet open
  // One entry per open socket: the socket and its message rate bucket.
  struct Peer {
    sdk::WebSocket* socket = nullptr;
    Bucket bucket;
  };
  std::unordered_map<ConnId, Peer> sockets_;
  struct Standing {
    std::string directory_id;
    int64_t epoch = 0;
  };
  std::unordered_map<ConnId, Standing> standing_;  // users to check (not guests, not external)
  sdk::NetLoop::TimerId standing_timer_ = 0;
  bool standing_check_running_ = false;
  std::unordered_map<std::string, int64_t> guest_limiter_;  // per address, reset every minute
  sdk::Gauge* connections_ = nullptr;
  sdk::Gauge* users_ = nullptr;
  sdk::Gauge* channels_ = nullptr;
  sdk::Gauge* guests_ = nullptr;
  sdk::Counter* messages_in_ = nullptr;
  sdk::Counter* messages_out_ = nullptr;
  sdk::Histogram* fanout_latency_ = nullptr;
  sdk::Counter* drops_ = nullptr;
  sdk::Counter* slow_drops_ = nullptr;
  sdk::Counter* connects_ok_ = nullptr;
  sdk::Counter* connects_refused_ = nullptr;
  sdk::Counter* guest_logons_ = nullptr;
  sdk::Counter* guest_refused_ = nullptr;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<SignalingModule>(); }

}  // namespace palaver::signaling
