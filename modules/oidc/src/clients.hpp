// OAuth clients (spec §1.11): registrations, the same-origin implicit trust konnect gives
// `kpop-https://<host>/...` clients, redirect URI matching, secrets. Sans-I/O, except
// ClientStore (SQLite) and the konnect YAML import (a file).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::oidc {

/// A registered client. Value type.
struct Client {
  std::string id;
  std::string name;
  std::string secret_hash;  // base64url SHA-256 of the secret; empty: a public client (PKCE)
  bool trusted = false;     // skips consent
  bool insecure = false;    // allows http:// and localhost redirect URIs
  bool native = false;      // application_type native
  std::vector<std::string> redirect_uris;
  std::vector<std::string> origins;
  std::vector<std::string> post_logout_redirect_uris;

  /// The hash stored for a secret.
  static std::string HashSecret(std::string_view secret);
  /// Constant-time check of a presented secret (false for public clients).
  bool SecretMatches(std::string_view secret) const;
};

/// Konnect's registration rules: an id; web clients need https redirect URIs that are not
/// localhost (unless insecure); native clients may not use https and use http only on localhost.
Status ValidateClient(const Client& client);

/// Who asked, as the provider treats it.
struct ClientDecision {
  std::string id;
  std::string name;           // display name (the id when unnamed)
  bool registered = false;
  bool trusted = false;
  const Client* registration = nullptr;  // valid while the table lives
};

/// The registered clients. Immutable; shared between threads.
class ClientTable {
 public:
  explicit ClientTable(std::vector<Client> clients) : clients_(std::move(clients)) {}
  const Client* Find(std::string_view id) const;
  const std::vector<Client>& All() const { return clients_; }

  /// The client for an authorization request. A registered client's redirect URI, reduced to
  /// scheme://authority/path, must equal one of its registered ones (for native clients on
  /// localhost the port is ignored). An unregistered client is accepted, and trusted, when its
  /// redirect URI has the issuer's scheme and authority (konnect's implicit trust). Errors are
  /// kPermissionDenied with a message for the user.
  Result<ClientDecision> ForRedirect(std::string_view client_id, std::string_view redirect_uri,
                                     std::string_view issuer) const;

 private:
  std::vector<Client> clients_;
};

/// Registrations in `palaver.db` (table `oidc_clients`). Blocking: workers, Start or commands.
class ClientStore {
 public:
  explicit ClientStore(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();
  Result<std::vector<Client>> List();
  /// Adds or replaces the registration with this id.
  Status Put(const Client& client);
  /// kNotFound when there is none.
  Status Remove(std::string_view id);

 private:
  sdk::Store& store_;
};

/// Parses konnect's `identifier-registration.yaml` (`clients:` list; seed manual §3.2.1). Each
/// entry is validated; invalid ones are returned in `skipped` with the reason. Secrets are hashed.
struct YamlImport {
  std::vector<Client> clients;
  std::vector<std::string> skipped;
};
Result<YamlImport> ParseKonnectRegistrationYaml(const std::string& text);

}  // namespace palaver::oidc
