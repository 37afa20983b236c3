// [directory] config.
#pragma once

#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"

namespace palaver::directory {

struct DirectoryConfig {
  std::string backend = "local";
  bool initial_admin = true;
  /// Scopes an access token needs for /api/gc/v1 (kapi's default for grapi).
  std::vector<std::string> api_required_scopes = {"profile", "email", "kopano/gc"};
  /// The shortest password `palaverd user` and the admin console accept (characters).
  int64_t password_min_length = 10;
};

/// Parses [directory]; problems are recorded on `reader`. Pure.
DirectoryConfig ParseDirectoryConfig(sdk::ConfigReader& reader);

}  // namespace palaver::directory
