// The outbound LDAP client the LDAP backend talks through: an interface (so the directory logic
// is tested with a fake) and the libldap implementation with a connection pool.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::directory {

/// One entry of a search result. Attribute names are lowercased (LDAP names are
/// case-insensitive); values are raw bytes.
struct LdapEntry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;
  /// The first value of `name` (any case), or "".
  const std::string& First(std::string_view name) const;
  const std::vector<std::string>* All(std::string_view name) const;
};

struct LdapSearch {
  std::string base;
  bool subtree = true;  // false: one level; base scope with `base_object`
  bool base_object = false;
  std::string filter;
  std::vector<std::string> attrs;  // empty: no attributes ("1.1")
  size_t limit = 0;                // stop after this many entries (0: max_entries)
  bool paged = true;               // Simple Paged Results (RFC 2696)
};

/// Errors: kUnavailable when no server answered (connect, TLS, service bind, timeout, server
/// down), kUnauthenticated for a rejected password, kInvalidArgument for a filter or base the
/// server refused, kInternal otherwise. Thread-safe; every call blocks (workers only).
class LdapClient {
 public:
  virtual ~LdapClient() = default;
  virtual Result<std::vector<LdapEntry>> Search(const LdapSearch& search) = 0;
  /// A simple bind as `dn` with `password`. REQUIRES: password not empty (an empty password is
  /// an unauthenticated bind, which servers accept for any DN).
  virtual Status CheckPassword(const std::string& dn, std::string_view password) = 0;
};

/// libldap (OpenLDAP's client library) with a pool of up to `pool_size` connections, each bound
/// as the service account. URIs are tried in order, starting with the last one that worked.
/// A connection that fails with a server-down or timeout error is dropped (a later call
/// reconnects), so the client recovers by itself when the server comes back. Thread-safe.
class LibLdapClient final : public LdapClient {
 public:
  /// `bind_password` is the service account's password (empty for anonymous service access).
  LibLdapClient(LdapConfig config, std::string bind_password);
  ~LibLdapClient() override;
  LibLdapClient(const LibLdapClient&) = delete;
  LibLdapClient& operator=(const LibLdapClient&) = delete;

  Result<std::vector<LdapEntry>> Search(const LdapSearch& search) override;
  Status CheckPassword(const std::string& dn, std::string_view password) override;

 private:
  struct Conn;
  Result<std::unique_ptr<Conn>> Acquire();
  void Release(std::unique_ptr<Conn> conn, bool healthy);
  Result<std::unique_ptr<Conn>> Connect();
  Result<std::unique_ptr<Conn>> ConnectTo(const std::string& uri);
  Status BindService(Conn& conn);

  const LdapConfig config_;
  const std::string bind_password_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_ PALAVER_GUARDED_BY(mu_);
  int open_ PALAVER_GUARDED_BY(mu_) = 0;
  size_t preferred_uri_ PALAVER_GUARDED_BY(mu_) = 0;
};

/// The service account's password: the first line of `path` (no trailing newline).
Result<std::string> ReadBindPassword(const std::string& path);

}  // namespace palaver::directory
