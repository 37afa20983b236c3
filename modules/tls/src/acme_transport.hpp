// The AcmeTransport palaverd uses: POCO's HTTPS client, trusting a configured CA file (or the
// system's CAs). Blocking; runs on the worker pool only.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "acme_client.hpp"

namespace palaver::tls {

// `ca_file` empty: the system's trusted CAs. Every request opens its own connection (an ACME
// client makes a handful per day). Thread: one thread at a time.
std::unique_ptr<AcmeTransport> MakePocoAcmeTransport(const std::filesystem::path& ca_file,
                                                     std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace palaver::tls
