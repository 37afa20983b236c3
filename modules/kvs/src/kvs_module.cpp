#include "palaver/kvs/kvs_module.hpp"

#include <spdlog/spdlog.h>

#include "kv_store.hpp"
#include "kvs_api.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/token_verifier.hpp"

namespace palaver::kvs {
namespace {

struct KvsConfig {
  std::vector<std::string> required_scopes = {"kopano/kvs"};
};

class KvsModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "kvs", .description = "per-user key-value store (/api/kvs/v1)", .depends_on = {"oidc"}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_.required_scopes = section.List("required_scopes", {"kopano/kvs"});
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    log_ = host.Logger();
    PALAVER_RETURN_IF_ERROR(host.Database().Migrate("kvs", KvStore::Migrations()));
    store_ = std::make_shared<KvStore>(host.Database());
    registry_ = &host.Registry();
    pool_ = &host.Pool();
    // A batch may carry 500 values of 16 KiB; a single PUT is checked against 16 KiB below.
    return host.Http().Add({.methods = {"GET", "PUT", "DELETE", "POST", "PATCH"},
                            .path = kKvsPrefix,
                            .match = sdk::Match::kPrefix,
                            .max_body_bytes = static_cast<int64_t>(kMaxBatchItems * kMaxValueBytes * 2),
                            // A write's token is checked before its body is read: a request
                            // without a valid one (signature, expiry, scope) gets kapi's empty 403
                            // at once. In memory, non-blocking; whether the user is still active
                            // is checked with the body, on a worker.
                            .head_check = [this](const sdk::Request& req) -> std::optional<sdk::Response> {
                              auto verifier = registry_->Find<sdk::TokenVerifier>();
                              auto claims = sdk::AuthorizeBearer(req, verifier.get(), config_.required_scopes);
                              if (claims) return std::nullopt;
                              log_->debug("kvs request refused before its body client={} err={}", req.peer,
                                          claims.error().message);
                              return sdk::BearerFailure(claims.error());
                            },
                            .route_class = "kvs"},
                           [this](const sdk::Request& req, sdk::Responder respond) { Handle(req, respond); });
  }

  Status Reload() override { return Fail(ErrorCode::kUnimplemented, "kvs settings apply after a restart"); }
  void Stop() override {}

 private:
  // The bearer check (a signature verification, ~100 µs) runs on a worker, never on the loop.
  void Handle(const sdk::Request& req, const sdk::Responder& respond) {
    pool_->Submit([this, req, respond] { HandleOnWorker(req, respond); }, nullptr);
  }

  // On a worker; the store work is queued as its own task.
  void HandleOnWorker(const sdk::Request& req, const sdk::Responder& respond) {
    auto verifier = registry_->Find<sdk::TokenVerifier>();
    auto claims = sdk::AuthorizeActiveBearer(req, verifier.get(), config_.required_scopes);
    if (!claims) {
      log_->debug("kvs request refused client={} err={}", req.peer, claims.error().message);
      respond(sdk::BearerFailure(claims.error()));
      return;
    }
    if (req.method != "GET" && req.method != "HEAD" && req.method != "PUT" && req.method != "DELETE") {
      respond(sdk::Response::FromError(Error{ErrorCode::kUnimplemented, "kvs method", "method not supported"}));
      return;
    }
    auto key = KeyFromPath(req.path);
    if (!key) {
      respond(sdk::Response::FromError(key.error()));
      return;
    }
    Scope scope{.owner = claims->user_id.empty() ? claims->subject : claims->user_id, .client = claims->audience};
    bool batch = req.QueryParam("batch").value_or("") == "1";
    bool recurse = req.QueryParam("recurse").value_or("") == "1";
    bool raw = req.QueryParam("raw").value_or("") == "1";
    std::string content_type(req.Header("content-type").value_or(""));
    if (req.method == "PUT" && !batch) {
      if (req.body.size() > kMaxValueBytes) {
        respond(sdk::Response::FromError(Error{ErrorCode::kPayloadTooLarge, "kvs value too large", "values are at most 16 KiB"}));
        return;
      }
      if (IsJsonType(content_type)) {
        if (auto valid = ValidateJson(req.body); !valid) {
          respond(sdk::Response::FromError(valid.error()));
          return;
        }
      }
    }
    auto store = store_;
    std::string method = req.method;
    std::string body = req.body;
    pool_->Submit([store, scope, key = *key, method, body, content_type, batch, recurse, raw, respond] {
      respond(Work(*store, scope, key, method, body, content_type, batch, recurse, raw));
    }, nullptr);
  }

  // Blocking: on a worker.
  static sdk::Response Work(KvStore& store, const Scope& scope, const std::string& key, const std::string& method,
                            const std::string& body, const std::string& content_type, bool batch, bool recurse,
                            bool raw) {
    auto ok_empty = [] {
      sdk::Response r;
      r.status = 200;
      return r;
    };
    if (method == "PUT") {
      if (batch) {
        auto records = ParseBatch(body, key);
        if (!records) return sdk::Response::FromError(records.error());
        if (auto st = store.PutBatch(scope, *records); !st) return sdk::Response::FromError(st.error());
        return ok_empty();
      }
      if (auto st = store.Put(scope, Record{key, body, content_type}); !st) return sdk::Response::FromError(st.error());
      return ok_empty();
    }
    if (method == "DELETE") {
      auto removed = store.Delete(scope, key);
      if (!removed) return sdk::Response::FromError(removed.error());
      if (!*removed) return sdk::Response::FromError(Error{ErrorCode::kNotFound, "no such key", "no such key"});
      return ok_empty();
    }
    auto json = [](std::string text) {
      auto r = sdk::Response::Json(200, std::move(text));
      r.SetHeader("cache-control", "no-store");
      return r;
    };
    if (recurse) {
      auto records = store.List(scope, key);
      if (!records) return sdk::Response::FromError(records.error());
      return json(EnvelopeArray(*records));
    }
    auto record = store.Get(scope, key);
    if (!record) return sdk::Response::FromError(record.error());
    if (!*record) return sdk::Response::FromError(Error{ErrorCode::kNotFound, "no such key", "no such key"});
    if (raw) {
      sdk::Response r;
      r.body = (*record)->value;
      r.SetHeader("content-type", (*record)->content_type.empty() ? "application/octet-stream" : (*record)->content_type);
      r.SetHeader("cache-control", "no-store");
      return r;
    }
    return json(Envelope(**record));
  }

  KvsConfig pending_;
  KvsConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<KvStore> store_;
  sdk::Services* registry_ = nullptr;
  sdk::Workers* pool_ = nullptr;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<KvsModule>(); }

}  // namespace palaver::kvs
