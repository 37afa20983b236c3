#include "clients.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <yaml-cpp/yaml.h>

#include "authorize.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

bool IsLocalhost(const std::string& host) { return host == "localhost" || host == "127.0.0.1" || host == "::1"; }

// scheme://authority/path of a URL (query and fragment dropped), for matching.
std::string Reduced(const Url& u) { return u.scheme + "://" + u.authority + u.path; }

Poco::JSON::Array::Ptr ToArray(const std::vector<std::string>& values) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto& v : values) a->add(v);
  return a;
}

std::vector<std::string> FromArray(const Poco::JSON::Object& o, const char* name) {
  std::vector<std::string> out;
  if (auto a = o.getArray(name)) {
    for (size_t i = 0; i < a->size(); ++i) {
      if (a->get(i).isString()) out.push_back(a->getElement<std::string>(i));
    }
  }
  return out;
}

std::string ToJson(const Client& c) {
  Poco::JSON::Object o;
  o.set("name", c.name);
  o.set("secret_hash", c.secret_hash);
  o.set("trusted", c.trusted);
  o.set("insecure", c.insecure);
  o.set("native", c.native);
  o.set("redirect_uris", ToArray(c.redirect_uris));
  o.set("origins", ToArray(c.origins));
  o.set("post_logout_redirect_uris", ToArray(c.post_logout_redirect_uris));
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

Result<Client> FromJson(const std::string& id, const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    Client c;
    c.id = id;
    c.name = o->optValue<std::string>("name", "");
    c.secret_hash = o->optValue<std::string>("secret_hash", "");
    c.trusted = o->optValue<bool>("trusted", false);
    c.insecure = o->optValue<bool>("insecure", false);
    c.native = o->optValue<bool>("native", false);
    c.redirect_uris = FromArray(*o, "redirect_uris");
    c.origins = FromArray(*o, "origins");
    c.post_logout_redirect_uris = FromArray(*o, "post_logout_redirect_uris");
    return c;
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kDataLoss, "client " + id + " registration is damaged: " + e.displayText());
  }
}

}  // namespace

std::string Client::HashSecret(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return sdk::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool Client::SecretMatches(std::string_view secret) const {
  if (secret_hash.empty()) return false;
  std::string presented = HashSecret(secret);
  return presented.size() == secret_hash.size() &&
         CRYPTO_memcmp(presented.data(), secret_hash.data(), presented.size()) == 0;
}

Status ValidateClient(const Client& c) {
  auto bad = [&c](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "client " + c.id + ": " + why, "client " + c.id + ": " + why);
  };
  if (c.id.empty()) return Fail(ErrorCode::kInvalidArgument, "client without id", "a client needs an id");
  if (c.id.size() > 512) return bad("the id is longer than 512 characters");
  for (unsigned char ch : c.id) {
    if (ch < 0x21 || ch == 0x7f) return bad("the id contains spaces or control characters");
  }
  if (c.redirect_uris.empty() && !c.insecure) return bad("needs at least one redirect URI");
  for (const auto& uri : c.redirect_uris) {
    auto u = ParseAbsoluteUrl(uri);
    if (!u) return bad("redirect URI " + uri + " is not an absolute URL");
    if (!u->fragment.empty()) return bad("redirect URI " + uri + " has a fragment");
    if (c.insecure) continue;
    if (c.native) {
      if (u->scheme == "https") return bad("native clients may not use https redirect URIs");
      if (u->scheme == "http" && !IsLocalhost(u->host)) return bad("native http redirect URIs must be on localhost");
    } else {
      if (u->scheme != "https") return bad("redirect URI " + uri + " must use https");
      if (IsLocalhost(u->host)) return bad("redirect URI " + uri + " may not point to localhost");
    }
  }
  for (const auto& uri : c.post_logout_redirect_uris) {
    if (!ParseAbsoluteUrl(uri)) return bad("post-logout redirect URI " + uri + " is not an absolute URL");
  }
  return OkStatus();
}

