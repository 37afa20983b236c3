#include "config.hpp"

namespace palaver::directory {

DirectoryConfig ParseDirectoryConfig(sdk::ConfigReader& r) {
  DirectoryConfig c;
  // "ldap" arrives with the LDAP issue; until then only the embedded store exists.
  c.backend = r.Enum("backend", "local", {"local"});
  c.initial_admin = r.Bool("initial_admin", true);
  c.api_required_scopes = r.List("api_required_scopes", c.api_required_scopes);
  c.password_min_length = r.Int("password_min_length", c.password_min_length, 1, 128);
  return c;
}

}  // namespace palaver::directory
