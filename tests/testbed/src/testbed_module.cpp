#include "palaver/testbed/testbed_module.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/token_issuer.hpp"

#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/websocket.hpp"

namespace palaver::testbed {
namespace {

// Echoes text messages; "close" makes the server close with 4000; "flood:N" sends N 1 KB
// messages at once (for the slow-reader bound); "probe" answers what the upgrade request showed of
// its X-Probe header in OnOpen and shows now, and its path now (the host drops the headers after
// OnOpen).
class EchoSocket final : public sdk::WebSocketHandler {
 public:
  Status Accept(const sdk::Request& request) override {
    if (request.QueryParam("refuse")) return Fail(ErrorCode::kPermissionDenied, "refused by test");
    return OkStatus();
  }
  void OnOpen(sdk::WebSocket& socket) override {
    probe_at_open_[socket.Id()] = std::string(socket.UpgradeRequest().Header("x-probe").value_or("(none)"));
    socket.Send("hello " + std::to_string(socket.Id()));
  }
  void OnMessage(sdk::WebSocket& socket, std::string_view data, bool binary) override {
    if (binary) {
      socket.SendBinary(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
      return;
    }
    if (data == "close") {
      socket.Close(4000, "closed by request");
      return;
    }
    if (data == "probe") {
      const sdk::Request& req = socket.UpgradeRequest();
      socket.Send("probe open=" + probe_at_open_[socket.Id()] + " now=" +
                  std::string(req.Header("x-probe").value_or("(none)")) + " path=" + req.path +
                  " peer=" + socket.Peer() + " method=" + req.method + " query=" + req.query + " host=" + req.host +
                  " tls=" + (req.IsTls() ? "yes" : "no"));
      return;
    }
    if (data.rfind("flood:", 0) == 0) {
      int n = std::stoi(std::string(data.substr(6)));
      std::string chunk(1024, 'f');
      for (int i = 0; i < n; ++i) {
        if (!socket.Send(chunk)) break;
      }
      return;
    }
    socket.Send(std::string("echo:") + std::string(data));
  }
  void OnClose(sdk::WebSocket& socket) override { probe_at_open_.erase(socket.Id()); }

 private:
  std::map<uint64_t, std::string> probe_at_open_;  // net loop only
};

// Echoes raw (non-HTTP) connections on the TLS listener, prefixed.
class RawEcho final : public sdk::RawConnectionHandler {
 public:
  void OnOpen(sdk::RawConnection&) override {}
  void OnData(sdk::RawConnection& conn, std::span<const uint8_t> bytes) override {
    std::string out = "raw:" + std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    conn.Send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
  }
  void OnClose(sdk::RawConnection&) override {}
};

class TestbedModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override { return {.id = "testbed", .description = "test-only endpoints"}; }
  Status Configure(sdk::ConfigReader&) override { return OkStatus(); }