const Client* ClientTable::Find(std::string_view id) const {
  for (const auto& c : clients_) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

Result<ClientDecision> ClientTable::ForRedirect(std::string_view client_id, std::string_view redirect_uri,
                                                std::string_view issuer) const {
  auto denied = [](std::string why) { return Fail(ErrorCode::kPermissionDenied, why, why); };
  auto target = ParseAbsoluteUrl(redirect_uri);
  if (!target) return denied("The redirect URI is not an absolute URL.");
  auto iss = ParseAbsoluteUrl(issuer);
  bool same_origin = iss && target->scheme == iss->scheme && target->authority == iss->authority;
  ClientDecision d;
  d.id = std::string(client_id);
  d.name = d.id;
  const Client* c = Find(client_id);
  if (c == nullptr) {
    if (!same_origin) return denied("Unknown client " + d.id + ".");
    d.trusted = true;
    return d;
  }
  d.registered = true;
  d.registration = c;
  d.trusted = c->trusted;
  if (!c->name.empty()) d.name = c->name;
  std::string wanted = Reduced(*target);
  for (const auto& uri : c->redirect_uris) {
    auto reg = ParseAbsoluteUrl(uri);
    if (!reg) continue;
    if (Reduced(*reg) == wanted) return d;
    if (c->native && reg->scheme == "http" && IsLocalhost(reg->host) && target->scheme == "http" &&
        target->host == reg->host && (reg->path.empty() || reg->path == target->path)) {
      return d;
    }
  }
  if (c->insecure && c->redirect_uris.empty()) return d;
  return denied("The redirect URI is not registered for client " + d.id + ".");
}

std::vector<sdk::Migration> ClientStore::Migrations() {
  return {{1, "CREATE TABLE oidc_clients (id TEXT PRIMARY KEY, registration TEXT NOT NULL)"}};
}

Result<std::vector<Client>> ClientStore::List() {
  std::vector<Client> out;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id, registration FROM oidc_clients ORDER BY id"));
    for (const auto& r : rows) {
      PALAVER_ASSIGN_OR_RETURN(Client c, FromJson(sdk::SqlText(r[0]), sdk::SqlText(r[1])));
      out.push_back(std::move(c));
    }
    return OkStatus();
  }));
  return out;
}

Status ClientStore::Put(const Client& client) {
  PALAVER_RETURN_IF_ERROR(ValidateClient(client));
  return store_.With([&](sdk::Db& db) {
    return db.Exec("INSERT INTO oidc_clients(id, registration) VALUES(?, ?)"
                   " ON CONFLICT(id) DO UPDATE SET registration = excluded.registration",
                   {client.id, ToJson(client)});
  });
}

Status ClientStore::Remove(std::string_view id) {
  return store_.With([&](sdk::Db& db) -> Status {
    PALAVER_RETURN_IF_ERROR(db.Exec("DELETE FROM oidc_clients WHERE id = ?", {std::string(id)}));
    if (db.Changes() == 0) return Fail(ErrorCode::kNotFound, "no client " + std::string(id), "no such client");
    return OkStatus();
  });
}

Result<YamlImport> ParseKonnectRegistrationYaml(const std::string& text) {
  YamlImport out;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return Fail(ErrorCode::kInvalidArgument, "not a YAML map", "the file is not a konnect registration (no top-level map)");
    YAML::Node clients = root["clients"];
    if (!clients) return out;
    if (!clients.IsSequence()) return Fail(ErrorCode::kInvalidArgument, "clients is not a list", "clients: must be a list");
    size_t index = 0;
    for (const auto& node : clients) {
      ++index;
      // One bad entry is reported and skipped; it never sinks the others.
      Client c;
      try {
        if (!node.IsMap()) throw YAML::Exception(node.Mark(), "a client must be a map of keys");
        auto str = [&node](const char* key) {
          if (!node[key]) return std::string();
          if (!node[key].IsScalar()) throw YAML::Exception(node[key].Mark(), std::string(key) + " must be a string");
          return node[key].as<std::string>();
        };
        auto list = [&node](const char* key) {
          std::vector<std::string> v;
          if (!node[key]) return v;
          if (!node[key].IsSequence()) throw YAML::Exception(node[key].Mark(), std::string(key) + " must be a list");
          for (const auto& item : node[key]) v.push_back(item.as<std::string>());
          return v;
        };
        auto flag = [&node](const char* key) { return node[key] && node[key].as<bool>(); };
        c.id = str("id");
        c.name = str("name");
        if (auto secret = str("secret"); !secret.empty()) c.secret_hash = Client::HashSecret(secret);
        c.trusted = flag("trusted");
        c.insecure = flag("insecure");
        c.native = str("application_type") == "native";
        c.redirect_uris = list("redirect_uris");
        c.origins = list("origins");
        c.post_logout_redirect_uris = list("post_logout_redirect_uris");
      } catch (const YAML::Exception& e) {
        out.skipped.push_back("client #" + std::to_string(index) + (c.id.empty() ? "" : " (" + c.id + ")") + ": " + e.msg);
        continue;
      }
      if (auto st = ValidateClient(c); !st) {
        out.skipped.push_back(st.error().public_message);
        continue;
      }
      out.clients.push_back(std::move(c));
    }
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("YAML: ") + e.what(), std::string("not valid YAML: ") + e.what());
  }
  return out;
}

}  // namespace palaver::oidc
