// [directory] config.
#pragma once

#include <string>

#include "palaver/sdk/config.hpp"

namespace palaver::directory {

struct DirectoryConfig {
  std::string backend = "local";
  bool initial_admin = true;
};

/// Parses [directory]; problems are recorded on `reader`. Pure.
DirectoryConfig ParseDirectoryConfig(sdk::ConfigReader& reader);

}  // namespace palaver::directory