  Status Start(sdk::Host& host) override {
    sdk::Router& r = host.Http();
    PALAVER_RETURN_IF_ERROR(r.AddWebSocket({.path = "/testbed/ws", .max_message_bytes = 4096, .max_queued_bytes = 64 * 1024},
                                           std::make_shared<EchoSocket>()));
    PALAVER_RETURN_IF_ERROR(host.SetRawFallback(std::make_shared<RawEcho>()));
    PALAVER_RETURN_IF_ERROR(r.Add({.methods = {"POST", "PUT"}, .path = "/testbed/echo", .max_body_bytes = 1024 * 1024},
                                  [](const sdk::Request& req, sdk::Responder respond) {
                                    sdk::Response resp;
                                    resp.body = req.body;
                                    resp.SetHeader("content-type", "application/octet-stream");
                                    respond(std::move(resp));
                                  }));
    // An in-memory body of `kb` KiB (at most 4 MiB), built per request.
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/big"}, [](const sdk::Request& req, sdk::Responder respond) {
      size_t kb = 1;
      if (auto v = req.QueryParam("kb")) kb = std::min<size_t>(std::strtoul(v->c_str(), nullptr, 10), 4096);
      sdk::Response resp;
      resp.body.assign(kb * 1024, 'b');
      resp.SetHeader("content-type", "application/octet-stream");
      respond(std::move(resp));
    }));
    // The request headers as the handler sees them: [[name, value], ...].
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/headers"}, [](const sdk::Request& req, sdk::Responder respond) {
      std::string out = "[";
      for (const auto& [name, value] : req.headers) {
        if (out.size() > 1) out += ",";
        out += "[\"" + sdk::JsonEscape(name) + "\",\"" + sdk::JsonEscape(value) + "\"]";
      }
      respond(sdk::Response::Json(200, out + "]"));
    }));
    sdk::Workers* pool = &host.Pool();
    sdk::NetLoop* loop = &host.Loop();
    // Blocking work on a worker, answered from on_done on the loop.
    // `?ms=` (at most 10 s) holds the worker that long (fills the worker queue in tests).
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/worker"}, [pool, loop](const sdk::Request& req, sdk::Responder respond) {
      auto on_worker = std::make_shared<bool>(false);
      long ms = std::clamp(std::strtol(req.QueryParam("ms").value_or("50").c_str(), nullptr, 10), 0L, 10000L);
      pool->Submit([on_worker, loop, ms] {
        *on_worker = !loop->IsLoopThread();
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      }, [respond, on_worker, loop] {
        respond(sdk::Response::Text(200, std::string("worker=") + (*on_worker ? "yes" : "no") +
                                             " done_on_loop=" + (loop->IsLoopThread() ? "yes" : "no")));
      });
    }));
    // A Responder called directly from a worker thread.
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/worker-direct"}, [pool](const sdk::Request&, sdk::Responder respond) {
      pool->Submit([respond] { respond(sdk::Response::Text(200, "from worker")); }, nullptr);
    }));
    // A timer on the loop.
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/timer"}, [loop](const sdk::Request& req, sdk::Responder respond) {
      int ms = std::stoi(req.QueryParam("ms").value_or("100"));
      auto start = std::chrono::steady_clock::now();
      loop->Schedule(std::chrono::milliseconds(ms), [respond, start] {
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        respond(sdk::Response::Text(200, "waited_ms=" + std::to_string(waited.count())));
      });
    }));
    // A cancelled timer must never fire; answer after a later one.
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/timer-cancel"}, [loop](const sdk::Request&, sdk::Responder respond) {
      auto fired = std::make_shared<bool>(false);
      auto id = loop->Schedule(std::chrono::milliseconds(50), [fired] { *fired = true; });
      loop->Cancel(id);
      loop->Schedule(std::chrono::milliseconds(150), [respond, fired] {
        respond(sdk::Response::Text(200, std::string("cancelled_fired=") + (*fired ? "yes" : "no")));
      });
    }));
    // Mints an access token for a directory user: POST body "<username> <scope> <scope> ...".
    // Stands in for the OIDC code flow until it exists, so resource APIs can be tested with
    // real tokens. Test-only.
    sdk::Services* registry = &host.Registry();
    PALAVER_RETURN_IF_ERROR(r.Add({.methods = {"POST"}, .path = "/testbed/token", .max_body_bytes = 4096},
                                  [pool, registry](const sdk::Request& req, sdk::Responder respond) {
      std::vector<std::string> words;
      std::string w;
      for (char c : req.body + " ") {
        if (c == ' ' || c == '\n') {
          if (!w.empty()) words.push_back(std::move(w));
          w.clear();
        } else {
          w.push_back(c);
        }
      }
      if (words.empty()) {
        respond(sdk::Response::Text(400, "username first\n"));
        return;
      }
      pool->Submit([registry, words, respond] {
        auto users = registry->Find<sdk::UserDirectory>();
        auto issuer = registry->Find<sdk::TokenIssuer>();
        if (!users || !issuer) return respond(sdk::Response::Text(503, "no directory or issuer\n"));
        auto user = users->GetByUsername(words[0]);
        if (!user) return respond(sdk::Response::FromError(user.error()));
        auto standing = users->Standing(user->id);  // tokens carry the user's session epoch
        if (!standing) return respond(sdk::Response::FromError(standing.error()));
        // A word "lifetime=N" (seconds) gives the token that lifetime instead of the provider's.
        std::vector<std::string> scopes;
        std::chrono::seconds lifetime{0};
        for (auto it = words.begin() + 1; it != words.end(); ++it) {
          if (it->rfind("lifetime=", 0) == 0) {
            lifetime = std::chrono::seconds(std::stoll(it->substr(9)));
          } else {
            scopes.push_back(*it);
          }
        }
        sdk::AccessTokenRequest request{.subject = "sub-" + user->id, .audience = "testbed",
                                        .scopes = std::move(scopes), .user_id = user->id,
                                        .username = user->username, .display_name = user->display_name,
                                        .lifetime = lifetime, .session_epoch = standing->session_epoch};
        auto token = issuer->IssueAccessToken(request);
        if (!token) return respond(sdk::Response::FromError(token.error()));
        respond(sdk::Response::Text(200, *token));
      }, nullptr);
    }));
    // A guest sign-in request object, as the signaling module will mint them. Body:
    // "client_id path name..." (the scope is Meet's guest scope list).
    PALAVER_RETURN_IF_ERROR(r.Add({.methods = {"POST"}, .path = "/testbed/guest-request"},
                                  [registry = &host.Registry()](const sdk::Request& req, sdk::Responder respond) {
      std::istringstream in(req.body);
      sdk::GuestRequest g;
      in >> g.client_id >> g.path;
      std::getline(in, g.name);
      if (!g.name.empty() && g.name.front() == ' ') g.name.erase(0, 1);
      g.scope = "openid profile email kopano/kwm kopano/gc konnect/guestok";
      g.guest_id = sdk::RandomToken(24) + "@1.kwmguest";
      auto issuer = registry->Find<sdk::TokenIssuer>();
      if (!issuer) return respond(sdk::Response::Text(503, "no issuer\n"));
      auto token = issuer->IssueGuestRequest(g);
      if (!token) return respond(sdk::Response::FromError(token.error()));
      respond(sdk::Response::Text(200, *token));
    }));
    // A handler that throws: the host answers 500 and keeps serving.
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/throw"}, [](const sdk::Request&, sdk::Responder) {
      throw std::runtime_error("testbed handler failure");
    }));
    // A thread of the module's own, started through the host: "testbed-tick" counts ticks until
    // its stop token is set. The module never stops it itself (Stop below): the host must.
    auto ticks = std::make_shared<std::atomic<uint64_t>>(0);
    PALAVER_ASSIGN_OR_RETURN(thread_, host.Threads().StartThread("testbed-tick", [ticks](std::stop_token stop) {
      while (!stop.stop_requested()) {
        ticks->fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }));
    PALAVER_RETURN_IF_ERROR(r.Add({.path = "/testbed/thread"}, [ticks](const sdk::Request&, sdk::Responder respond) {
      respond(sdk::Response::Text(200, "ticks=" + std::to_string(ticks->load())));
    }));
    return OkStatus();
  }

  // Leaves thread_ running on purpose: the host stops and joins a module's threads after Stop.
  void Stop() override {}

 private:
  std::unique_ptr<sdk::Thread> thread_;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<TestbedModule>(); }

}  // namespace palaver::testbed
