// palaver::testing::OpenStore: the host's SQLite store behind an SDK-level test helper.
#include "palaver/host/store_factory.hpp"
#include "palaver/testing/store.hpp"

namespace palaver::testing {

Result<std::unique_ptr<sdk::Store>> OpenStore(const std::filesystem::path& path,
                                              std::chrono::milliseconds busy_timeout) {
  return host::OpenSqliteStore(path, busy_timeout);
}

}  // namespace palaver::testing
