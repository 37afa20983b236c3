// The address book API (`/api/gc/v1`, kapi/grapi-compatible, spec §2): query parsing and the
// Microsoft-Graph-shaped JSON. Sans-I/O; the module wires it to routes and workers.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/services/user_directory.hpp"

namespace palaver::directory {

inline constexpr const char* kGcPrefix = "/api/gc/v1/";

/// `$top` (default 10, 1-1000), `$skip` (0-1000000), `$search` (at most 256 bytes), `$select`.
struct ListQuery {
  size_t top = 10;
  size_t skip = 0;
  std::string search;
  std::set<std::string> select;  // empty: every field
};
Result<ListQuery> ParseListQuery(const sdk::Request& request);

/// One user object: id, displayName, givenName, surname, mail, userPrincipalName, jobTitle,
/// mobilePhone, officeLocation, businessPhones — restricted to `select` (plus id) when given.
std::string UserJson(const sdk::DirectoryUser& user, const std::set<std::string>& select);
/// `{"@odata.context": "/api/gc/v1/users", "value": [...]}` plus `@odata.nextLink` when more.
std::string UserListJson(const sdk::UserPage& page, const ListQuery& query);

/// What a path below the prefix asks for.
struct GcTarget {
  enum class Kind { kMe, kUsers, kUser, kUserPhoto, kUnknown } kind = Kind::kUnknown;
  std::string id;
};
GcTarget ParseGcPath(const std::string& path);

}  // namespace palaver::directory
