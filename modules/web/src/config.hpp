// [web] config.
#pragma once

#include <string>

#include "palaver/sdk/config.hpp"
#include "palaver/sdk/install_paths.hpp"

namespace palaver::web {

struct WebConfig {
  std::string root = sdk::kDefaultWebRoot;  // where `cmake --install` puts the web apps
  std::string hsts = "max-age=31536000";
  std::string frame_ancestors = "'self'";  // Meet frames itself (silent renew)
  std::string meet_config_file;
  bool redirect_root = true;
};

/// Parses [web]; problems are recorded on `reader`. Pure.
WebConfig ParseWebConfig(sdk::ConfigReader& reader);

}  // namespace palaver::web
